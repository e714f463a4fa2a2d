//! Any frame on any supported link type through the packet decoder.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poolscope::decode::{linktype, Decoder};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let lt = [
        linktype::ETHERNET,
        linktype::RAW,
        linktype::NULL,
        linktype::LOOP,
        linktype::LINUX_SLL,
        linktype::LINUX_SLL2,
        linktype::PPP,
        linktype::IPV6,
    ][sel as usize % 8];
    let mut d = Decoder::new();
    // Twice, so a fragment held by the first call can complete in the second.
    let _ = d.decode(lt, frame, 0);
    let _ = d.decode(lt, frame, 1);
});
