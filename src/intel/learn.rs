//! `feed learn`: what scored captures prove goes back into the feeds.
//!
//! A flow that `poolscope score` called `mining` because it saw the Stratum protocol, or because
//! its name is a listed pool domain (as its `evidence` column says), vouches for the server it talked to: its certificate, the
//! SNI it asked for and the server's address and port are added to `pool-certs.tsv`,
//! `pool-domains.tsv` and `pool-endpoints.tsv` with source `learned`. Flows called `mining` for
//! other reasons (a listed address or certificate alone) teach nothing new and are skipped, so
//! the feeds cannot feed on themselves. Values are de-duplicated across flows and against the
//! files (the same value from `learned` is never added twice). The flows that taught each value
//! (capture and flow id) go in the certificate row's note and, for every kind, in
//! `learned-from.tsv` beside the feeds, a file the feed loader does not read.

use crate::fingerprint::cert::iso8601_utc;
use crate::intel::feeds::{DomainKind, EndpointAddr, PoolCert, PoolDomain, PoolEndpoint};
use crate::intel::value::{parse_domain, parse_hex, IpNet};
use crate::intel::{merge_into_dir, FeedEntry, FeedError, FeedFile, MergeReport, Provenance};
use crate::output::write_atomic;
use crate::score::Evidence;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The source name of learned rows.
pub const LEARNED_SOURCE: &str = "learned";
/// The file beside the feeds that names the flows behind every learned value.
pub const LEARNED_FROM_FILE: &str = "learned-from.tsv";
const LEARNED_FROM_COLUMNS: &str = "file\tvalue\tcapture\tflow_id\treason\tfirst_seen\tlast_seen";

/// A flow that taught a value.
#[derive(Debug, Clone, PartialEq)]
struct Teacher {
    capture: String,
    flow_id: String,
    reason: String,
    first: f64,
    last: f64,
}

/// A value and the flows that show it.
#[derive(Debug, Clone, Default)]
struct Lesson {
    subject: String,
    issuer: String,
    host: String,
    teachers: Vec<Teacher>,
}

impl Lesson {
    fn first(&self) -> f64 {
        self.teachers
            .iter()
            .map(|t| t.first)
            .fold(f64::MAX, f64::min)
    }
    fn last(&self) -> f64 {
        self.teachers
            .iter()
            .map(|t| t.last)
            .fold(f64::MIN, f64::max)
    }
}

/// What a learn run read and wrote.
#[derive(Debug, Clone, Default)]
pub struct LearnReport {
    /// Flow records read.
    pub flows: usize,
    /// Flows scored `mining` by a Stratum rule or a pool-domain match.
    pub teaching_flows: usize,
    /// Lines that were not flow records (`file:line: reason`).
    pub bad_lines: Vec<String>,
    /// What the merge added and found present, per feed file.
    pub merge: MergeReport,
    /// Rows added to `learned-from.tsv`.
    pub provenance_rows: usize,
}

impl fmt::Display for LearnReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "learn: {} flows read, {} scored mining by a Stratum rule or a pool domain",
            self.flows, self.teaching_flows
        )?;
        for l in self.bad_lines.iter().take(10) {
            writeln!(f, "learn: skipped {l}")?;
        }
        if self.bad_lines.len() > 10 {
            writeln!(f, "learn: skipped {} more lines", self.bad_lines.len() - 10)?;
        }
        for line in self.merge.to_string().lines() {
            writeln!(f, "learn: {line}")?;
        }
        writeln!(
            f,
            "learn: {LEARNED_FROM_FILE}: {} rows added",
            self.provenance_rows
        )
    }
}

