//! Flow exports as input: NetFlow v5/v9 and IPFIX (in a capture of the collector's traffic or
//! as raw datagram dumps), nfdump CSV, and any CSV or Parquet flow table with a column map.
//!
//! Everything becomes [`ExportRecord`]s (one direction of one flow as an exporter saw it);
//! the [`conversation::Stitcher`] pairs the two directions and stitches the pieces that active
//! timeouts cut, and each conversation becomes a [`FlowRecord`] shaped like those of packet
//! captures, carrying the flow-only feature vector of [`crate::features::netflow`] (`netflow-v2`) as its model
//! row. Exports have no payload, so the TLS, DNS and Stratum columns stay empty and the
//! packet-capture features are NaN; matching against the feeds works on addresses and ports as
//! for captures. Nothing in a damaged or unsupported export stops a run: it is counted in
//! [`NetflowSummary`] with a reason.

pub mod conversation;
pub mod cuts;
pub mod export;
pub mod table;

pub use crate::features::netflow::{
    conversation_from_flow_record, netflow_features, NETFLOW_FEATURES, NETFLOW_SCHEMA,
};
pub use conversation::{Conversation, StitchConfig, Stitcher};
pub use export::{is_flow_export_pcap, NetflowDecoder};
pub use table::{parse_map, ColumnMap};

use crate::dissect::tls::TlsInfo;
use crate::error::Error;
use crate::features::FEATURES;
use crate::output::FlowRecord;
use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Counters of the reverse direction carried in a bidirectional record (RFC 5103 reverse
/// elements, or responder counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReverseCounters {
    /// Packets destination → source.
    pub packets: u64,
    /// IP bytes destination → source.
    pub bytes: u64,
    /// TCP flags destination → source.
    pub tcp_flags: u8,
}

/// One flow record as an exporter reported it, normalised across versions and tables.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRecord {
    /// Address the export came from (unspecified for `.dat` dumps and tables).
    pub exporter: IpAddr,
    /// Observation domain (IPFIX), source id (v9), engine type·id (v5).
    pub domain: u32,
    /// 5, 9, 10; 0 for flow tables.
    pub version: u16,
    /// Start, epoch seconds.
    pub first: f64,
    /// End, epoch seconds.
    pub last: f64,
    /// Source address.
    pub src_ip: IpAddr,
    /// Destination address.
    pub dst_ip: IpAddr,
    /// Source port (0 when the protocol has none).
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IP protocol number.
    pub protocol: u8,
    /// Packets source → destination.
    pub packets: u64,
    /// IP bytes (octets) source → destination.
    pub bytes: u64,
    /// OR of the TCP flags.
    pub tcp_flags: u8,
    /// The reverse direction, when the record is bidirectional.
    pub reverse: Option<ReverseCounters>,
}

/// What an input is, by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// pcap/pcapng of a collector's UDP traffic carrying export datagrams.
    ExportPcap,
    /// Export datagrams back to back, no headers (`.dat`).
    RawExport,
    /// `nfdump -o csv` output.
    NfdumpCsv,
    /// Another CSV flow table (needs a column map unless it uses the canonical names).
    Csv,
    /// A Parquet flow table.
    Parquet,
}

