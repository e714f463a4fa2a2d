//! Flow tables → [`ExportRecord`]s: nfdump's CSV (`nfdump -r FILE -o csv`), any CSV with a
//! header, and Parquet, through a [`ColumnMap`] from our canonical names to the table's.
//!
//! polars 0.55 has no streaming CSV reader without its lazy engine, so CSV files are cut into
//! slices of whole lines (a few MiB each) that polars parses one at a time: memory stays
//! bounded whatever the file size. Parquet is read in row slices the same way. Every value is
//! read as text and parsed here, so one format of times, flags and protocols serves all inputs;
//! a row that does not parse is counted and reported with its line, never fatal.

use super::{ExportRecord, NetflowSummary};
use crate::error::{Error, Result};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// Canonical column names a flow table can provide. The first eight are required.
pub const CANONICAL_COLUMNS: &[&str] = &[
    "src_ip",
    "dst_ip",
    "src_port",
    "dst_port",
    "protocol",
    "first",
    "packets",
    "bytes",
    "last",
    "tcp_flags",
    "packets_rev",
    "bytes_rev",
];
const REQUIRED: usize = 8;

/// Which table column holds each canonical value (`src_ip` → `sa`, …). Missing entries fall
/// back to the canonical name itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    map: BTreeMap<String, String>,
}

impl ColumnMap {
    /// nfdump's CSV columns. `opkt`/`obyt` are taken as the reverse direction when non-zero
    /// (biflow and NSEL exports); for plain NetFlow they are 0.
    pub fn nfdump() -> Self {
        parse_map(
            "src_ip=sa,dst_ip=da,src_port=sp,dst_port=dp,protocol=pr,first=ts,last=te,\
             packets=ipkt,bytes=ibyt,tcp_flags=flg,packets_rev=opkt,bytes_rev=obyt",
        )
        .expect("valid built-in map")
    }

    /// The table column for a canonical name.
    pub fn column<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.map.get(canonical).map_or(canonical, String::as_str)
    }

    /// Whether no mapping was given.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// This map, with `other`'s entries taking precedence.
    pub fn overlay(&self, other: &ColumnMap) -> ColumnMap {
        let mut map = self.map.clone();
        map.extend(other.map.iter().map(|(k, v)| (k.clone(), v.clone())));
        ColumnMap { map }
    }
}

/// Parses `src_ip=sa,dst_ip=da,...` (commas or newlines between entries; `#` starts a
/// comment line) or, when `s` names an existing file, that file's contents.
pub fn parse_map(s: &str) -> Result<ColumnMap> {
    let text = if !s.contains('=') && Path::new(s).is_file() {
        std::fs::read_to_string(s).map_err(|source| Error::Io {
            path: s.to_string(),
            source,
        })?
    } else {
        s.to_string()
    };
    let mut map = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        for entry in line.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((k, v)) = entry.split_once('=') else {
                return Err(Error::Usage(format!(
                    "column map line {}: `{entry}` is not key=value",
                    i + 1
                )));
            };
            let (k, v) = (k.trim(), v.trim());
            if !CANONICAL_COLUMNS.contains(&k) {
                return Err(Error::Usage(format!(
                    "column map line {}: unknown name `{k}` (known: {})",
                    i + 1,
                    CANONICAL_COLUMNS.join(", ")
                )));
            }
            if v.is_empty() {
                return Err(Error::Usage(format!(
                    "column map line {}: `{k}` maps to nothing",
                    i + 1
                )));
            }
            map.insert(k.to_string(), v.to_string());
        }
    }
    Ok(ColumnMap { map })
}

/// Epoch seconds from `YYYY-MM-DD[ T]HH:MM:SS[.frac]` (UTC; a trailing `Z` is accepted), or
/// from a plain number (seconds, or milliseconds when above 10^11).
pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Some(t) = parse_stamp(s.as_bytes()) {
        return Some(t);
    }
    if let Ok(x) = s.parse::<f64>() {
        return Some(if x.abs() > 1e11 { x / 1e3 } else { x });
    }
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut t = time.trim().split(':');
    let hh: i64 = t.next()?.parse().ok()?;
    let mm: i64 = t.next()?.parse().ok()?;
    let ss: f64 = t.next().unwrap_or("0").parse().ok()?;
    if t.next().is_some() {
        return None;
    }
    epoch_seconds(y, m, day, hh, mm, ss)
}

