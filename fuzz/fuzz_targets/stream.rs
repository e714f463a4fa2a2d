//! Feeds any bytes as one Kafka message to the stream decoders: goflow2's protobuf
//! `FlowMessage` and JSON flow rows.
//!
//! Checks: no panic; a goflow2 record never ends before it starts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolscope::stream::{decode_goflow2, decode_ndjson};

fuzz_target!(|data: &[u8]| {
    if let Ok(recs) = decode_goflow2(data) {
        for r in &recs {
            assert!(r.last >= r.first, "ends before it starts: {r:?}");
        }
    }
    let _ = decode_ndjson(data);
});