/// What makes a flow a teacher, read from its `evidence` column: a mining protocol seen in the
/// flow, or an effective strong match of a listed pool domain (hints and matches an allowlist
/// cancels never count). Returned as the reason named in `learned-from.tsv`:
/// `stratum:<dialect>:<method>` or `feed:domain:<listed domain>`.
fn teaching_reason(rec: &Value) -> Option<String> {
    if rec.get("verdict").and_then(Value::as_str) != Some("mining") {
        return None;
    }
    // Item by item: a kind this build does not know leaves the others readable.
    let evidence = rec.get("evidence")?.as_array()?;
    evidence
        .iter()
        .filter_map(|e| Evidence::deserialize(e).ok())
        .find_map(|e| match e {
            Evidence::Stratum {
                dialect, method, ..
            } => Some(format!("stratum:{dialect}:{method}")),
            Evidence::Feed {
                list,
                value,
                strength,
                effective: true,
                ..
            } if list == "domain" && strength == "mining" => Some(format!("feed:domain:{value}")),
            _ => None,
        })
}

fn field(rec: &Value, key: &str) -> Option<String> {
    match rec.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn day(epoch: f64) -> String {
    iso8601_utc(epoch as i64)
        .map(|s| s[..10].to_string())
        .unwrap_or_else(|| "1970-01-01".into())
}

/// The value key of each lesson kind.
type Lessons = BTreeMap<(FeedFile, String), Lesson>;

/// Reads one scored NDJSON text into `lessons`.
fn read_scored(name: &str, text: &str, lessons: &mut Lessons, report: &mut LearnReport) {
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec: Value = match serde_json::from_str(line) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                report
                    .bad_lines
                    .push(format!("{name}:{}: not a JSON object", i + 1));
                continue;
            }
            Err(e) => {
                report.bad_lines.push(format!("{name}:{}: {e}", i + 1));
                continue;
            }
        };
        report.flows += 1;
        let Some(reason) = teaching_reason(&rec) else {
            continue;
        };
        report.teaching_flows += 1;
        let first = rec.get("first_seen").and_then(Value::as_f64).unwrap_or(0.0);
        let last = rec
            .get("last_seen")
            .and_then(Value::as_f64)
            .unwrap_or(first);
        let teacher = Teacher {
            capture: field(&rec, "capture").unwrap_or_else(|| name.to_string()),
            flow_id: field(&rec, "flow_id").unwrap_or_default(),
            reason,
            first,
            last,
        };
        let sni = field(&rec, "sni").and_then(|s| parse_domain(&s, 2).ok());
        let mut teach = |file: FeedFile, value: String, fill: &dyn Fn(&mut Lesson)| {
            let l = lessons.entry((file, value)).or_default();
            fill(l);
            if !l.teachers.contains(&teacher) {
                l.teachers.push(teacher.clone());
            }
        };
        let sha1 = field(&rec, "cert_sha1").and_then(|h| parse_hex(&h, 40, "sha1").ok());
        let sha256 = field(&rec, "cert_sha256").and_then(|h| parse_hex(&h, 64, "sha256").ok());
        if sha1.is_some() || sha256.is_some() {
            let key = format!(
                "{}/{}",
                sha1.unwrap_or_default(),
                sha256.unwrap_or_default()
            );
            let subject = field(&rec, "cert_subject").unwrap_or_default();
            let issuer = field(&rec, "cert_issuer").unwrap_or_default();
            teach(FeedFile::PoolCerts, key, &|l| {
                if l.subject.is_empty() {
                    l.subject = subject.clone();
                    l.issuer = issuer.clone();
                }
            });
        }
        if let Some(domain) = &sni {
            teach(FeedFile::PoolDomains, domain.clone(), &|_| {});
        }
        let ip = field(&rec, "dst_ip").and_then(|s| s.parse::<IpAddr>().ok());
        let port = rec
            .get("dst_port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p > 0);
        if let (Some(ip), Some(port)) = (ip, port) {
            let value = format!("{}|{port}", ip.to_canonical());
            let host = sni.clone().unwrap_or_default();
            teach(FeedFile::PoolEndpoints, value, &|l| {
                if l.host.is_empty() {
                    l.host = host.clone();
                }
            });
        }
    }
}