/// Epoch seconds of a UTC calendar date and time; None when a part is out of range (a day
/// the month lacks included).
fn epoch_seconds(y: i64, m: i64, day: i64, hh: i64, mm: i64, ss: f64) -> Option<f64> {
    if !(0..=23).contains(&hh) || !(0..=59).contains(&mm) || !(0.0..61.0).contains(&ss) {
        return None;
    }
    let date = time::Date::from_calendar_date(
        i32::try_from(y).ok()?,
        time::Month::try_from(u8::try_from(m).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let days = i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY;
    Some((days * 86_400 + hh * 3600 + mm * 60) as f64 + ss)
}

/// The common case of [`parse_time`] without splitting or allocating:
/// `YYYY-MM-DD HH:MM:SS` with an optional fraction of up to 9 digits (a `T` and a trailing `Z`
/// allowed). None sends the text to the general parser.
fn parse_stamp(s: &[u8]) -> Option<f64> {
    let s = s.strip_suffix(b"Z").unwrap_or(s);
    if s.len() < 19
        || s[4] != b'-'
        || s[7] != b'-'
        || !matches!(s[10], b' ' | b'T')
        || s[13] != b':'
        || s[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        s[r].iter().try_fold(0i64, |n, &c| {
            let d = c.wrapping_sub(b'0');
            (d < 10).then(|| n * 10 + i64::from(d))
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm) = (num(11..13)?, num(14..16)?);
    num(17..19)?;
    match &s[19..] {
        [] => {}
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            num(20..s.len())?;
        }
        _ => return None,
    }
    // The seconds as the general parser reads them, so both give the same number.
    let ss: f64 = std::str::from_utf8(&s[17..]).ok()?.parse().ok()?;
    epoch_seconds(y, m, d, hh, mm, ss)
}

/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// A protocol as a number or a name (`TCP`, `udp`, `ICMP`, …).
pub fn parse_protocol(s: &str) -> Option<u8> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u8>() {
        return Some(n);
    }
    Some(match s.to_ascii_lowercase().as_str() {
        // IANA's keywords (as in /etc/protocols) and nfdump's short names where they differ.
        "hopopt" => 0,
        "icmp" => 1,
        "igmp" => 2,
        "ggp" => 3,
        "ipip" | "ipencap" | "ipv4" | "ip-in-ip" => 4,
        "st" => 5,
        "tcp" => 6,
        "egp" => 8,
        "igp" => 9,
        "udp" => 17,
        "ipv6" => 41,
        "ipv6-route" | "rout6" => 43,
        "ipv6-frag" | "frag6" => 44,
        "rsvp" => 46,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "icmp6" | "ipv6-icmp" | "icmpv6" => 58,
        "ipv6-nonxt" | "nonxt" => 59,
        "ipv6-opts" | "opts6" => 60,
        "eigrp" => 88,
        "ospf" | "ospfigp" => 89,
        "pim" => 103,
        "ipcomp" => 108,
        "vrrp" => 112,
        "l2tp" => 115,
        "sctp" => 132,
        _ => return None,
    })
}

/// TCP flags as a number (`27`, `0x1b`) or nfdump's letters (`...AP.SF`, order CEUAPRSF, a dot
/// for an unset flag).
pub fn parse_tcp_flags(s: &str) -> Option<u8> {
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    if let Ok(n) = s.parse::<u16>() {
        return Some(n as u8);
    }
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u16::from_str_radix(h, 16).ok().map(|n| n as u8);
    }
    let mut v = 0u8;
    for c in s.chars() {
        v |= match c.to_ascii_uppercase() {
            'C' => 0x80,
            'E' => 0x40,
            'U' => 0x20,
            'A' => 0x10,
            'P' => 0x08,
            'R' => 0x04,
            'S' => 0x02,
            'F' => 0x01,
            '.' => 0,
            _ => return None,
        };
    }
    Some(v)
}

fn parse_count(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    // nfdump without -N scales big counts: `1.2 M`.
    let (num, unit) = s.split_once(' ').unwrap_or((s, ""));
    let x: f64 = num.parse().ok()?;
    let k = match unit.trim() {
        "" => 1.0,
        "K" | "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        _ => return None,
    };
    (x >= 0.0).then(|| (x * k).round() as u64)
}

/// Where each canonical column sits in a slice's columns (None when the table lacks it).
struct Columns {
    names: Vec<Option<String>>,
    /// The position of each canonical column among the header's fields.
    at: Vec<Option<usize>>,
}

fn resolve(header: &[String], map: &ColumnMap, label: &str) -> Result<Columns> {
    let mut names = Vec::with_capacity(CANONICAL_COLUMNS.len());
    let mut ats = Vec::with_capacity(CANONICAL_COLUMNS.len());
    let mut missing = Vec::new();
    for (i, name) in CANONICAL_COLUMNS.iter().enumerate() {
        let col = map.column(name);
        let at = header.iter().position(|h| h.trim() == col);
        if at.is_none() && i < REQUIRED {
            missing.push(format!("{name} (column `{col}`)"));
        }
        names.push(at.map(|i| header[i].trim().to_string()));
        ats.push(at);
    }
    if !missing.is_empty() {
        return Err(Error::Unusable {
            path: label.to_string(),
            reason: format!(
                "the table lacks {}; map columns with --map {}",
                missing.join(", "),
                "src_ip=COL,dst_ip=COL,..."
            ),
        });
    }
    Ok(Columns { names, at: ats })
}

/// One flow record from a JSON object whose keys are the [`CANONICAL_COLUMNS`] (numbers or
/// text, times as for tables: epoch seconds, milliseconds or dates): a flow table's row as
/// one NDJSON line, as a collector or `jq` writes it.
pub fn record_from_json(
    obj: &serde_json::Map<String, serde_json::Value>,
) -> std::result::Result<ExportRecord, String> {
    let values: Vec<Option<String>> = CANONICAL_COLUMNS
        .iter()
        .map(|c| match obj.get(*c) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(v) => Some(v.to_string()),
        })
        .collect();
    let missing: Vec<&str> = CANONICAL_COLUMNS[..REQUIRED]
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(c, _)| *c)
        .collect();
    if !missing.is_empty() {
        return Err(format!("lacks {}", missing.join(", ")));
    }
    let refs: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
    row_record(&refs)
}

