//! Reading MISP events and STIX 2.1 bundles back into feed rows: the formats threat
//! intelligence is shared in. An attribute or indicator that `poolscope feed export` wrote
//! carries its feed rows whole and gives them back unchanged, provenance included. Any other
//! (a partner's event or bundle) is read for the indicator types the export writes, its
//! provenance taken from the file: the creating organisation or identity as source, the
//! attribute's first-seen (or the event's date), the indicator's `valid_from`, as date. The
//! import's source and date stand in only where the file gives none.
//!
//! One record (a MISP attribute, a STIX indicator) is one counted "line"; records that are not
//! indicators (STIX identities, relationships) count as comments.

use super::{Ctx, FeedError, Sink};
use crate::intel::export::{row_from_json, stix_extension_id, MISP_ROWS_MARKER};
use crate::intel::feeds::{parse_row, FeedEntry, FeedFile};
use crate::intel::value::parse_date;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Parses the JSON text, an error naming the line serde stopped at.
fn parse_json(name: &str, text: &str) -> Result<Value, FeedError> {
    serde_json::from_str(text)
        .map_err(|e| FeedError::line(Path::new(name), e.line().max(1), format!("not JSON: {e}")))
}

/// The `YYYY-MM-DD` at the start of a timestamp, if it is a valid date.
fn day_of(ts: Option<&Value>) -> Option<String> {
    let s = ts?.as_str()?;
    let day = s.get(..10).unwrap_or(s);
    parse_date(day).ok()
}

/// Source and date a record gives, with the import's own as fallback.
struct Origin {
    source: String,
    date: String,
}

/// The first line of a free-text field, as a note (the rest of a poolscope comment is JSON).
fn first_line(v: Option<&Value>) -> String {
    v.and_then(Value::as_str)
        .and_then(|s| s.lines().next())
        .unwrap_or("")
        .replace('\t', " ")
        .trim()
        .to_string()
}

/// A third-party value as a feed row of `file`, built from named cells and checked by the feed
/// files' own row parser.
fn third_party(
    ctx: &Ctx<'_>,
    file: FeedFile,
    origin: &Origin,
    cells: &[(&str, &str)],
) -> Result<FeedEntry, String> {
    let mut all: BTreeMap<&str, String> = cells.iter().map(|(k, v)| (*k, v.to_string())).collect();
    all.insert("source", origin.source.clone());
    all.insert("date", origin.date.clone());
    if matches!(file, FeedFile::PoolDomains | FeedFile::PoolEndpoints) {
        all.insert("kind", ctx.opts.domain_kind.as_str().to_string());
        let note = all.get("note").cloned().unwrap_or_default();
        let note = match (ctx.note.as_str(), note.as_str()) {
            (n, "") => n.to_string(),
            ("", d) => d.to_string(),
            (n, d) => format!("{n}; {d}"),
        };
        all.insert("note", note);
    }
    if file == FeedFile::PoolCerts {
        all.entry("first_seen")
            .or_insert_with(|| origin.date.clone());
    }
    let get = |c: &str| all.get(c).map_or("", |s| s.trim());
    parse_row(file, &get)
}

/// Adds the rows a poolscope record carries; `false` when `rows` is not a list.
fn own_rows(rows: &Value, line: usize, sink: &mut Sink) -> bool {
    let Value::Array(rows) = rows else {
        return false;
    };
    if rows.is_empty() {
        sink.out.report.comments += 1;
    }
    for row in rows {
        match row_from_json(row) {
            Ok(e) => sink.add(e),
            Err(reason) => sink
                .out
                .report
                .skip(line, format!("bad poolscope row: {reason}")),
        }
    }
    true
}

/// Reads a MISP event (`{"Event": …}`, a bare event, or a `{"response": [...]}` list of them).
pub(super) fn misp(
    name: &str,
    text: &str,
    ctx: &Ctx<'_>,
    sink: &mut Sink,
) -> Result<(), FeedError> {
    let root = parse_json(name, text)?;
    let events: Vec<&Value> = match &root {
        Value::Object(o) if o.contains_key("response") => o["response"]
            .as_array()
            .map(|a| a.iter().map(|e| e.get("Event").unwrap_or(e)).collect())
            .unwrap_or_default(),
        Value::Object(o) if o.contains_key("Event") => vec![&o["Event"]],
        Value::Array(a) => a.iter().map(|e| e.get("Event").unwrap_or(e)).collect(),
        v => vec![v],
    };
    let mut line = 0;
    for event in events {
        let org = ["Orgc", "Org"]
            .iter()
            .find_map(|k| event.get(k)?.get("name")?.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let event_date = day_of(event.get("date"));
        let mut attributes: Vec<&Value> = event
            .get("Attribute")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        for object in event
            .get("Object")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            attributes.extend(
                object
                    .get("Attribute")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            );
        }
        for attr in attributes {
            line += 1;
            sink.out.report.lines += 1;
            misp_attribute(attr, line, org, event_date.as_deref(), ctx, sink);
        }
    }
    Ok(())
}