/// Decides what an input is from its first bytes: pcap magic (then whether it carries export
/// traffic: [`is_flow_export_pcap`]), Parquet magic `PAR1`, a CSV header, or an export
/// datagram header. An ordinary packet capture is refused with a usage error.
pub fn detect(path: &Path) -> Result<InputFormat, Error> {
    let label = path.display().to_string();
    let mut head = [0u8; 4096];
    let n = {
        let mut f = std::fs::File::open(path).map_err(|source| Error::Io {
            path: label.clone(),
            source,
        })?;
        let mut n = 0;
        loop {
            match f.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => {
                    n += k;
                    if n == head.len() {
                        break;
                    }
                }
                Err(source) => {
                    return Err(Error::Io {
                        path: label.clone(),
                        source,
                    })
                }
            }
        }
        n
    };
    let head = &head[..n];
    let pcap_magic: [[u8; 4]; 5] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
        [0x0a, 0x0d, 0x0d, 0x0a],
    ];
    if head.len() >= 4 && pcap_magic.iter().any(|m| head[..4] == *m) {
        return if is_flow_export_pcap(path)? {
            Ok(InputFormat::ExportPcap)
        } else {
            Err(Error::Unusable {
                path: label,
                reason: "a packet capture without NetFlow/IPFIX export traffic; read it with \
                         `poolscope extract`"
                    .into(),
            })
        };
    }
    if head.starts_with(b"PAR1") {
        return Ok(InputFormat::Parquet);
    }
    if head.len() >= 4 && export::datagram_len(head).is_ok() {
        let version = u16::from_be_bytes([head[0], head[1]]);
        if matches!(version, 5 | 9 | 10) {
            return Ok(InputFormat::RawExport);
        }
    }
    let text = String::from_utf8_lossy(head);
    let first = text.lines().next().unwrap_or("");
    if first.starts_with("ts,te,td,sa,da") {
        return Ok(InputFormat::NfdumpCsv);
    }
    let printable = first
        .chars()
        .all(|c| !c.is_control() || c == '\t' || c == '\r');
    if !first.is_empty() && printable && [',', '\t', ';'].iter().any(|&s| first.contains(s)) {
        return Ok(InputFormat::Csv);
    }
    Err(Error::NotCapture {
        path: label,
        reason: "neither a capture, an export dump, CSV nor Parquet".into(),
    })
}

/// How flow exports are read.
#[derive(Debug, Clone, PartialEq)]
pub struct NetflowOptions {
    /// The input format; detected from the content when None.
    pub format: Option<InputFormat>,
    /// Table columns (for CSV and Parquet); for nfdump CSV it overrides the built-in names.
    pub map: ColumnMap,
    /// Seconds within which a reverse-direction record is paired with a conversation's start.
    pub pair_window: f64,
    /// Largest silence, in seconds, between records stitched into one conversation.
    pub stitch_gap: f64,
    /// Most conversations kept open at once.
    pub max_open: usize,
}

impl Default for NetflowOptions {
    fn default() -> Self {
        let s = StitchConfig::default();
        NetflowOptions {
            format: None,
            map: ColumnMap::default(),
            pair_window: s.pair_window,
            stitch_gap: s.stitch_gap,
            max_open: s.max_open,
        }
    }
}

/// Most distinct messages a summary keeps (the counters keep counting).
const MAX_MESSAGES: usize = 20;

/// What reading flow exports found and skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetflowSummary {
    /// Export datagrams seen.
    pub datagrams: u64,
    /// Frames in export captures that were not UDP (or not decodable).
    pub frames_skipped: u64,
    /// Data records by version.
    pub records_v5: u64,
    /// NetFlow v9 data records.
    pub records_v9: u64,
    /// IPFIX data records.
    pub records_ipfix: u64,
    /// Templates and options templates received.
    pub templates: u64,
    /// Options data records (exporter metadata, no flows).
    pub options_records: u64,
    /// Data sets that arrived before their template (held until it comes).
    pub pending_sets: u64,
    /// Held data sets decoded when their template came.
    pub pending_resolved: u64,
    /// Data records without addresses (not flows).
    pub without_addresses: u64,
    /// Unsupported or damaged content, by reason.
    pub unsupported: BTreeMap<String, u64>,
    /// Table rows read.
    pub rows: u64,
    /// Table rows that did not parse.
    pub rows_skipped: u64,
    /// nfdump summary lines after the table.
    pub trailer_lines: u64,
    /// Records (decoded or read) fed to the stitcher.
    pub records: u64,
    /// Records of protocols other than TCP and UDP (not written: records are TCP or UDP).
    pub other_protocols: u64,
    /// Conversations written.
    pub conversations: u64,
    /// Conversations made of more than one record in a direction.
    pub stitched: u64,
    /// Conversations whose two directions came as separate records.
    pub paired: u64,
    /// Conversations flushed early because too many were open.
    pub evicted: u64,
    /// The first few messages (file, offset or line, reason).
    pub messages: Vec<String>,
}