/// One row's values by canonical position.
fn row_record(v: &[Option<&str>]) -> std::result::Result<ExportRecord, String> {
    let get = |i: usize| v[i].map(str::trim).filter(|s| !s.is_empty());
    let req = |i: usize| get(i).ok_or_else(|| format!("empty {}", CANONICAL_COLUMNS[i]));
    let ip = |i: usize| -> std::result::Result<IpAddr, String> {
        let s = req(i)?;
        s.parse()
            .map_err(|_| format!("{} `{s}` is not an address", CANONICAL_COLUMNS[i]))
    };
    let num = |i: usize| -> std::result::Result<u64, String> {
        let s = req(i)?;
        parse_count(s).ok_or_else(|| format!("{} `{s}` is not a count", CANONICAL_COLUMNS[i]))
    };
    let port = |i: usize| -> std::result::Result<u16, String> {
        let s = req(i)?;
        // nfdump writes ICMP type.code in the port columns (`0.0`, `8.0`).
        s.parse::<u16>()
            .or_else(|_| s.parse::<f64>().map(|_| 0))
            .map_err(|_| format!("{} `{s}` is not a port", CANONICAL_COLUMNS[i]))
    };
    let time = |i: usize| -> std::result::Result<f64, String> {
        let s = req(i)?;
        parse_time(s).ok_or_else(|| format!("{} `{s}` is not a time", CANONICAL_COLUMNS[i]))
    };
    let protocol = {
        let s = req(4)?;
        parse_protocol(s).ok_or_else(|| format!("protocol `{s}` unknown"))?
    };
    let first = time(5)?;
    let last = match get(8) {
        Some(_) => time(8)?,
        None => first,
    };
    let tcp_flags = match get(9) {
        Some(s) => parse_tcp_flags(s).ok_or_else(|| format!("tcp_flags `{s}` unknown"))?,
        None => 0,
    };
    let rev_p = get(10).and_then(parse_count).unwrap_or(0);
    let rev_b = get(11).and_then(parse_count).unwrap_or(0);
    Ok(ExportRecord {
        exporter: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        domain: 0,
        version: 0,
        first,
        last: last.max(first),
        src_ip: ip(0)?,
        dst_ip: ip(1)?,
        src_port: port(2)?,
        dst_port: port(3)?,
        protocol,
        packets: num(6)?,
        bytes: num(7)?,
        tcp_flags,
        reverse: (rev_p > 0 || rev_b > 0).then_some(super::ReverseCounters {
            packets: rev_p,
            bytes: rev_b,
            tcp_flags: 0,
        }),
    })
}

