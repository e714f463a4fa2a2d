//! NetFlow v5, v9 and IPFIX export datagrams → [`ExportRecord`]s.
//!
//! The wire formats are parsed by `netflow_parser`; this module keeps one template cache per
//! exporter address and observation domain (its `AutoScopedParser`), reads the fields a flow
//! needs by their information-element number, turns the exporter's clocks into epoch seconds,
//! and counts everything it cannot use (templates, options data, data before its template,
//! unsupported versions and damaged datagrams) instead of failing. Inputs are UDP payloads
//! taken from a capture of the collector's traffic, or raw payload dumps (`.dat`).

use super::{ExportRecord, NetflowSummary, ReverseCounters};
use crate::capture::{read_capture, CaptureEnd};
use crate::decode::{Decoder, Transport};
use crate::error::{Error, Result};
use netflow_parser::static_versions::v5::V5;
use netflow_parser::variable_versions::field_value::DurationValue;
use netflow_parser::variable_versions::ipfix::lookup::{IANAIPFixField, ReverseInformationElement};
use netflow_parser::variable_versions::{ipfix, v9};
use netflow_parser::{AutoScopedParser, FieldValue, IpfixField, NetflowPacket, V9Field};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::OnceLock;

/// Seconds between the NTP epoch (1900) and the Unix epoch.
mod fallback;
use fallback::{walk_records, RawSets, TemplateItem};

const NTP_UNIX_OFFSET: f64 = 2_208_988_800.0;

/// UDP ports collectors usually listen on (NetFlow, IPFIX, sFlow).
pub const EXPORT_PORTS: &[u16] = &[2055, 4739, 6343, 9995, 9996];

/// Information elements this decoder reads (IANA numbering, shared by v9 and IPFIX).
mod ie {
    pub const OCTETS: u16 = 1;
    pub const PACKETS: u16 = 2;
    pub const PROTOCOL: u16 = 4;
    pub const TCP_FLAGS: u16 = 6;
    pub const SRC_PORT: u16 = 7;
    pub const SRC_V4: u16 = 8;
    pub const DST_PORT: u16 = 11;
    pub const DST_V4: u16 = 12;
    pub const END_UPTIME: u16 = 21;
    pub const START_UPTIME: u16 = 22;
    pub const POST_OCTETS: u16 = 23;
    pub const POST_PACKETS: u16 = 24;
    pub const SRC_V6: u16 = 27;
    pub const DST_V6: u16 = 28;
    pub const OCTETS_TOTAL: u16 = 85;
    pub const PACKETS_TOTAL: u16 = 86;
    pub const START_SECONDS: u16 = 150;
    pub const END_SECONDS: u16 = 151;
    pub const START_MILLIS: u16 = 152;
    pub const END_MILLIS: u16 = 153;
    pub const START_MICROS: u16 = 154;
    pub const END_MICROS: u16 = 155;
    pub const START_NANOS: u16 = 156;
    pub const END_NANOS: u16 = 157;
    pub const START_DELTA_MICROS: u16 = 158;
    pub const END_DELTA_MICROS: u16 = 159;
    pub const SYSTEM_INIT_MILLIS: u16 = 160;
    pub const INITIATOR_OCTETS: u16 = 231;
    pub const RESPONDER_OCTETS: u16 = 232;
    pub const INITIATOR_PACKETS: u16 = 298;
    pub const RESPONDER_PACKETS: u16 = 299;
    pub const ALL: &[u16] = &[
        OCTETS,
        PACKETS,
        PROTOCOL,
        TCP_FLAGS,
        SRC_PORT,
        SRC_V4,
        DST_PORT,
        DST_V4,
        END_UPTIME,
        START_UPTIME,
        POST_OCTETS,
        POST_PACKETS,
        SRC_V6,
        DST_V6,
        OCTETS_TOTAL,
        PACKETS_TOTAL,
        START_SECONDS,
        END_SECONDS,
        START_MILLIS,
        END_MILLIS,
        START_MICROS,
        END_MICROS,
        START_NANOS,
        END_NANOS,
        START_DELTA_MICROS,
        END_DELTA_MICROS,
        SYSTEM_INIT_MILLIS,
        INITIATOR_OCTETS,
        RESPONDER_OCTETS,
        INITIATOR_PACKETS,
        RESPONDER_PACKETS,
    ];
}

