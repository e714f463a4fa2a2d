//! Feeds any bytes as a capture file, to the pcap/pcapng reader and through the whole
//! extraction pipeline (reader, decoder, flow table, reassembly, dissectors, features).
//!
//! Checks on the reader:
//! * records come in file order at offsets inside the file, each frame within the file and
//!   no longer than its length on the wire;
//! * a cut or damaged capture is reported at an offset inside the file, after every record
//!   read; an error means no record was read;
//! * reading through a reader that returns the bytes in small, input-chosen pieces gives the
//!   same records, the same end and the same count of skipped blocks.
//!
//! Checks on the pipeline:
//! * it ends as the reader does, and its counters add up: frames and captured bytes are the
//!   reader's, packets reaching the flow table are no more than the frames less the decoder's
//!   skips, every flow created is written exactly once with a distinct id (the number of a
//!   frame of the file), TCP plus UDP flows make all flows, and the packets of all flow
//!   records add up to the packets counted;
//! * every record's times are ordered and its duration is their difference;
//! * a second run over the same bytes, with three worker threads, gives the same records in
//!   the same order and the same summary.
//!
//! `fuzz/regressions/capture/` keeps the input that found `read_capture` judging the file type
//! on a first `read` shorter than the header (as a pipe may return); that read is now filled.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolscope::capture::{read_capture, CaptureEnd};
use poolscope::extract::{ExtractConfig, Extractor};
use std::io::Read;

/// A reader that hands out its bytes in pieces of the sizes given, cycling through them.
struct Pieces<'a> {
    data: &'a [u8],
    sizes: &'a [u8],
    at: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = match self.sizes.get(self.at % self.sizes.len().max(1)) {
            Some(&s) => usize::from(s) + 1,
            None => 7,
        };
        self.at += 1;
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What a read of the capture yields: per record (offset, ts, linktype, bytes, wire length),
/// how it ended, and the skipped-block count.
type Reading = (Vec<(u64, u64, u16, Vec<u8>, u32)>, String, u64);

fn read_all<R: Read + Send>(input: R, file_len: usize) -> Reading {
    let mut records: Vec<(u64, u64, u16, Vec<u8>, u32)> = Vec::new();
    let mut skipped = 0;
    let end = read_capture("fuzz", input, &mut skipped, &mut |p| {
        assert!((p.offset as usize) < file_len, "record at offset {} of {file_len}", p.offset);
        assert!(p.data.len() <= file_len, "frame longer than the file");
        assert!(
            p.offset as usize + p.data.len() <= file_len,
            "frame at {} runs past the end of the file",
            p.offset
        );
        assert!(p.wire_len as usize >= p.data.len(), "captured more than the wire length");
        if let Some((last, ..)) = records.last() {
            assert!(p.offset > *last, "record offsets out of order");
        }
        records.push((p.offset, p.ts, p.linktype, p.data.to_vec(), p.wire_len));
    });
    let last = records.last().map(|r| r.0);
    let end = match end {
        Err(e) => {
            assert!(records.is_empty(), "an error after {} records: {e}", records.len());
            format!("error {e}")
        }
        Ok(CaptureEnd::Complete) => format!("{:?}", CaptureEnd::Complete),
        Ok(e) => {
            let (CaptureEnd::Truncated { offset } | CaptureEnd::Corrupt { offset, .. }) = &e else {
                unreachable!("Complete is matched above")
            };
            let offset = *offset;
            assert!(offset as usize <= file_len, "damage at {offset} of {file_len}");
            if let Some(last) = last {
                assert!(offset > last, "damage at {offset} before record {last}");
            }
            format!("{e:?}")
        }
    };
    (records, end, skipped)
}

fuzz_target!(|data: &[u8]| {
    // The last few bytes pick the piece sizes of the second read; the whole input is the file.
    let sizes = &data[data.len().saturating_sub(4)..];
    let whole = read_all(std::io::Cursor::new(data), data.len());
    let pieces = read_all(
        Pieces {
            data,
            sizes,
            at: 0,
        },
        data.len(),
    );
    assert!(whole == pieces, "reading in pieces differs: {:?} vs {:?}", whole.1, pieces.1);

    let run = |threads: usize| {
        let mut ex = Extractor::new(ExtractConfig {
            threads,
            ..ExtractConfig::default()
        });
        let mut records = Vec::new();
        let end = ex.process(
            "fuzz",
            std::io::Cursor::new(data),
            &mut |rec| {
                records.push(rec);
                Ok(())
            },
            &mut |_| {},
        );
        (ex, records, end)
    };
    let (ex, records, end) = run(1);
    let s = &ex.summary;
    match &end {
        Err(_) => assert!(whole.1.starts_with("error"), "pipeline failed, reader did not"),
        Ok(e) => assert_eq!(format!("{e:?}"), whole.1, "pipeline and reader end differently"),
    }
    if end.is_err() {
        return;
    }
    assert_eq!(s.frames, whole.0.len() as u64, "frames");
    let bytes: u64 = whole.0.iter().map(|r| r.3.len() as u64).sum();
    assert_eq!(s.captured_bytes, bytes, "captured bytes");
    assert_eq!(s.unknown_interface_blocks, whole.2);
    let d = &s.decode;
    let skips = d.unsupported_link
        + d.non_ip
        + d.other_transport
        + d.truncated
        + d.malformed
        + d.fragments_dropped
        + d.unsupported_tunnel;
    assert!(s.packets + skips <= s.frames, "{} packets and {skips} skips of {} frames", s.packets, s.frames);
    assert_eq!(s.flows, records.len() as u64, "flows written");
    assert_eq!(s.flows, s.tcp_flows + s.udp_flows);
    assert_eq!(s.table.created, s.flows, "flows created but not written");
    let mut ids: Vec<u64> = records.iter().map(|r| r.flow_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), records.len(), "flow ids repeat");
    assert!(
        ids.iter().all(|&id| id >= 1 && id <= s.frames),
        "flow ids are not frame numbers: {ids:?}"
    );
    let packets: u64 = records.iter().map(|r| r.packets_c2s + r.packets_s2c).sum();
    assert_eq!(packets, s.packets, "packets of the records do not add up");
    for r in &records {
        assert!(r.first_seen <= r.last_seen, "flow {} ends before it starts", r.flow_id);
        assert_eq!(r.duration, r.last_seen - r.first_seen);
        assert!(r.packets_c2s + r.packets_s2c >= 1, "flow {} without packets", r.flow_id);
    }
    let (ex2, records2, _) = run(3);
    assert_eq!(format!("{records:?}"), format!("{records2:?}"), "a run on three threads differs");
    assert_eq!(format!("{:?}", ex.summary), format!("{:?}", ex2.summary));
});