/// Walks a polars slice row by row; `first_line` is the file line of its first row.
fn slice_records(
    df: &DataFrame,
    cols: &Columns,
    label: &str,
    first_line: u64,
    summary: &mut NetflowSummary,
    out: &mut dyn FnMut(ExportRecord) -> Result<()>,
) -> Result<()> {
    let table = |source| Error::Table {
        path: label.to_string(),
        what: "line",
        row: first_line,
        source,
    };
    let mut cas: Vec<Option<StringChunked>> = Vec::with_capacity(cols.names.len());
    for name in &cols.names {
        cas.push(match name {
            Some(n) => {
                let s = df
                    .column(n)
                    .map_err(table)?
                    .as_materialized_series()
                    .cast(&DataType::String)
                    .map_err(table)?;
                Some(s.str().map_err(table)?.rechunk().into_owned())
            }
            None => None,
        });
    }
    let mut iters: Vec<Box<dyn Iterator<Item = Option<&str>>>> = cas
        .iter()
        .map(|c| match c {
            Some(ca) => Box::new(ca.downcast_iter().flat_map(|a| a.iter()))
                as Box<dyn Iterator<Item = Option<&str>>>,
            None => Box::new(std::iter::repeat(None)),
        })
        .collect();
    let mut row: Vec<Option<&str>> = vec![None; iters.len()];
    for r in 0..df.height() {
        for (slot, it) in row.iter_mut().zip(iters.iter_mut()) {
            *slot = it.next().flatten();
        }
        summary.rows += 1;
        match row_record(&row) {
            Ok(rec) => out(rec)?,
            Err(reason) => {
                summary.rows_skipped += 1;
                summary.note(format!("{label}: line {}: {reason}", first_line + r as u64));
            }
        }
    }
    Ok(())
}

/// Whether a line ends the table: nfdump's summary block, or its empty-result message.
fn is_trailer(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    t.is_empty()
        || t == b"Summary"
        || t.starts_with(b"No matched flows")
        || t.starts_with(b"flows,")
}

/// Reads a CSV flow table in bounded memory, handing each row's record to `out`.
pub fn read_csv(
    path: &Path,
    map: &ColumnMap,
    summary: &mut NetflowSummary,
    out: &mut dyn FnMut(ExportRecord) -> Result<()>,
) -> Result<()> {
    let label = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: label.clone(),
        source,
    })?;
    read_csv_from(
        &label,
        BufReader::with_capacity(1 << 20, file),
        map,
        summary,
        out,
    )
}