/// `learned from CAPTURE flow ID (REASON)`, and how many more flows taught it.
fn note(l: &Lesson) -> String {
    let Some(t) = l.teachers.first() else {
        return String::new();
    };
    let mut s = format!(
        "learned from {} flow {} ({})",
        t.capture, t.flow_id, t.reason
    );
    if l.teachers.len() > 1 {
        s.push_str(&format!(
            "; and {} more flows (see {LEARNED_FROM_FILE})",
            l.teachers.len() - 1
        ));
    }
    s
}

/// The feed entry a lesson becomes.
fn entry(file: FeedFile, value: &str, l: &Lesson) -> Option<FeedEntry> {
    let (first, last) = (day(l.first()), day(l.last()));
    let provenance = Provenance::new(LEARNED_SOURCE, last.clone());
    Some(match file {
        FeedFile::PoolCerts => {
            let (sha1, sha256) = value.split_once('/')?;
            let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
            FeedEntry::Cert(PoolCert {
                sha1: some(sha1),
                sha256: some(sha256),
                spki_sha256: None,
                subject: l.subject.clone(),
                issuer: l.issuer.clone(),
                first_seen: first,
                last_seen: last,
                note: note(l),
                provenance,
            })
        }
        FeedFile::PoolDomains => FeedEntry::PoolDomain(PoolDomain {
            domain: value.to_string(),
            coin: String::new(),
            kind: DomainKind::Pool,
            note: String::new(),
            provenance,
        }),
        FeedFile::PoolEndpoints => {
            let (ip, port) = value.split_once('|')?;
            FeedEntry::Endpoint(PoolEndpoint {
                addr: EndpointAddr::Net(IpNet::host(ip.parse().ok()?)),
                port: port.parse().ok(),
                coin: String::new(),
                host: l.host.clone(),
                kind: DomainKind::Pool,
                note: String::new(),
                provenance,
            })
        }
        _ => return None,
    })
}

/// The value a lesson is written under in `learned-from.tsv`: as the feed file shows it.
fn shown(file: FeedFile, value: &str) -> String {
    match file {
        FeedFile::PoolEndpoints => match value.split_once('|') {
            Some((ip, port)) if ip.contains(':') => format!("[{ip}]:{port}"),
            Some((ip, port)) => format!("{ip}:{port}"),
            None => value.to_string(),
        },
        FeedFile::PoolCerts => value
            .split('/')
            .rfind(|h| !h.is_empty())
            .unwrap_or(value)
            .to_string(),
        _ => value.to_string(),
    }
}

/// Appends the teachers of `lessons` to `dir/learned-from.tsv`, skipping rows already there.
fn record_teachers(dir: &Path, lessons: &Lessons) -> Result<usize, FeedError> {
    let path = dir.join(LEARNED_FROM_FILE);
    let mut text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => format!(
            "# Which flow taught each `learned` feed row (poolscope feed learn). Not a feed file: \
             the loader ignores it.\n{LEARNED_FROM_COLUMNS}\n"
        ),
        Err(e) => return Err(FeedError::io(&path, e)),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let key = |l: &str| -> Option<String> {
        let f: Vec<&str> = l.split('\t').collect();
        Some(format!(
            "{}\t{}\t{}\t{}",
            f.first()?,
            f.get(1)?,
            f.get(2)?,
            f.get(3)?
        ))
    };
    let mut present: HashSet<String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(key)
        .collect();
    let mut added = 0;
    for ((file, value), lesson) in lessons {
        for t in &lesson.teachers {
            let row = [
                file.file_name().to_string(),
                shown(*file, value),
                t.capture.clone(),
                t.flow_id.clone(),
                t.reason.clone(),
                day(t.first),
                day(t.last),
            ]
            .map(|c| c.replace(['\t', '\n', '\r'], " "))
            .join("\t");
            if key(&row).is_some_and(|k| present.insert(k)) {
                text.push_str(&row);
                text.push('\n');
                added += 1;
            }
        }
    }
    if added > 0 {
        std::fs::create_dir_all(dir).map_err(|e| FeedError::io(dir, e))?;
        write_atomic(&path, text.as_bytes()).map_err(|e| FeedError::io(&path, e))?;
    }
    Ok(added)
}