/// The IPFIX field enums of `netflow_parser` carry no numbers; these maps give them back for
/// the elements [`ie::ALL`] lists (forward, and RFC 5103 reverse under enterprise 29305).
fn iana_numbers() -> &'static (
    HashMap<IANAIPFixField, u16>,
    HashMap<ReverseInformationElement, u16>,
) {
    static MAPS: OnceLock<(
        HashMap<IANAIPFixField, u16>,
        HashMap<ReverseInformationElement, u16>,
    )> = OnceLock::new();
    MAPS.get_or_init(|| {
        let fwd = ie::ALL
            .iter()
            .map(|&n| (IANAIPFixField::from(n), n))
            .collect();
        let rev = ie::ALL
            .iter()
            .map(|&n| (ReverseInformationElement::from(n), n))
            .collect();
        (fwd, rev)
    })
}

/// The values of one data record that a flow needs, by element number; the reverse ones
/// (RFC 5103) apart.
#[derive(Default)]
struct Fields {
    fwd: Vec<(u16, Value)>,
    rev: Vec<(u16, Value)>,
}

/// A field value reduced to what the flow needs.
#[derive(Clone, Copy, Debug)]
enum Value {
    Num(u64),
    Ip(IpAddr),
    /// Seconds (for absolute times since the epoch of the element's definition).
    Secs(f64),
}

fn value_of(v: &FieldValue) -> Option<Value> {
    Some(match v {
        FieldValue::Ip4Addr(a) => Value::Ip(IpAddr::V4(*a)),
        FieldValue::Ip6Addr(a) => Value::Ip(IpAddr::V6(*a)),
        FieldValue::Duration(d) => Value::Secs(match d {
            DurationValue::Seconds { value, .. } => *value as f64,
            DurationValue::Millis { value, .. } => *value as f64 / 1e3,
            DurationValue::MicrosNtp { seconds, fraction }
            | DurationValue::NanosNtp { seconds, fraction } => {
                f64::from(*seconds) + f64::from(*fraction) / 4_294_967_296.0
            }
        }),
        FieldValue::TcpControlBits(bits, _) => Value::Num(u64::from(u16::from(*bits))),
        other => Value::Num(other.as_u64().or_else(|| other.as_u8().map(u64::from))?),
    })
}

impl Fields {
    fn get(list: &[(u16, Value)], n: u16) -> Option<Value> {
        list.iter().rfind(|(k, _)| *k == n).map(|(_, v)| *v)
    }
    fn num(&self, n: u16) -> Option<u64> {
        match Self::get(&self.fwd, n)? {
            Value::Num(x) => Some(x),
            // Some exporters declare times as plain numbers and vice versa.
            Value::Secs(s) => Some((s * 1e3) as u64),
            Value::Ip(_) => None,
        }
    }
    fn rev_num(&self, n: u16) -> Option<u64> {
        match Self::get(&self.rev, n)? {
            Value::Num(x) => Some(x),
            _ => None,
        }
    }
    fn ip(&self, n: u16) -> Option<IpAddr> {
        match Self::get(&self.fwd, n)? {
            Value::Ip(a) => Some(a),
            _ => None,
        }
    }
    /// An absolute time element, in epoch seconds.
    fn abs_time(&self, n: u16) -> Option<f64> {
        let v = Self::get(&self.fwd, n)?;
        let s = match v {
            Value::Secs(s) => s,
            Value::Num(x) => match n {
                ie::START_SECONDS | ie::END_SECONDS => x as f64,
                _ => x as f64 / 1e3,
            },
            Value::Ip(_) => return None,
        };
        let ntp = matches!(
            n,
            ie::START_MICROS | ie::END_MICROS | ie::START_NANOS | ie::END_NANOS
        );
        Some(if ntp { s - NTP_UNIX_OFFSET } else { s })
    }
}

/// The clocks of the packet a data record came in.
#[derive(Clone, Copy)]
struct Clock {
    /// Export time, epoch seconds.
    export: f64,
    /// Exporter uptime at export, milliseconds (v9 only; IPFIX has none in its header).
    uptime_ms: Option<u64>,
    /// Exporter boot time, epoch seconds (IPFIX `systemInitTimeMilliseconds` from options
    /// data), the origin of uptime-relative times in IPFIX.
    init: Option<f64>,
}

