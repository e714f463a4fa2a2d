//! pcap and pcapng reading on top of `pcap-parser`'s streaming readers.
//!
//! Both byte orders, microsecond and nanosecond pcap, and pcapng with several interfaces (each
//! with its own link type, timestamp resolution and offset) are handled. The reader keeps one
//! buffer that grows only to hold the largest record seen, up to a hard limit.

use super::{RawPacket, TimestampNs};
use crate::error::{Error, Result};
use pcap_parser::pcapng::Block;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};
use std::io::Read;

/// Initial read buffer; records larger than this make it grow.
const BUFFER_SIZE: usize = 1 << 20;
/// No sane record is larger than this: a length above it means the file is damaged.
const MAX_BUFFER_SIZE: usize = 64 << 20;

/// How a capture ended when it did not end cleanly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureEnd {
    /// Every record was read.
    Complete,
    /// The file stops inside a record: everything before `offset` was read.
    Truncated {
        /// Byte offset of the incomplete record.
        offset: u64,
    },
    /// A record is damaged and the format cannot resynchronise: reading stopped at `offset`.
    Corrupt {
        /// Byte offset of the damaged record.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
}

/// Per-interface facts a pcapng packet needs to be interpreted.
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u16,
    /// Units per second of the timestamps.
    resolution: u64,
    /// Seconds added to every timestamp.
    offset_s: i64,
}

/// A reader whose first read returns as many bytes as asked for (or all there are), however the
/// source hands them out; later reads pass through.
struct FillFirst<R> {
    inner: R,
    filled: bool,
}

impl<R: Read> Read for FillFirst<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.filled {
            return self.inner.read(buf);
        }
        self.filled = true;
        let mut n = 0;
        while n < buf.len() {
            match self.inner.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) if n > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
}

/// Reads a whole capture, calling `visit` for every packet in file order.
///
/// `label` names the input in errors. Returns how the capture ended; an `Err` means nothing
/// could be read at all (not a capture, or unreadable). Packet blocks of unknown interfaces
/// and non-packet blocks are skipped; `skipped_blocks` counts the former.
pub fn read_capture<R: Read + Send>(
    label: &str,
    input: R,
    skipped_blocks: &mut u64,
    visit: &mut dyn FnMut(&RawPacket<'_>),
) -> Result<CaptureEnd> {
    // The reader looks for the file header in what its first read returns; a pipe or a slow
    // source may return less than a header, so that read is filled.
    let input = FillFirst {
        inner: input,
        filled: false,
    };
    let mut reader = match create_reader(BUFFER_SIZE, input) {
        Ok(r) => r,
        Err(e) => {
            let reason = match e {
                PcapError::Eof => "the file is empty".to_string(),
                PcapError::ReadError => {
                    return Err(Error::Io {
                        path: label.to_string(),
                        source: std::io::Error::other("read failed"),
                    })
                }
                PcapError::Incomplete(_) => "the file is shorter than a capture header".to_string(),
                PcapError::HeaderNotRecognized => "unknown file header".to_string(),
                other => format!("{other:?}"),
            };
            return Err(Error::NotCapture {
                path: label.to_string(),
                reason,
            });
        }
    };
    let mut offset: u64 = 0;
    let mut legacy_linktype: u16 = 1;
    let mut legacy_nanos = false;
    // (big endian, snap length) of a legacy pcap, to tell a cut file from a damaged record.
    let mut legacy: Option<(bool, u32)> = None;
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut buffer_size = BUFFER_SIZE;
    loop {
        match reader.next() {
            Ok((size, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_linktype = h.network.0 as u16;
                        legacy_nanos = h.is_nanosecond_precision();
                        legacy = Some((h.is_bigendian(), h.snaplen));
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let frac = if legacy_nanos {
                            b.ts_usec as u64
                        } else {
                            b.ts_usec as u64 * 1_000
                        };
                        let ts = b.ts_sec as u64 * 1_000_000_000 + frac;
                        let caplen = (b.caplen as usize).min(b.data.len());
                        visit(&RawPacket {
                            ts,
                            linktype: legacy_linktype,
                            data: &b.data[..caplen],
                            wire_len: b.origlen.max(b.caplen),
                            offset,
                        });
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push(Interface {
                            linktype: idb.linktype.0 as u16,
                            resolution: idb.ts_resolution().unwrap_or(1_000_000),
                            offset_s: idb.ts_offset(),
                        });
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        match interfaces.get(epb.if_id as usize) {
                            Some(ifc) => {
                                let raw = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                                let ts = ng_timestamp(raw, ifc);
                                let caplen = (epb.caplen as usize).min(epb.data.len());
                                visit(&RawPacket {
                                    ts,
                                    linktype: ifc.linktype,
                                    data: &epb.data[..caplen],
                                    wire_len: epb.origlen.max(epb.caplen),
                                    offset,
                                });
                            }
                            None => *skipped_blocks += 1,
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => match interfaces.first() {
                        // Simple packets carry no timestamp: they get 0, and flow timing
                        // derived from them is meaningless, which is why they are rare.
                        Some(ifc) => visit(&RawPacket {
                            ts: 0,
                            linktype: ifc.linktype,
                            data: spb.data,
                            wire_len: spb.origlen.max(spb.data.len() as u32),
                            offset,
                        }),
                        None => *skipped_blocks += 1,
                    },
                    PcapBlockOwned::NG(_) => {}
                }
                offset += size as u64;
                reader.consume(size);
            }
            Err(PcapError::Eof) => return Ok(CaptureEnd::Complete),
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    return Err(Error::Io {
                        path: label.to_string(),
                        source: std::io::Error::other(format!(
                            "read failed at byte offset {offset}"
                        )),
                    });
                }
            }
            Err(PcapError::UnexpectedEof) => {
                // A record that claims more bytes than any capture holds is damage, not a cut.
                return Ok(match implausible_record(reader.data(), legacy) {
                    Some(reason) => CaptureEnd::Corrupt { offset, reason },
                    None => CaptureEnd::Truncated { offset },
                });
            }
            Err(PcapError::BufferTooSmall) => {
                if let Some(reason) = implausible_record(reader.data(), legacy) {
                    return Ok(CaptureEnd::Corrupt { offset, reason });
                }
                // Grow only for a record the file can still deliver: while the buffer is not
                // full, read more first; if nothing more comes, the file ends inside the record.
                let held = reader.data().len();
                if held < buffer_size {
                    if reader.refill().is_ok() && reader.data().len() > held {
                        continue;
                    }
                    return Ok(CaptureEnd::Truncated { offset });
                }
                if buffer_size >= MAX_BUFFER_SIZE || !reader.grow(buffer_size * 2) {
                    return Ok(CaptureEnd::Corrupt {
                        offset,
                        reason: format!("record longer than {} bytes", MAX_BUFFER_SIZE),
                    });
                }
                buffer_size *= 2;
            }
            Err(PcapError::ReadError) => {
                return Err(Error::Io {
                    path: label.to_string(),
                    source: std::io::Error::other(format!("read failed at byte offset {offset}")),
                })
            }
            Err(e) => {
                return Ok(CaptureEnd::Corrupt {
                    offset,
                    reason: describe(&e),
                })
            }
        }
    }
}

