//! Capture readers: the first stage of the pipeline. A pcap or pcapng file (or stdin) becomes a
//! stream of [`RawPacket`]s with a timestamp, a link type and the captured bytes, read in
//! bounded memory whatever the file size. Damage is reported with the byte offset where it was
//! found; a capture cut short at the end still yields every complete record before the cut.

mod pcap;

pub use pcap::{read_capture, CaptureEnd};

/// Nanoseconds since the Unix epoch.
pub type TimestampNs = u64;

/// One captured frame, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Capture timestamp, nanoseconds since the epoch.
    pub ts: TimestampNs,
    /// Link-layer type of the interface that captured it (pcap LINKTYPE_* value).
    pub linktype: u16,
    /// The captured bytes (may be shorter than the frame on the wire).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub wire_len: u32,
    /// Byte offset of the record in the file, for messages.
    pub offset: u64,
}