fn times(f: &Fields, clock: Clock) -> (f64, f64) {
    // Absolute times first, then uptime-relative, then deltas before export.
    let abs = |a: u16, b: u16, c: u16, d: u16| {
        f.abs_time(a)
            .or_else(|| f.abs_time(b))
            .or_else(|| f.abs_time(c))
            .or_else(|| f.abs_time(d))
    };
    let mut first = abs(
        ie::START_MILLIS,
        ie::START_SECONDS,
        ie::START_MICROS,
        ie::START_NANOS,
    );
    let mut last = abs(
        ie::END_MILLIS,
        ie::END_SECONDS,
        ie::END_MICROS,
        ie::END_NANOS,
    );
    let up = |n: u16| -> Option<f64> {
        let t = f.num(n)?;
        if let Some(init) = f.abs_time(ie::SYSTEM_INIT_MILLIS).or(clock.init) {
            return Some(init + t as f64 / 1e3);
        }
        let now = clock.uptime_ms?;
        Some(clock.export - (now as f64 - t as f64) / 1e3)
    };
    if first.is_none() {
        first = up(ie::START_UPTIME);
    }
    if last.is_none() {
        last = up(ie::END_UPTIME);
    }
    let delta = |n: u16| f.num(n).map(|us| clock.export - us as f64 / 1e6);
    if first.is_none() {
        first = delta(ie::START_DELTA_MICROS);
    }
    if last.is_none() {
        last = delta(ie::END_DELTA_MICROS);
    }
    let first = first.or(last).unwrap_or(clock.export);
    let last = last.unwrap_or(first).max(first);
    (first, last)
}

/// One data record as a flow, or None when it has no addresses (options-like data).
fn record_of(
    f: &Fields,
    exporter: IpAddr,
    domain: u32,
    version: u16,
    clock: Clock,
) -> Option<ExportRecord> {
    let src_ip = f.ip(ie::SRC_V4).or_else(|| f.ip(ie::SRC_V6))?;
    let dst_ip = f.ip(ie::DST_V4).or_else(|| f.ip(ie::DST_V6))?;
    let bytes = f
        .num(ie::OCTETS)
        .or_else(|| f.num(ie::OCTETS_TOTAL))
        .or_else(|| f.num(ie::INITIATOR_OCTETS))
        .or_else(|| f.num(ie::POST_OCTETS))
        .unwrap_or(0);
    let packets = f
        .num(ie::PACKETS)
        .or_else(|| f.num(ie::PACKETS_TOTAL))
        .or_else(|| f.num(ie::INITIATOR_PACKETS))
        .or_else(|| f.num(ie::POST_PACKETS))
        .unwrap_or(0);
    let (first, last) = times(f, clock);
    let rev_bytes = f
        .rev_num(ie::OCTETS)
        .or_else(|| f.rev_num(ie::OCTETS_TOTAL))
        .or_else(|| f.num(ie::RESPONDER_OCTETS));
    let rev_packets = f
        .rev_num(ie::PACKETS)
        .or_else(|| f.rev_num(ie::PACKETS_TOTAL))
        .or_else(|| f.num(ie::RESPONDER_PACKETS));
    let reverse = match (rev_packets, rev_bytes) {
        (None, None) => None,
        (p, b) => Some(ReverseCounters {
            packets: p.unwrap_or(0),
            bytes: b.unwrap_or(0),
            tcp_flags: f.rev_num(ie::TCP_FLAGS).unwrap_or(0) as u8,
        }),
    };
    Some(ExportRecord {
        exporter,
        domain,
        version,
        first,
        last,
        src_ip,
        dst_ip,
        src_port: f.num(ie::SRC_PORT).unwrap_or(0) as u16,
        dst_port: f.num(ie::DST_PORT).unwrap_or(0) as u16,
        protocol: f.num(ie::PROTOCOL).unwrap_or(0) as u8,
        packets,
        bytes,
        tcp_flags: f.num(ie::TCP_FLAGS).unwrap_or(0) as u8,
        reverse,
    })
}

fn v9_fields(rec: &[(V9Field, FieldValue)]) -> Fields {
    let mut f = Fields::default();
    for (field, value) in rec {
        let n = u16::from(*field);
        if ie::ALL.contains(&n) {
            if let Some(v) = value_of(value) {
                f.fwd.push((n, v));
            }
        }
    }
    f
}

fn ipfix_fields(rec: &[(IpfixField, FieldValue)]) -> Fields {
    let (fwd, rev) = iana_numbers();
    let mut f = Fields::default();
    for (field, value) in rec {
        let (list, n) = match field {
            IpfixField::IANA(x) => (&mut f.fwd, fwd.get(x)),
            IpfixField::ReverseInformationElement(x) => (&mut f.rev, rev.get(x)),
            _ => continue,
        };
        if let (Some(&n), Some(v)) = (n, value_of(value)) {
            list.push((n, v));
        }
    }
    f
}