/// [`read_csv`] over any reader; `label` names the input in messages.
pub fn read_csv_from<R: Read>(
    label: &str,
    mut input: BufReader<R>,
    map: &ColumnMap,
    summary: &mut NetflowSummary,
    out: &mut dyn FnMut(ExportRecord) -> Result<()>,
) -> Result<()> {
    let io = |source| Error::Io {
        path: label.to_string(),
        source,
    };
    let mut header = String::new();
    if input.read_line(&mut header).map_err(io)? == 0 {
        return Err(Error::Unusable {
            path: label.to_string(),
            reason: "empty table".into(),
        });
    }
    let header = header.trim_end_matches(['\r', '\n']).to_string();
    let separator = if header.contains(',') {
        b','
    } else if header.contains('\t') {
        b'\t'
    } else if header.contains(';') {
        b';'
    } else {
        b','
    };
    let names: Vec<String> = header
        .split(separator as char)
        .map(|s| s.trim().trim_matches('"').to_string())
        .collect();
    let cols = resolve(&names, map, label)?;
    let mut fields = Fields::new(separator);
    let mut line: Vec<u8> = Vec::with_capacity(256);
    let mut line_no: u64 = 1;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).map_err(io)? == 0 {
            break;
        }
        line_no += 1;
        let first_line = line_no;
        if is_trailer(&line) {
            // The rest is nfdump's summary: count it, don't read it as flows.
            summary.trailer_lines += 1;
            while {
                line.clear();
                input.read_until(b'\n', &mut line).map_err(io)? > 0
            } {
                summary.trailer_lines += 1;
            }
            break;
        }
        if line.ends_with(b"\r\n") {
            line.truncate(line.len() - 2);
            line.push(b'\n');
        }
        // A quoted field may run over several lines.
        while !fields.feed(&line) {
            line.clear();
            if input.read_until(b'\n', &mut line).map_err(io)? == 0 {
                fields.end();
                break;
            }
            line_no += 1;
        }
        summary.rows += 1;
        let row = fields.take();
        let mut values: [Option<&str>; CANONICAL_COLUMNS.len()] = [None; CANONICAL_COLUMNS.len()];
        let mut bad_text = false;
        for (value, at) in values.iter_mut().zip(&cols.at) {
            *value = match at.and_then(|i| row.get(i)) {
                Some(bytes) => match std::str::from_utf8(bytes) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        bad_text = true;
                        None
                    }
                },
                None => None,
            };
        }
        let rec = if bad_text {
            Err("a field is not UTF-8 text".to_string())
        } else {
            row_record(&values)
        };
        match rec {
            Ok(rec) => out(rec)?,
            Err(reason) => {
                summary.rows_skipped += 1;
                summary.note(format!("{label}: line {first_line}: {reason}"));
            }
        }
    }
    Ok(())
}

/// The fields of CSV lines, split by csv-core (quotes, doubled quotes and separators inside
/// quotes as RFC 4180 has them) into one reused buffer.
struct Fields {
    reader: csv_core::Reader,
    bytes: Vec<u8>,
    ends: Vec<usize>,
    len: usize,
    count: usize,
}

/// One row's fields, borrowed from [`Fields`].
struct Row<'a> {
    bytes: &'a [u8],
    ends: &'a [usize],
}

impl Row<'_> {
    fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.bytes[start..end])
    }
}

impl Fields {
    fn new(separator: u8) -> Self {
        Fields {
            reader: csv_core::ReaderBuilder::new().delimiter(separator).build(),
            bytes: vec![0; 1024],
            ends: vec![0; 32],
            len: 0,
            count: 0,
        }
    }

    /// Splits one line (with its newline, if any); false while a quoted field is still open.
    fn feed(&mut self, mut input: &[u8]) -> bool {
        use csv_core::ReadRecordResult as R;
        loop {
            let (res, nin, nout, nend) = self.reader.read_record(
                input,
                &mut self.bytes[self.len..],
                &mut self.ends[self.count..],
            );
            input = &input[nin..];
            self.len += nout;
            self.count += nend;
            match res {
                R::InputEmpty if input.is_empty() => return false,
                R::InputEmpty => {}
                R::OutputFull => self.bytes.resize(self.bytes.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::Record | R::End => return true,
            }
        }
    }

    /// The input ended: closes the row being read.
    fn end(&mut self) {
        self.feed(&[]);
    }

    /// The row read, ready for the next.
    fn take(&mut self) -> Row<'_> {
        let (len, count) = (self.len, self.count);
        self.len = 0;
        self.count = 0;
        Row {
            bytes: &self.bytes[..len],
            ends: &self.ends[..count],
        }
    }
}