fn misp_attribute(
    attr: &Value,
    line: usize,
    org: Option<&str>,
    event_date: Option<&str>,
    ctx: &Ctx<'_>,
    sink: &mut Sink,
) {
    let comment = attr.get("comment").and_then(Value::as_str).unwrap_or("");
    if let Some(json) = comment
        .lines()
        .find_map(|l| l.strip_prefix(MISP_ROWS_MARKER))
    {
        match serde_json::from_str::<Value>(json) {
            Ok(rows) if own_rows(&rows, line, sink) => return,
            Ok(_) => return sink.out.report.skip(line, "poolscope rows: not a list"),
            Err(e) => {
                return sink
                    .out
                    .report
                    .skip(line, format!("poolscope rows: not JSON: {e}"))
            }
        }
    }
    let origin = Origin {
        source: org.unwrap_or(ctx.opts.source.trim()).to_string(),
        date: day_of(attr.get("first_seen"))
            .or(event_date.map(str::to_string))
            .unwrap_or_else(|| ctx.opts.date.trim().to_string()),
    };
    let ty = attr.get("type").and_then(Value::as_str).unwrap_or("");
    let value = attr
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    let note = first_line(attr.get("comment"));
    let got = match ty {
        "domain" | "hostname" => third_party(
            ctx,
            FeedFile::PoolDomains,
            &origin,
            &[("domain", value), ("note", note.as_str())],
        ),
        "ip-dst" => third_party(
            ctx,
            FeedFile::PoolEndpoints,
            &origin,
            &[("ip", value), ("note", note.as_str())],
        ),
        "ip-dst|port" => match value.rsplit_once('|') {
            Some((ip, port)) => third_party(
                ctx,
                FeedFile::PoolEndpoints,
                &origin,
                &[("ip", ip), ("port", port), ("note", note.as_str())],
            ),
            None => Err(format!("ip-dst|port value without '|': {value:?}")),
        },
        "x509-fingerprint-sha1" | "x509-fingerprint-sha256" => {
            let col = if ty.ends_with("sha1") {
                "sha1"
            } else {
                "sha256"
            };
            let hash = value.to_ascii_lowercase();
            third_party(
                ctx,
                FeedFile::PoolCerts,
                &origin,
                &[(col, hash.as_str()), ("note", note.as_str())],
            )
        }
        "ja3-fingerprint-md5" => third_party(
            ctx,
            FeedFile::MinerFingerprints,
            &origin,
            &[("kind", "ja3"), ("value", value), ("client", note.as_str())],
        ),
        other => Err(format!(
            "attribute type {other:?} is not an indicator poolscope keeps"
        )),
    };
    match got {
        Ok(e) => sink.add(e),
        Err(reason) => sink.out.report.skip(line, reason),
    }
}

/// Reads a STIX 2.1 bundle (or a bare list of objects, or a single object).
pub(super) fn stix(
    name: &str,
    text: &str,
    ctx: &Ctx<'_>,
    sink: &mut Sink,
) -> Result<(), FeedError> {
    let root = parse_json(name, text)?;
    let objects: Vec<&Value> = match &root {
        Value::Array(a) => a.iter().collect(),
        v if v.get("type").and_then(Value::as_str) == Some("bundle") => v
            .get("objects")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        v => vec![v],
    };
    let identities: BTreeMap<&str, &str> = objects
        .iter()
        .filter(|o| o.get("type").and_then(Value::as_str) == Some("identity"))
        .filter_map(|o| Some((o.get("id")?.as_str()?, o.get("name")?.as_str()?)))
        .collect();
    let extension = stix_extension_id();
    for (i, obj) in objects.iter().enumerate() {
        let line = i + 1;
        sink.out.report.lines += 1;
        if obj.get("type").and_then(Value::as_str) != Some("indicator") {
            sink.out.report.comments += 1;
            continue;
        }
        if let Some(rows) = obj
            .get("extensions")
            .and_then(|x| x.get(&extension))
            .and_then(|x| x.get("rows"))
        {
            if !own_rows(rows, line, sink) {
                sink.out.report.skip(line, "poolscope rows: not a list");
            }
            continue;
        }
        let source = obj
            .get("created_by_ref")
            .and_then(Value::as_str)
            .and_then(|id| identities.get(id))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .unwrap_or(ctx.opts.source.trim());
        let origin = Origin {
            source: source.to_string(),
            date: day_of(obj.get("valid_from"))
                .or_else(|| day_of(obj.get("created")))
                .unwrap_or_else(|| ctx.opts.date.trim().to_string()),
        };
        let note = match first_line(obj.get("name")) {
            n if n.is_empty() => first_line(obj.get("description")),
            n => n,
        };
        let pattern_type = obj
            .get("pattern_type")
            .and_then(Value::as_str)
            .unwrap_or("stix");
        let pattern = obj.get("pattern").and_then(Value::as_str).unwrap_or("");
        if pattern_type != "stix" {
            sink.out
                .report
                .skip(line, format!("pattern type {pattern_type:?} is not stix"));
            continue;
        }
        match stix_pattern(pattern) {
            Ok(values) if values.is_empty() => sink
                .out
                .report
                .skip(line, "pattern names no value poolscope keeps"),
            Ok(values) => {
                for v in values {
                    let got = match &v {
                        PatternValue::Domain(d) => third_party(
                            ctx,
                            FeedFile::PoolDomains,
                            &origin,
                            &[("domain", d.as_str()), ("note", note.as_str())],
                        ),
                        PatternValue::Addr(ip, port) => third_party(
                            ctx,
                            FeedFile::PoolEndpoints,
                            &origin,
                            &[
                                ("ip", ip.as_str()),
                                ("port", port.as_str()),
                                ("note", note.as_str()),
                            ],
                        ),
                        PatternValue::Cert { sha1, sha256 } => third_party(
                            ctx,
                            FeedFile::PoolCerts,
                            &origin,
                            &[
                                ("sha1", sha1.as_str()),
                                ("sha256", sha256.as_str()),
                                ("note", note.as_str()),
                            ],
                        ),
                    };
                    match got {
                        Ok(e) => sink.add(e),
                        Err(reason) => sink.out.report.skip(line, reason),
                    }
                }
            }
            Err(reason) => sink.out.report.skip(line, reason),
        }
    }
    Ok(())
}