/// Decodes export datagrams with one template cache per exporter and observation domain,
/// across as many datagrams and files as are fed to it (templates in one file serve the data
/// in the next).
pub struct NetflowDecoder {
    parser: AutoScopedParser,
    /// Our own copy of the data templates, for the data sets `netflow_parser` returns without
    /// records (variable-length fields): (exporter, version, domain, template id) → fields.
    templates: HashMap<TemplateKey, Vec<TemplateItem>>,
    /// Data sets that came before their template, held until it comes (bounded).
    pending: HashMap<TemplateKey, Vec<(Vec<u8>, Clock)>>,
    pending_bytes: usize,
    /// Boot time announced in IPFIX options data, per exporter and domain.
    boot_times: HashMap<(SocketAddr, u32), f64>,
    /// Held data sets whose template has just arrived.
    held: Vec<(TemplateKey, Vec<u8>, Clock)>,
    /// What was decoded and what was skipped.
    pub summary: NetflowSummary,
}

impl Default for NetflowDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl NetflowDecoder {
    /// A decoder with empty template caches.
    pub fn new() -> Self {
        NetflowDecoder {
            parser: AutoScopedParser::new(),
            templates: HashMap::new(),
            pending: HashMap::new(),
            pending_bytes: 0,
            held: Vec::new(),
            boot_times: HashMap::new(),
            summary: NetflowSummary::default(),
        }
    }

    /// Decodes one export datagram (a UDP payload) sent by `exporter`, handing each flow
    /// record to `out`. Nothing here fails: damage and unsupported content are counted in
    /// [`NetflowDecoder::summary`] with a reason.
    pub fn decode_datagram(
        &mut self,
        exporter: SocketAddr,
        data: &[u8],
        out: &mut dyn FnMut(ExportRecord),
    ) {
        self.summary.datagrams += 1;
        if data.len() < 4 {
            self.summary
                .unsupported("datagram shorter than a NetFlow header".into());
            return;
        }
        // Templates are per exporter address and domain, not per source port: exporters may
        // send templates and data from different sockets (pmacct test 112 does).
        let exporter = SocketAddr::new(exporter.ip(), 0);
        // One datagram carries one export packet: bytes past the length its header gives are
        // not read as another packet (of whatever version they seem to be).
        let data = match datagram_len(data) {
            Ok(n) if n < data.len() => {
                self.summary.note(format!(
                    "{} bytes after a {}-byte export packet in one datagram ignored",
                    data.len() - n,
                    n
                ));
                &data[..n]
            }
            _ => data,
        };
        let result = self.parser.parse_from_source(exporter, data);
        let mut raw = RawSets::new(data);
        for packet in &result.packets {
            self.packet(exporter, packet, &mut raw, out);
        }
        self.replay(out);
        if let Some(e) = result.error {
            let version = u16::from_be_bytes([data[0], data[1]]);
            let reason = match version {
                5 | 7 | 9 | 10 => format!("v{version} datagram not decoded: {}", short(&e)),
                v => format!("unsupported export version {v}"),
            };
            self.summary.unsupported(reason);
        }
    }

    fn packet(
        &mut self,
        exporter: SocketAddr,
        packet: &NetflowPacket,
        raw: &mut RawSets<'_>,
        out: &mut dyn FnMut(ExportRecord),
    ) {
        match packet {
            NetflowPacket::V5(p) => self.v5(exporter.ip(), p, out),
            NetflowPacket::V9(p) => self.v9(exporter, p, raw, out),
            NetflowPacket::IPFix(p) => self.ipfix(exporter, p, raw, out),
            NetflowPacket::V7(_) => self
                .summary
                .unsupported("NetFlow v7 (Catalyst) is not read".into()),
            _ => self.summary.unsupported("unknown packet kind".into()),
        }
    }

    fn v5(&mut self, exporter: IpAddr, p: &V5, out: &mut dyn FnMut(ExportRecord)) {
        let h = &p.header;
        let export = f64::from(h.unix_secs) + f64::from(h.unix_nsecs) / 1e9;
        let at = |t: u32| export - f64::from(h.sys_up_time.wrapping_sub(t) as i32) / 1e3;
        for r in &p.flowsets {
            self.summary.records_v5 += 1;
            let first = at(r.first);
            out(ExportRecord {
                exporter,
                domain: u32::from(h.engine_type) << 8 | u32::from(h.engine_id),
                version: 5,
                first,
                last: at(r.last).max(first),
                src_ip: IpAddr::V4(r.src_addr),
                dst_ip: IpAddr::V4(r.dst_addr),
                src_port: r.src_port,
                dst_port: r.dst_port,
                protocol: r.protocol_number,
                packets: u64::from(r.d_pkts),
                bytes: u64::from(r.d_octets),
                tcp_flags: r.tcp_flags,
                reverse: None,
            });
        }
    }