impl NetflowSummary {
    /// Counts one unsupported thing under `reason`.
    pub fn unsupported(&mut self, reason: String) {
        *self.unsupported.entry(reason).or_insert(0) += 1;
    }

    /// Keeps a message, up to a small number.
    pub fn note(&mut self, msg: String) {
        if self.messages.len() < MAX_MESSAGES {
            self.messages.push(msg);
        }
    }

    /// Data records decoded from export datagrams, all versions.
    pub fn decoded_records(&self) -> u64 {
        self.records_v5 + self.records_v9 + self.records_ipfix
    }

    /// A few human lines.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if self.datagrams > 0 {
            s += &format!(
                "export datagrams: {} (records v5 {}, v9 {}, IPFIX {}; templates {}, options \
                 records {}, data sets before their template {} ({} decoded when it came), records \
                 without addresses {})\n",
                self.datagrams,
                self.records_v5,
                self.records_v9,
                self.records_ipfix,
                self.templates,
                self.options_records,
                self.pending_sets,
                self.pending_resolved,
                self.without_addresses
            );
        }
        if self.rows > 0 {
            s += &format!(
                "table rows: {} ({} skipped)\n",
                self.rows, self.rows_skipped
            );
        }
        s += &format!(
            "records: {} ({} not TCP/UDP); conversations: {} ({} stitched, {} paired, {} flushed early)\n",
            self.records,
            self.other_protocols,
            self.conversations,
            self.stitched,
            self.paired,
            self.evicted
        );
        for (reason, n) in &self.unsupported {
            s += &format!("unsupported: {reason} ({n}×)\n");
        }
        for m in &self.messages {
            s += &format!("note: {m}\n");
        }
        s
    }
}

/// Reads one flow-export input and writes one [`FlowRecord`] per conversation to `sink`.
pub fn read_flow_export(
    path: &Path,
    opts: &NetflowOptions,
    sink: &mut dyn FnMut(FlowRecord) -> crate::error::Result<()>,
) -> crate::error::Result<NetflowSummary> {
    read_flow_exports(&[path.to_path_buf()], opts, sink)
}

/// Reads several inputs as one export stream: one template cache (templates in one file serve
/// the data of the next) and one conversation table.
pub fn read_flow_exports(
    paths: &[PathBuf],
    opts: &NetflowOptions,
    sink: &mut dyn FnMut(FlowRecord) -> crate::error::Result<()>,
) -> crate::error::Result<NetflowSummary> {
    let mut decoder = NetflowDecoder::new();
    let mut pipe = Pipeline {
        stitcher: Stitcher::new(StitchConfig {
            pair_window: opts.pair_window,
            stitch_gap: opts.stitch_gap,
            max_open: opts.max_open.max(1),
            ..StitchConfig::default()
        }),
        writer: ConversationWriter {
            next_id: 1,
            capture: Arc::from(""),
            err: None,
            sink,
        },
        records: 0,
        other: 0,
        failed: None,
    };
    let mut table_summary = NetflowSummary::default();
    for path in paths {
        let format = match opts.format {
            Some(f) => f,
            None => detect(path)?,
        };
        // The path as given, like a capture's: labels and `--benign`/`--mining` refer to it.
        pipe.writer.capture = Arc::from(path.display().to_string());
        match format {
            InputFormat::ExportPcap | InputFormat::RawExport => {
                let mut on_record = |r: ExportRecord| {
                    if pipe.failed.is_none() {
                        if let Err(e) = pipe.feed(r) {
                            pipe.failed = Some(e);
                        }
                    }
                };
                if format == InputFormat::ExportPcap {
                    decoder.decode_pcap(path, &mut on_record)?;
                } else {
                    decoder.decode_dat(path, export::unknown_exporter(), &mut on_record)?;
                }
                if let Some(e) = pipe.failed.take() {
                    return Err(e);
                }
            }
            InputFormat::NfdumpCsv | InputFormat::Csv => {
                let map = if format == InputFormat::NfdumpCsv {
                    ColumnMap::nfdump().overlay(&opts.map)
                } else {
                    opts.map.clone()
                };
                table::read_csv(path, &map, &mut table_summary, &mut |r| pipe.feed(r))?;
            }
            InputFormat::Parquet => {
                table::read_parquet(path, &opts.map, &mut table_summary, &mut |r| pipe.feed(r))?;
            }
        }
    }
    let Pipeline {
        mut stitcher,
        mut writer,
        records,
        other,
        failed: _,
    } = pipe;
    stitcher.flush(&mut |c| writer.write(c));
    writer.check()?;
    let mut s = decoder.summary;
    s.rows = table_summary.rows;
    s.rows_skipped = table_summary.rows_skipped;
    s.trailer_lines = table_summary.trailer_lines;
    for m in table_summary.messages {
        s.note(m);
    }
    s.records = records;
    s.other_protocols = other;
    s.conversations = stitcher.stats.conversations;
    s.stitched = stitcher.stats.stitched;
    s.paired = stitcher.stats.paired;
    s.evicted = stitcher.stats.evicted;
    Ok(s)
}