/// Rows per Parquet slice.
const PARQUET_ROWS: usize = 200_000;

/// Reads a Parquet flow table in row slices, handing each row's record to `out`.
pub fn read_parquet(
    path: &Path,
    map: &ColumnMap,
    summary: &mut NetflowSummary,
    out: &mut dyn FnMut(ExportRecord) -> Result<()>,
) -> Result<()> {
    let label = path.display().to_string();
    let open = || {
        std::fs::File::open(path).map_err(|source| Error::Io {
            path: label.clone(),
            source,
        })
    };
    let mut reader = ParquetReader::new(open()?);
    let schema = reader.schema().map_err(|e| Error::Unusable {
        path: label.clone(),
        reason: format!("unreadable Parquet: {e}"),
    })?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let cols = resolve(&names, map, &label)?;
    let mut projected: Vec<String> = cols.names.iter().flatten().cloned().collect();
    projected.sort_by_key(|n| names.iter().position(|x| x == n));
    projected.dedup();
    let total = reader.num_rows().map_err(|source| Error::Table {
        path: label.clone(),
        what: "row",
        row: 0,
        source,
    })?;
    let mut offset = 0usize;
    while offset < total {
        let df = ParquetReader::new(open()?)
            .with_columns(Some(projected.clone()))
            .with_slice(Some((offset, PARQUET_ROWS)))
            .finish()
            .map_err(|source| Error::Table {
                path: label.clone(),
                what: "row",
                row: offset as u64,
                source,
            })?;
        if df.height() == 0 {
            break;
        }
        slice_records(&df, &cols, &label, offset as u64 + 1, summary, out)?;
        offset += df.height();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_flags_protocols() {
        // 2024-01-01T00:00:00Z is 1704067200 (date -u -d 2024-01-01 +%s).
        assert_eq!(parse_time("2024-01-01 00:00:00"), Some(1_704_067_200.0));
        let t = parse_time("2024-01-01 12:00:00.123").unwrap();
        assert!((t - (1_704_067_200.0 + 43_200.123)).abs() < 1e-6);
        assert_eq!(parse_time("2024-03-01T00:00:00Z"), Some(1_709_251_200.0));
        assert_eq!(parse_time("1704067200123"), Some(1_704_067_200.123));
        assert_eq!(parse_time("2024-13-01 00:00:00"), None);
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_tcp_flags("...AP.SF"), Some(0x1b));
        assert_eq!(parse_tcp_flags("0x12"), Some(0x12));
        assert_eq!(parse_tcp_flags("........"), Some(0));
        assert_eq!(parse_tcp_flags("what"), None);
        assert_eq!(parse_protocol("TCP"), Some(6));
        assert_eq!(parse_protocol("17"), Some(17));
        // nfdump 1.7 writes an IP-in-IP tunnel as `IPIP` and ICMPv6 as `ICMP6` (IANA 4, 58).
        assert_eq!(parse_protocol("IPIP"), Some(4));
        assert_eq!(parse_protocol("ICMP6"), Some(58));
        assert_eq!(parse_protocol("ipv6-frag"), Some(44));
        assert_eq!(parse_protocol("teleport"), None);
        assert_eq!(parse_count("1.5 M"), Some(1_500_000));
    }

    #[test]
    fn maps_parse_and_reject_unknown_names() {
        let m = parse_map("src_ip=sa, dst_ip=da\n# comment\nbytes=ibyt").unwrap();
        assert_eq!(m.column("src_ip"), "sa");
        assert_eq!(m.column("bytes"), "ibyt");
        assert_eq!(m.column("packets"), "packets");
        assert!(parse_map("source=sa").is_err());
        assert!(parse_map("src_ip").is_err());
    }

    const NFDUMP: &str = "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt\n\
        2024-01-01 12:00:00.123,2024-01-01 12:05:00.000,299.877,10.0.0.5,198.51.100.7,51000,3333,TCP,...AP.S.,0,0,120,9000,0,0\n\
        2024-01-01 12:00:01,2024-01-01 12:00:02,1.0,fe80::1,fe80::2,5353,5353,UDP,........,0,0,2,180,0,0\n\
        2024-01-01 12:00:03,2024-01-01 12:00:03,0.0,not-an-ip,10.0.0.1,1,2,TCP,........,0,0,1,40,0,0\n\
        Summary\nflows,bytes,packets,avg_bps,avg_pps,avg_bpp\n3,9220,123,0,0,0\n";

    /// The records and summary of a CSV table held in a string.
    fn read(label: &str, table: &str, map: &ColumnMap) -> (Vec<ExportRecord>, NetflowSummary) {
        let mut summary = NetflowSummary::default();
        let mut got = Vec::new();
        read_csv_from(
            label,
            BufReader::new(table.as_bytes()),
            map,
            &mut summary,
            &mut |r| {
                got.push(r);
                Ok(())
            },
        )
        .unwrap();
        (got, summary)
    }

    #[test]
    fn nfdump_csv_rows_and_trailer() {
        let (got, summary) = read("t.csv", NFDUMP, &ColumnMap::nfdump());
        assert_eq!(got.len(), 2);
        assert_eq!(summary.rows, 3);
        assert_eq!(summary.rows_skipped, 1);
        assert_eq!(summary.trailer_lines, 3);
        assert!(
            summary.messages[0].contains("t.csv: line 4"),
            "{:?}",
            summary.messages
        );
        let r = &got[0];
        assert_eq!((r.src_port, r.dst_port, r.protocol), (51000, 3333, 6));
        assert_eq!((r.packets, r.bytes, r.tcp_flags), (120, 9000, 0x1a));
        assert!((r.first - (1_704_067_200.0 + 43_200.123)).abs() < 1e-6);
        assert!(r.reverse.is_none());
        assert!(got[1].src_ip.is_ipv6());
    }

    /// Quoted fields (a separator and doubled quotes inside, a line break inside), CRLF line
    /// ends and a last line without one: the rows and line numbers a spreadsheet would give.
    #[test]
    fn quoted_fields_and_line_ends() {
        let table = "src_ip,dst_ip,src_port,dst_port,protocol,first,packets,bytes,note\r\n\
            10.0.0.1,10.0.0.2,1000,443,6,1700000000,3,300,\"a, \"\"quoted\"\" note\"\r\n\
            \"10.0.0.3\",10.0.0.4,1001,443,tcp,1700000001,4,400,\"two\r\nlines\"\r\n\
            10.0.0.5,bad,1002,443,6,1700000002,5,500,x\r\n\
            10.0.0.7,10.0.0.8,1003,53,udp,1700000003,6,600,last";
        let (got, summary) = read("q.csv", table, &ColumnMap::default());
        assert_eq!(summary.rows, 4);
        assert_eq!(summary.rows_skipped, 1);
        // The bad row is on line 5: the quoted line break of row 2 took a line.
        assert!(
            summary.messages[0].contains("q.csv: line 5"),
            "{:?}",
            summary.messages
        );
        let ports: Vec<(u16, u16, u8, u64)> = got
            .iter()
            .map(|r| (r.src_port, r.dst_port, r.protocol, r.packets))
            .collect();
        assert_eq!(
            ports,
            [(1000, 443, 6, 3), (1001, 443, 6, 4), (1003, 53, 17, 6)]
        );
        assert_eq!(got[1].src_ip.to_string(), "10.0.0.3");
        assert_eq!(got[2].first, 1_700_000_003.0);
    }

    #[test]
    fn a_table_without_the_needed_columns_says_which() {
        let mut summary = NetflowSummary::default();
        let e = read_csv_from(
            "x.csv",
            BufReader::new("a,b\n1,2\n".as_bytes()),
            &ColumnMap::default(),
            &mut summary,
            &mut |_| Ok(()),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("x.csv") && e.contains("src_ip"), "{e}");
    }
}