    fn v9(
        &mut self,
        from: SocketAddr,
        p: &v9::V9,
        raw: &mut RawSets<'_>,
        out: &mut dyn FnMut(ExportRecord),
    ) {
        let exporter = from.ip();
        let h = &p.header;
        let clock = Clock {
            export: f64::from(h.unix_secs),
            uptime_ms: Some(u64::from(h.sys_up_time)),
            init: None,
        };
        for fs in &p.flowsets {
            match &fs.body {
                v9::FlowSetBody::Template(t) => {
                    self.summary.templates += t.templates.len() as u64;
                    for t in &t.templates {
                        let items = t
                            .fields
                            .iter()
                            .map(|f| TemplateItem {
                                id: f.field_type_number,
                                len: f.field_length,
                                enterprise: None,
                            })
                            .collect();
                        self.remember(from, 9, h.source_id, t.template_id, items);
                    }
                }
                v9::FlowSetBody::OptionsTemplate(t) => {
                    self.summary.templates += t.templates.len() as u64
                }
                v9::FlowSetBody::OptionsData(d) => {
                    self.summary.options_records += d.fields.len() as u64
                }
                v9::FlowSetBody::NoTemplate(t) => {
                    let key = (from, 9, h.source_id, t.template_id);
                    self.no_template(key, &t.raw_data, clock, out);
                }
                v9::FlowSetBody::Data(d) if d.fields.is_empty() => {
                    let id = fs.header.flowset_id;
                    self.fallback((from, 9, h.source_id, id), raw, clock, out);
                }
                v9::FlowSetBody::Data(d) => {
                    for rec in &d.fields {
                        self.summary.records_v9 += 1;
                        let f = v9_fields(rec);
                        match record_of(&f, exporter, h.source_id, 9, clock) {
                            Some(r) => out(r),
                            None => self.summary.without_addresses += 1,
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn ipfix(
        &mut self,
        from: SocketAddr,
        p: &ipfix::IPFix,
        raw: &mut RawSets<'_>,
        out: &mut dyn FnMut(ExportRecord),
    ) {
        let exporter = from.ip();
        let h = &p.header;
        let scope = (from, h.observation_domain_id);
        for fs in &p.flowsets {
            if let ipfix::FlowSetBody::OptionsData(d) = &fs.body {
                for rec in &d.fields {
                    if let Some(t) = ipfix_fields(rec).abs_time(ie::SYSTEM_INIT_MILLIS) {
                        if self.boot_times.len() >= MAX_TEMPLATES {
                            self.boot_times.clear();
                        }
                        self.boot_times.insert(scope, t);
                    }
                }
            }
        }
        let clock = Clock {
            export: f64::from(h.export_time),
            uptime_ms: None,
            init: self.boot_times.get(&scope).copied(),
        };
        for fs in &p.flowsets {
            match &fs.body {
                ipfix::FlowSetBody::Template(t) => {
                    self.summary.templates += 1;
                    self.remember_ipfix(from, h.observation_domain_id, t);
                }
                ipfix::FlowSetBody::OptionsTemplate(_) => self.summary.templates += 1,
                ipfix::FlowSetBody::Templates(ts) => {
                    self.summary.templates += ts.len() as u64;
                    for t in ts {
                        self.remember_ipfix(from, h.observation_domain_id, t);
                    }
                }
                ipfix::FlowSetBody::OptionsTemplates(t) => self.summary.templates += t.len() as u64,
                ipfix::FlowSetBody::OptionsData(d) => {
                    self.summary.options_records += d.fields.len() as u64
                }
                ipfix::FlowSetBody::NoTemplate(t) => {
                    let key = (from, 10, h.observation_domain_id, t.template_id);
                    self.no_template(key, &t.raw_data, clock, out);
                }
                ipfix::FlowSetBody::Data(d) if d.fields.is_empty() => {
                    let id = fs.header.header_id;
                    self.fallback((from, 10, h.observation_domain_id, id), raw, clock, out);
                }
                ipfix::FlowSetBody::Data(d) => {
                    for rec in &d.fields {
                        self.summary.records_ipfix += 1;
                        let f = ipfix_fields(rec);
                        match record_of(&f, exporter, h.observation_domain_id, 10, clock) {
                            Some(r) => out(r),
                            None => self.summary.without_addresses += 1,
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn remember(
        &mut self,
        from: SocketAddr,
        version: u16,
        domain: u32,
        id: u16,
        items: Vec<TemplateItem>,
    ) {
        if self.templates.len() >= MAX_TEMPLATES {
            self.templates.clear();
        }
        let key = (from, version, domain, id);
        self.templates.insert(key, items);
        if let Some(held) = self.pending.remove(&key) {
            for (body, clock) in held {
                self.pending_bytes -= body.len();
                self.summary.pending_resolved += 1;
                self.held.push((key, body, clock));
            }
        }
    }

    /// Data sets whose template just arrived, decoded once the packet's sets are walked.
    fn replay(&mut self, out: &mut dyn FnMut(ExportRecord)) {
        for (key, body, clock) in std::mem::take(&mut self.held) {
            self.walk(key, &body, clock, out);
        }
    }

    /// A data set whose template `netflow_parser` does not have: decoded from our copy of the
    /// template when we have one, else held until the template comes.
    fn no_template(
        &mut self,
        key: TemplateKey,
        body: &[u8],
        clock: Clock,
        out: &mut dyn FnMut(ExportRecord),
    ) {
        if self.templates.contains_key(&key) {
            self.walk(key, body, clock, out);
            return;
        }
        self.summary.pending_sets += 1;
        if self.pending_bytes + body.len() > MAX_PENDING_BYTES {
            self.summary
                .unsupported("data set before its template, dropped (hold buffer full)".into());
            return;
        }
        self.pending_bytes += body.len();
        self.pending
            .entry(key)
            .or_default()
            .push((body.to_vec(), clock));
    }

    /// Decodes the records of a data set with our copy of its template.
    fn walk(
        &mut self,
        key: TemplateKey,
        body: &[u8],
        clock: Clock,
        out: &mut dyn FnMut(ExportRecord),
    ) {
        let (from, version, domain, set_id) = key;
        let Some(items) = self.templates.get(&key) else {
            self.summary.unsupported(format!(
                "v{version} data set with no records decoded (template {set_id})"
            ));
            return;
        };
        let mut recs = Vec::new();
        if !walk_records(body, items, &mut |f| recs.push(f)) {
            self.summary.unsupported(format!(
                "v{version} data set {set_id} does not fit its template"
            ));
        }
        for f in recs {
            match version {
                9 => self.summary.records_v9 += 1,
                _ => self.summary.records_ipfix += 1,
            }
            match record_of(&f, from.ip(), domain, version, clock) {
                Some(r) => out(r),
                None => self.summary.without_addresses += 1,
            }
        }
    }

    fn remember_ipfix(&mut self, from: SocketAddr, domain: u32, t: &ipfix::Template) {
        let items = t
            .fields
            .iter()
            .map(|f| TemplateItem {
                id: f.field_type_number & 0x7fff,
                len: f.field_length,
                enterprise: f.enterprise_number,
            })
            .collect();
        self.remember(from, 10, domain, t.template_id, items);
    }

    /// Decodes a data set that `netflow_parser` returned without records, from the datagram's
    /// bytes and our copy of its template.
    fn fallback(
        &mut self,
        key: TemplateKey,
        raw: &mut RawSets<'_>,
        clock: Clock,
        out: &mut dyn FnMut(ExportRecord),
    ) {
        let (_, version, _, set_id) = key;
        match raw.take(set_id) {
            Some(body) => self.walk(key, body, clock, out),
            None => self.summary.unsupported(format!(
                "v{version} data set with no records decoded (template {set_id})"
            )),
        }
    }

    /// Decodes every datagram of a raw payload dump (`.dat`: export datagrams back to back,
    /// no headers), as if sent by `exporter`. v5 and IPFIX datagrams are split by their
    /// length fields; v9 has none, so a v9 datagram takes the rest of the file.
    pub fn decode_dat(
        &mut self,
        path: &Path,
        exporter: SocketAddr,
        out: &mut dyn FnMut(ExportRecord),
    ) -> Result<()> {
        let data = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut off = 0usize;
        while off < data.len() {
            let rest = &data[off..];
            match datagram_len(rest) {
                Ok(n) => {
                    self.decode_datagram(exporter, &rest[..n], out);
                    off += n;
                }
                Err(reason) => {
                    self.summary.unsupported(reason.clone());
                    self.summary.note(format!(
                        "{}: byte offset {off}: {reason}; rest of the file skipped",
                        path.display()
                    ));
                    break;
                }
            }
        }
        Ok(())
    }

    /// Decodes the export datagrams in a capture of the collector's traffic: every UDP
    /// payload, whatever the port, with its source address as the exporter.
    pub fn decode_pcap(&mut self, path: &Path, out: &mut dyn FnMut(ExportRecord)) -> Result<()> {
        let label = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: label.clone(),
            source,
        })?;
        let mut skipped = 0u64;
        let mut decoder = Decoder::new();
        let end = read_capture(
            &label,
            std::io::BufReader::new(file),
            &mut skipped,
            &mut |raw| {
                let Ok(p) = decoder.decode(raw.linktype, raw.data, raw.ts) else {
                    self.summary.frames_skipped += 1;
                    return;
                };
                let Transport::Udp { src_port, .. } = p.transport else {
                    self.summary.frames_skipped += 1;
                    return;
                };
                if p.payload.len() < p.payload_len as usize {
                    self.summary
                        .unsupported("UDP payload cut by the capture's snap length".into());
                    return;
                }
                self.decode_datagram(SocketAddr::new(p.src, src_port), p.payload, out);
            },
        )?;
        match end {
            CaptureEnd::Complete => {}
            CaptureEnd::Truncated { offset } => self.summary.note(format!(
                "{label}: capture cut short at byte offset {offset}"
            )),
            CaptureEnd::Corrupt { offset, reason } => self.summary.note(format!(
                "{label}: corrupt record at byte offset {offset}: {reason}; rest skipped"
            )),
        }
        Ok(())
    }
}

fn short(e: &netflow_parser::NetflowError) -> String {
    let s = e.to_string();
    // Errors can quote the remaining bytes: keep reasons short so they group in the tally.
    let s = s
        .split(['[', '\n'])
        .next()
        .unwrap_or("")
        .split(" Error {")
        .next()
        .unwrap_or("")
        .trim_end_matches([':', ' '])
        .to_string();
    s.chars().take(100).collect()
}

/// Length of the export datagram at the start of `b`, from its header.
pub fn datagram_len(b: &[u8]) -> std::result::Result<usize, String> {
    if b.len() < 4 {
        return Err(format!(
            "{} trailing bytes, too short for a header",
            b.len()
        ));
    }
    let version = u16::from_be_bytes([b[0], b[1]]);
    let count = usize::from(u16::from_be_bytes([b[2], b[3]]));
    let n = match version {
        5 => 24 + 48 * count,
        7 => 24 + 52 * count,
        9 => b.len(),
        10 => count,
        v => return Err(format!("unsupported export version {v}")),
    };
    if n < 4 || n > b.len() {
        return Err(format!(
            "v{version} header claims {n} bytes, {} remain",
            b.len()
        ));
    }
    Ok(n)
}

/// Whether a UDP payload looks like the start of an export datagram (v5, v9 or IPFIX header
/// whose length fields agree with the payload).
pub fn looks_like_export(b: &[u8]) -> bool {
    if b.len() < 20 {
        return false;
    }
    let version = u16::from_be_bytes([b[0], b[1]]);
    let count = usize::from(u16::from_be_bytes([b[2], b[3]]));
    match version {
        5 => b.len() == 24 + 48 * count && count > 0,
        10 => b.len() == count && b.len() >= 16,
        9 => {
            // The first flowset id is 0 (template), 1 (options template) or a data id ≥ 256,
            // and its length fits.
            b.len() >= 24 && {
                let id = u16::from_be_bytes([b[20], b[21]]);
                let len = usize::from(u16::from_be_bytes([b[22], b[23]]));
                (id <= 1 || id >= 256) && len >= 4 && 20 + len <= b.len()
            }
        }
        _ => false,
    }
}

/// Whether a capture holds NetFlow/IPFIX export traffic rather than ordinary traffic: the
/// first UDP payloads (up to 32) are sampled, and most of them must be sent to a collector
/// port or look like an export header. Ordinary captures, where TCP dominates the first
/// packets, are not exports.
pub fn is_flow_export_pcap(path: &Path) -> Result<bool> {
    let label = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: label.clone(),
        source,
    })?;
    let mut skipped = 0u64;
    let mut decoder = Decoder::new();
    let (mut seen, mut export) = (0u32, 0u32);
    // The reader has no early stop: it gets the first 4 MiB only, and the visitor ignores
    // everything after the sample.
    let _ = read_capture(
        &label,
        std::io::Read::take(std::io::BufReader::new(file), 4 << 20),
        &mut skipped,
        &mut |raw| {
            if seen >= 32 {
                return;
            }
            let Ok(p) = decoder.decode(raw.linktype, raw.data, raw.ts) else {
                return;
            };
            seen += 1;
            if let Transport::Udp { dst_port, .. } = p.transport {
                if EXPORT_PORTS.contains(&dst_port) || looks_like_export(p.payload) {
                    export += 1;
                }
            }
        },
    )?;
    Ok(seen > 0 && export * 2 > seen)
}

/// The address `.dat` dumps are decoded as coming from (they carry none).
pub fn unknown_exporter() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
}

/// Templates kept for the fallback decoder before the cache is reset.
const MAX_TEMPLATES: usize = 65_536;

/// Bytes of data sets held while waiting for their templates.
const MAX_PENDING_BYTES: usize = 16 << 20;

/// Exporter, version, domain, template id.
type TemplateKey = (SocketAddr, u16, u32, u16);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A v5 header (24 bytes) and one record (48 bytes), built field by field.
    pub(crate) fn v5_packet() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&5u16.to_be_bytes()); // version
        b.extend_from_slice(&1u16.to_be_bytes()); // count
        b.extend_from_slice(&10_000u32.to_be_bytes()); // sys uptime ms
        b.extend_from_slice(&1_700_000_000u32.to_be_bytes()); // unix secs
        b.extend_from_slice(&500_000_000u32.to_be_bytes()); // unix nsecs
        b.extend_from_slice(&7u32.to_be_bytes()); // sequence
        b.extend_from_slice(&[0, 0, 0, 0]); // engine type, id, sampling
        b.extend_from_slice(&[10, 0, 0, 1]); // src
        b.extend_from_slice(&[192, 0, 2, 9]); // dst
        b.extend_from_slice(&[0, 0, 0, 0]); // next hop
        b.extend_from_slice(&[0, 1, 0, 2]); // input, output
        b.extend_from_slice(&12u32.to_be_bytes()); // packets
        b.extend_from_slice(&3456u32.to_be_bytes()); // octets
        b.extend_from_slice(&4_000u32.to_be_bytes()); // first (uptime ms)
        b.extend_from_slice(&9_000u32.to_be_bytes()); // last
        b.extend_from_slice(&50_000u16.to_be_bytes()); // src port
        b.extend_from_slice(&3333u16.to_be_bytes()); // dst port
        b.extend_from_slice(&[0, 0x1b, 6, 0]); // pad, flags, proto, tos
        b.extend_from_slice(&[0; 8]); // as, masks, pad
        assert_eq!(b.len(), 72);
        b
    }

    #[test]
    fn v5_record_with_uptime_relative_times() {
        let mut d = NetflowDecoder::new();
        let mut got = Vec::new();
        let from: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        d.decode_datagram(from, &v5_packet(), &mut |r| got.push(r));
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(r.src_ip.to_string(), "10.0.0.1");
        assert_eq!((r.src_port, r.dst_port, r.protocol), (50_000, 3333, 6));
        assert_eq!((r.packets, r.bytes, r.tcp_flags), (12, 3456, 0x1b));
        // Export at 1_700_000_000.5 with uptime 10 s: first = 6 s before, last = 1 s before.
        assert!((r.first - 1_699_999_994.5).abs() < 1e-6, "{}", r.first);
        assert!((r.last - 1_699_999_999.5).abs() < 1e-6, "{}", r.last);
        assert_eq!(d.summary.records_v5, 1);
    }

    #[test]
    fn split_concatenated_v5_and_reject_garbage() {
        let mut two = v5_packet();
        two.extend(v5_packet());
        assert_eq!(datagram_len(&two), Ok(72));
        assert!(datagram_len(&[0, 42, 0, 0, 0]).is_err());
        assert!(datagram_len(&[0, 5, 0, 9]).is_err());
        assert!(looks_like_export(&v5_packet()));
        assert!(!looks_like_export(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let mut d = NetflowDecoder::new();
        let from = unknown_exporter();
        for junk in [
            &b""[..],
            &[0, 9, 0, 1, 2],
            &[0, 10, 0, 200, 1, 2, 3],
            &[0xff; 64],
        ] {
            d.decode_datagram(from, junk, &mut |_| panic!("no record expected"));
        }
        assert_eq!(d.summary.datagrams, 4);
        assert_eq!(d.summary.unsupported.values().sum::<u64>(), 4);
    }
}