/// Records in, conversations out to the sink.
struct Pipeline<'a> {
    stitcher: Stitcher,
    writer: ConversationWriter<'a>,
    records: u64,
    other: u64,
    /// The sink's first error, when it came from inside a decoder callback.
    failed: Option<Error>,
}

impl Pipeline<'_> {
    fn feed(&mut self, r: ExportRecord) -> crate::error::Result<()> {
        self.records += 1;
        if r.protocol != 6 && r.protocol != 17 {
            self.other += 1;
            return Ok(());
        }
        let writer = &mut self.writer;
        self.stitcher.push(&r, &mut |c| writer.write(c));
        self.writer.check()
    }
}

/// Turns finished conversations into records for the sink, remembering the sink's first
/// error (the stitcher's callback cannot return one).
struct ConversationWriter<'a> {
    next_id: u64,
    capture: Arc<str>,
    err: Option<Error>,
    sink: &'a mut dyn FnMut(FlowRecord) -> crate::error::Result<()>,
}

impl ConversationWriter<'_> {
    fn write(&mut self, c: Conversation) {
        if self.err.is_some() {
            return;
        }
        let rec = flow_record(&c, self.next_id, self.capture.clone());
        self.next_id += 1;
        if let Err(e) = (self.sink)(rec) {
            self.err = Some(e);
        }
    }

    fn check(&mut self) -> crate::error::Result<()> {
        match self.err.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The record of a conversation, shaped like a packet-capture flow. Bytes are the exporter's
/// octets (IP bytes); payload and wire bytes are unknown in exports and written as null.
pub fn flow_record(c: &Conversation, flow_id: u64, capture: Arc<str>) -> FlowRecord {
    FlowRecord {
        flow_id,
        transport: if c.protocol == 6 { "tcp" } else { "udp" },
        src_ip: c.client.0,
        src_port: c.client.1,
        dst_ip: c.server.0,
        dst_port: c.server.1,
        first_seen: c.first,
        last_seen: c.last,
        duration: c.duration(),
        packets_c2s: c.c2s.packets,
        packets_s2c: c.s2c.packets,
        bytes_c2s: c.c2s.bytes,
        bytes_s2c: c.s2c.bytes,
        payload_bytes_c2s: 0,
        payload_bytes_s2c: 0,
        wire_bytes_c2s: 0,
        wire_bytes_s2c: 0,
        unknown_counters: crate::output::UnknownCounters::PAYLOAD
            | crate::output::UnknownCounters::WIRE,
        reassembly_gaps: 0,
        end_reason: "export",
        capture,
        verdict: None,
        tls: TlsInfo::default(),
        dns_names: Vec::new(),
        stratum: None,
        features: vec![f64::NAN; FEATURES.len()],
        model_rows: vec![netflow_features(c)],
        model_schema: NETFLOW_SCHEMA,
        export_variants: Vec::new(),
    }
}