/// Largest captured length a legacy pcap record may claim beyond its file's snap length
/// (snap lengths of 0 or absurd values exist in the wild; 256 KiB covers every link type).
const MAX_PLAUSIBLE_CAPLEN: u32 = 256 * 1024;

/// Why the record at the start of `data` cannot be a real one, if it cannot.
fn implausible_record(data: &[u8], legacy: Option<(bool, u32)>) -> Option<String> {
    let word = |at: usize, big: bool| -> Option<u32> {
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    match legacy {
        Some((big, snaplen)) => {
            let caplen = word(8, big)?;
            let limit = snaplen.max(MAX_PLAUSIBLE_CAPLEN);
            (caplen > limit).then(|| {
                format!(
                    "record claims {caplen} captured bytes, more than the snap length {snaplen}"
                )
            })
        }
        None => {
            // pcapng: block total length at offset 4, in the section's byte order; try both.
            let le = word(4, false)?;
            let be = word(4, true)?;
            let len = le.min(be);
            (len < 12 || len % 4 != 0 || len as usize > MAX_BUFFER_SIZE)
                .then(|| format!("block claims a length of {len} bytes"))
        }
    }
}

/// Converts a pcapng raw timestamp into nanoseconds using the interface's resolution.
fn ng_timestamp(raw: u64, ifc: &Interface) -> TimestampNs {
    let res = ifc.resolution.max(1);
    let secs = raw / res;
    let frac = raw % res;
    let nanos = (frac as u128 * 1_000_000_000u128 / res as u128) as u64;
    let secs = (secs as i64).saturating_add(ifc.offset_s).max(0) as u64;
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) => format!("unparsable record ({kind:?})"),
        PcapError::OwnedNomError(_, kind) => format!("unparsable record ({kind:?})"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that hands out one byte a read (a slow pipe) gives the packets a file gives.
    #[test]
    fn a_capture_read_a_byte_at_a_time_reads_alike() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pcap/zug.pcap");
        let bytes = std::fs::read(path).unwrap();
        let read = |input: Box<dyn Read + Send + '_>| {
            let mut out = Vec::new();
            let mut skipped = 0;
            let end = read_capture("zug.pcap", input, &mut skipped, &mut |p| {
                out.push((p.ts, p.data.to_vec()))
            })
            .unwrap();
            (out, format!("{end:?}"))
        };
        let whole = read(Box::new(std::io::Cursor::new(&bytes[..])));
        assert!(!whole.0.is_empty());
        assert_eq!(whole, read(Box::new(Trickle(&bytes))));
    }
}
