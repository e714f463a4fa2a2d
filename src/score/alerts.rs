//! Alerts: a flow is reported as soon as its verdict first reaches `suspect` or `mining`, and
//! again each time it rises, while the flow is still open (from the pipeline's updates, see
//! [`ExtractConfig::updates`](crate::extract::ExtractConfig::updates)) or when it ends. A miner
//! keeps one pool connection for hours: the flow record at its end comes too late to act on.

use super::Verdict;
use crate::error::{Error, Result};
use crate::output::FlowRecord;
use rustc_hash::FxHashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One alert: the verdict the flow reached and the one it had been reported at before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// The verdict now, `suspect` or `mining`.
    pub verdict: Verdict,
    /// The verdict of the flow's previous alert, none for its first.
    pub previous: Option<Verdict>,
}

/// The last alerted verdict of every open flow that has raised one.
#[derive(Debug, Default)]
pub struct AlertTracker {
    raised: FxHashMap<u64, Verdict>,
    /// Alerts raised so far.
    pub alerts: u64,
    /// Of those, raised while the flow was still open.
    pub while_open: u64,
}

impl AlertTracker {
    /// Takes a scored record (an update of an open flow or a finished flow) and says whether
    /// it raises an alert: its verdict is `suspect` or `mining` and above the flow's last
    /// alert. A finished flow is then forgotten.
    pub fn observe(&mut self, rec: &FlowRecord, verdict: Verdict) -> Option<Alert> {
        let open = rec.is_open();
        let previous = if open {
            self.raised.get(&rec.flow_id).copied()
        } else {
            self.raised.remove(&rec.flow_id)
        };
        if verdict == Verdict::Benign || previous.is_some_and(|p| p >= verdict) {
            return None;
        }
        if open {
            self.raised.insert(rec.flow_id, verdict);
            self.while_open += 1;
        }
        self.alerts += 1;
        Some(Alert { verdict, previous })
    }

    /// Open flows that have raised an alert.
    pub fn open_flows(&self) -> usize {
        self.raised.len()
    }
}

/// Where alerts go: an NDJSON file (or standard output), each line flushed as it is written
/// so that a reader following the file sees it at once.
pub struct AlertLog {
    out: Box<dyn Write + Send>,
    path: PathBuf,
    line: Vec<u8>,
    /// Which flows have alerted, and counts.
    pub tracker: AlertTracker,
}

impl AlertLog {
    /// Creates (truncates) `path`; `-` is standard output.
    pub fn create(path: &Path) -> Result<Self> {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(File::create(path).map_err(|e| Error::output(path, e))?)
        };
        Ok(Self::new(out, path.to_path_buf()))
    }

    /// Alerts written to `out`, named `path` in errors.
    pub fn new(out: Box<dyn Write + Send>, path: PathBuf) -> Self {
        AlertLog {
            out,
            path,
            line: Vec::new(),
            tracker: AlertTracker::default(),
        }
    }

    /// Writes an alert when the scored record `rec` (its verdict columns set) raises one.
    pub fn observe(&mut self, rec: &FlowRecord, verdict: Verdict) -> Result<Option<Alert>> {
        let Some(alert) = self.tracker.observe(rec, verdict) else {
            return Ok(None);
        };
        self.line.clear();
        write_alert(rec, &alert, &mut self.line);
        self.out
            .write_all(&self.line)
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::output(&self.path, e))?;
        Ok(Some(alert))
    }
}

impl AlertLog {
    /// The line of the last alert written (for copies elsewhere: a Kafka topic).
    pub fn last_line(&self) -> &[u8] {
        &self.line
    }
}

/// Appends an alert as one NDJSON line: the flow record as it stands (verdict columns
/// included), then `alert_time` (capture time of the packet that raised it, the record's
/// `last_seen`) and `previous_verdict`.
pub fn write_alert(rec: &FlowRecord, alert: &Alert, out: &mut Vec<u8>) {
    let start = out.len();
    rec.write_ndjson(out);
    // The record's line ends in "}\n": the alert's own fields go before its closing brace.
    while out.len() > start && matches!(out.last(), Some(b'\n' | b'}')) {
        out.pop();
    }
    let mut tail = serde_json::Map::new();
    tail.insert("alert_time".into(), serde_json::json!(rec.last_seen));
    tail.insert(
        "previous_verdict".into(),
        alert
            .previous
            .map_or(serde_json::Value::Null, |p| p.as_str().into()),
    );
    for (k, v) in tail {
        out.push(b',');
        out.extend_from_slice(serde_json::Value::String(k).to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(v.to_string().as_bytes());
    }
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u64, open: bool) -> FlowRecord {
        let mut r = crate::score::tests::record("192.0.2.7", 3333);
        r.flow_id = id;
        r.end_reason = if open { "open" } else { "closed" };
        r
    }

    #[test]
    fn alerts_on_first_suspect_and_on_each_rise_only() {
        let mut t = AlertTracker::default();
        assert_eq!(t.observe(&rec(7, true), Verdict::Benign), None);
        let a = t.observe(&rec(7, true), Verdict::Suspect).unwrap();
        assert_eq!((a.verdict, a.previous), (Verdict::Suspect, None));
        assert_eq!(t.observe(&rec(7, true), Verdict::Suspect), None);
        // A verdict that falls back raises nothing.
        assert_eq!(t.observe(&rec(7, true), Verdict::Benign), None);
        let a = t.observe(&rec(7, true), Verdict::Mining).unwrap();
        assert_eq!(a.previous, Some(Verdict::Suspect));
        // The end of the flow at the verdict already alerted: nothing, and the flow is gone.
        assert_eq!(t.observe(&rec(7, false), Verdict::Mining), None);
        assert_eq!(t.open_flows(), 0);
        // A flow whose evidence only its end brings alerts then.
        let a = t.observe(&rec(8, false), Verdict::Mining).unwrap();
        assert_eq!(a.previous, None);
        assert_eq!((t.alerts, t.while_open), (3, 2));
    }

    #[test]
    fn an_alert_is_the_record_with_two_more_fields() {
        let mut r = rec(3, true);
        r.last_seen = 1_700_000_123.5;
        let mut line = Vec::new();
        write_alert(
            &r,
            &Alert {
                verdict: Verdict::Mining,
                previous: Some(Verdict::Suspect),
            },
            &mut line,
        );
        assert_eq!(line.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        let plain: serde_json::Value = serde_json::to_value(&r).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj["alert_time"], serde_json::json!(1_700_000_123.5));
        assert_eq!(obj["previous_verdict"], "suspect");
        assert_eq!(obj["end_reason"], "open");
        for (k, x) in plain.as_object().unwrap() {
            assert_eq!(&obj[k], x, "{k}");
        }
        assert_eq!(obj.len(), plain.as_object().unwrap().len() + 2);
    }
}