/// Reads the scored NDJSON files `paths` (`-` = standard input) and adds what their teaching
/// flows show to the feeds in `dir`. A file that cannot be read stops the run before anything
/// is written; lines that are not flow records are skipped and reported.
pub fn learn(paths: &[PathBuf], dir: &Path) -> Result<LearnReport, FeedError> {
    let mut report = LearnReport::default();
    let mut lessons = Lessons::new();
    for p in paths {
        let name = p.display().to_string();
        let mut text = String::new();
        let read = if p.as_os_str() == "-" {
            std::io::stdin().read_to_string(&mut text).map(|_| ())
        } else {
            std::fs::File::open(p).and_then(|mut f| f.read_to_string(&mut text).map(|_| ()))
        };
        read.map_err(|e| FeedError::io(p, e))?;
        read_scored(&name, &text, &mut lessons, &mut report);
    }
    let entries: Vec<FeedEntry> = lessons
        .iter()
        .filter_map(|((file, value), l)| entry(*file, value, l))
        .collect();
    report.merge = merge_into_dir(dir, &entries)?;
    report.provenance_rows = record_teachers(dir, &lessons)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::PoolFeed;

    const SCORED: &str = r#"{"flow_id":3,"capture":"a.pcap","verdict":"mining","reasons":["stratum:xmr:login","stratum:agent:XMRig/6"],"evidence":[{"kind":"stratum","dialect":"xmr","method":"login","agent":"XMRig/6"}],"dst_ip":"198.51.100.7","dst_port":3333,"sni":null,"cert_sha1":null,"cert_sha256":null,"first_seen":1764115200.5,"last_seen":1764118800.0}
{"flow_id":4,"capture":"a.pcap","verdict":"mining","reasons":["feed:domain:pool.example (coinblockerlists 2018-06-06)"],"evidence":[{"kind":"feed","list":"domain","field":"sni","observed":"xmr.pool.example","value":"pool.example","source":"coinblockerlists","strength":"mining","effective":true}],"dst_ip":"2001:db8::7","dst_port":443,"sni":"XMR.Pool.Example","cert_sha1":"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01","cert_sha256":"0101010101010101010101010101010101010101010101010101010101010101","cert_subject":"CN=xmr.pool.example","cert_issuer":"CN=xmr.pool.example","first_seen":1764201600.0,"last_seen":1764201700.0}
{"flow_id":9,"capture":"b.pcap","verdict":"mining","reasons":["feed:domain:pool.example (coinblockerlists 2018-06-06)"],"evidence":[{"kind":"feed","list":"domain","field":"sni","observed":"xmr.pool.example","value":"pool.example","source":"coinblockerlists","strength":"mining","effective":true}],"dst_ip":"2001:db8::7","dst_port":443,"sni":"xmr.pool.example","cert_sha1":"abcdef0123456789abcdef0123456789abcdef01","cert_sha256":"0101010101010101010101010101010101010101010101010101010101010101","first_seen":1764288000.0,"last_seen":1764288001.0}
{"flow_id":5,"capture":"a.pcap","verdict":"mining","reasons":["feed:endpoint:192.0.2.1:3333 (smashed 2018-05-13)"],"evidence":[{"kind":"feed","list":"endpoint","field":"dst_ip","observed":"192.0.2.1","value":"192.0.2.1:3333","source":"smashed","strength":"mining","effective":true}],"dst_ip":"192.0.2.1","dst_port":3333,"sni":"other.example"}
{"flow_id":6,"capture":"a.pcap","verdict":"suspect","reasons":["hint:port:*:3333 (smashed-ports 2018-05-13, weak)"],"evidence":[{"kind":"feed","list":"endpoint","field":"dst_port","observed":"3333","value":"*:3333","source":"smashed-ports","strength":"suspect","effective":true}],"dst_ip":"192.0.2.2","dst_port":3333}
{"flow_id":7,"capture":"a.pcap","verdict":"mining","reasons":["allow:host:x.example (a 2018) suppresses feed:domain:x.example (b 2018)","hint:ja3:abc (weak)"],"evidence":[{"kind":"feed","list":"domain","field":"sni","observed":"x.example","value":"x.example","source":"b","strength":"mining","effective":false},{"kind":"feed","list":"fingerprint","field":"ja3","observed":"abc","value":"abc","source":"lab","strength":"suspect","effective":true}],"dst_ip":"192.0.2.3","dst_port":443,"sni":"x.example"}
not json
"#;

    #[test]
    fn only_stratum_and_domain_flows_teach() {
        let dir = tempfile::tempdir().unwrap();
        let scored = dir.path().join("scored.ndjson");
        std::fs::write(&scored, SCORED).unwrap();
        let feeds = dir.path().join("feeds");
        let r = learn(std::slice::from_ref(&scored), &feeds).unwrap();
        assert_eq!((r.flows, r.teaching_flows), (6, 3));
        assert_eq!(r.bad_lines.len(), 1);
        assert!(
            r.bad_lines[0].contains("scored.ndjson:7: expected"),
            "{:?}",
            r.bad_lines
        );
        let feed = PoolFeed::load(&feeds).unwrap();
        let eps: Vec<String> = feed.endpoints.iter().map(|e| e.display_value()).collect();
        assert_eq!(eps, ["198.51.100.7:3333", "[2001:db8::7]:443"]);
        assert_eq!(feed.endpoints[1].host, "xmr.pool.example");
        assert_eq!(feed.pool_domains.len(), 1);
        assert_eq!(feed.pool_domains[0].domain, "xmr.pool.example");
        assert_eq!(feed.certs.len(), 1, "two flows, one certificate");
        let c = &feed.certs[0];
        assert_eq!(
            c.sha1.as_deref(),
            Some("abcdef0123456789abcdef0123456789abcdef01")
        );
        assert_eq!(
            (c.first_seen.as_str(), c.last_seen.as_str()),
            ("2025-11-27", "2025-11-28")
        );
        assert_eq!(
            c.note,
            "learned from a.pcap flow 4 (feed:domain:pool.example); and 1 more flows (see \
             learned-from.tsv)"
        );
        assert!(feed
            .entries()
            .all(|e| e.provenance().source == LEARNED_SOURCE));
        let from = std::fs::read_to_string(feeds.join(LEARNED_FROM_FILE)).unwrap();
        assert!(from.contains("pool-endpoints.tsv\t198.51.100.7:3333\ta.pcap\t3\tstratum:xmr:login\t2025-11-26\t2025-11-26\n"), "{from}");
        assert!(from.contains("pool-certs.tsv\t0101010101010101010101010101010101010101010101010101010101010101\tb.pcap\t9\t"));
        assert_eq!(r.provenance_rows, 7);

        // Learning the same flows again adds nothing.
        let r = learn(&[scored], &feeds).unwrap();
        assert_eq!(r.merge.added.values().sum::<usize>(), 0);
        assert_eq!(r.merge.already_present.values().sum::<usize>(), 4);
        assert_eq!(r.provenance_rows, 0);
        assert!(r
            .to_string()
            .contains("pool-certs.tsv: 0 added, 1 already present"));
    }

    #[test]
    fn a_missing_file_stops_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let e = learn(&[dir.path().join("nope.ndjson")], dir.path()).unwrap_err();
        assert!(e.to_string().contains("nope.ndjson"), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
