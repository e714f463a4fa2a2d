//! Any bytes as a capture file, through the whole extraction pipeline: reader, decoder, flow
//! table, reassembly and features must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poolscope::extract::{ExtractConfig, Extractor};

fuzz_target!(|data: &[u8]| {
    let mut ex = Extractor::new(ExtractConfig::default());
    let _ = ex.process(
        "fuzz",
        std::io::Cursor::new(data.to_vec()),
        &mut |_rec| Ok(()),
        &mut |_| {},
    );
});