/// A value a STIX pattern names.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PatternValue {
    Domain(String),
    /// Address (or CIDR) and port ("" for any).
    Addr(String, String),
    /// Certificate hashes ("" when absent).
    Cert {
        sha1: String,
        sha256: String,
    },
}

/// The comparisons of a pattern: `(object path, value)`, values unquoted.
fn comparisons(pattern: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                // A quoted string, `\'` and `\\` escaped; kept as one token, quote first.
                let mut s = String::from("'");
                loop {
                    match chars.next() {
                        None => return Err("unterminated string in pattern".into()),
                        Some('\\') => s.push(chars.next().ok_or("dangling escape in pattern")?),
                        Some('\'') => break,
                        Some(ch) => s.push(ch),
                    }
                }
                // A path segment like hashes.'SHA-1' continues the current token.
                if cur.ends_with('.') {
                    cur.push_str(&s[1..]);
                } else {
                    if !cur.is_empty() {
                        tokens.push(std::mem::take(&mut cur));
                    }
                    tokens.push(s);
                }
            }
            '[' | ']' | '(' | ')' => {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
            }
            '=' => {
                // `=` is an operator even without spaces; `!=`, `<=`, `>=` keep their first
                // character.
                if matches!(cur.as_str(), "!" | "<" | ">") {
                    cur.push('=');
                    tokens.push(std::mem::take(&mut cur));
                } else {
                    if !cur.is_empty() {
                        tokens.push(std::mem::take(&mut cur));
                    }
                    tokens.push("=".into());
                }
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i].as_str() {
            "AND" | "OR" => i += 1,
            _ => {
                let (Some(op), Some(val)) = (tokens.get(i + 1), tokens.get(i + 2)) else {
                    return Err(format!("incomplete comparison at {:?}", tokens[i]));
                };
                if op != "=" {
                    return Err(format!("operator {op:?} (only = is read)"));
                }
                let val = val.strip_prefix('\'').unwrap_or(val.as_str());
                out.push((tokens[i].clone(), val.to_string()));
                i += 3;
            }
        }
    }
    if out.is_empty() {
        return Err("empty pattern".into());
    }
    Ok(out)
}

/// The values of a STIX pattern that compares domain names, addresses, a server address with
/// its port, or certificate hashes, and nothing else.
pub(super) fn stix_pattern(pattern: &str) -> Result<Vec<PatternValue>, String> {
    let cmps = comparisons(pattern)?;
    let mut out = Vec::new();
    let (mut dst, mut port, mut sha1, mut sha256) = (None, None, String::new(), String::new());
    for (path, value) in cmps {
        match path.as_str() {
            "domain-name:value" => out.push(PatternValue::Domain(value)),
            "ipv4-addr:value" | "ipv6-addr:value" => {
                out.push(PatternValue::Addr(value, String::new()))
            }
            "network-traffic:dst_ref.value" => dst = Some(value),
            "network-traffic:dst_port" => port = Some(value),
            "network-traffic:dst_ref.type" => {}
            "x509-certificate:hashes.SHA-1" | "x509-certificate:hashes.SHA1" => {
                sha1 = value.to_ascii_lowercase()
            }
            "x509-certificate:hashes.SHA-256" | "x509-certificate:hashes.SHA256" => {
                sha256 = value.to_ascii_lowercase()
            }
            other => return Err(format!("pattern compares {other} (not kept)")),
        }
    }
    match (dst, port) {
        (Some(d), p) => out.push(PatternValue::Addr(d, p.unwrap_or_default())),
        (None, Some(_)) => return Err("a port without a server address".into()),
        (None, None) => {}
    }
    if !sha1.is_empty() || !sha256.is_empty() {
        out.push(PatternValue::Cert { sha1, sha256 });
    }
    Ok(out)
}
