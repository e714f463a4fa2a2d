//! One run over many inputs: decide per input whether it is a packet capture, a flow export or
//! a Zeek/Suricata log, read each in turn, keep going past an input that is damaged or
//! unreadable, and say what happened to each. Callers (the command line, a sensor, a service) supply the sink for the
//! records and a [`Progress`] to show how far the run is; the exit status follows from the
//! [`RunOutcome`].

use super::{ExtractConfig, Extractor, Summary};
use crate::capture::CaptureEnd;
use crate::error::{Error, Result};
use crate::logs::{LogFamily, LogSummary};
use crate::netflow::{InputFormat, NetflowOptions, NetflowSummary};
use crate::output::FlowRecord;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What the inputs are, when their content should not decide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputKind {
    /// Packet captures (pcap, pcapng).
    Pcap,
    /// Captures of NetFlow/IPFIX export traffic.
    NetflowPcap,
    /// Export datagrams back to back (`.dat` dumps).
    NetflowRaw,
    /// `nfdump -o csv` output.
    NfdumpCsv,
    /// A CSV flow table.
    Csv,
    /// A Parquet flow table.
    Parquet,
    /// Zeek logs (`conn.log`, `ssl.log`, `x509.log`; TSV or JSON; gzip or not).
    Zeek,
    /// Suricata EVE JSON (`eve.json`, gzip or not).
    Eve,
}

impl InputKind {
    /// The flow-export format of this kind (None for packet captures).
    pub fn export_format(self) -> Option<InputFormat> {
        match self {
            InputKind::Pcap => None,
            InputKind::NetflowPcap => Some(InputFormat::ExportPcap),
            InputKind::NetflowRaw => Some(InputFormat::RawExport),
            InputKind::NfdumpCsv => Some(InputFormat::NfdumpCsv),
            InputKind::Csv => Some(InputFormat::Csv),
            InputKind::Parquet => Some(InputFormat::Parquet),
            InputKind::Zeek | InputKind::Eve => None,
        }
    }

    /// The log family of this kind (None for captures and exports).
    pub fn log_family(self) -> Option<LogFamily> {
        match self {
            InputKind::Zeek => Some(LogFamily::Zeek),
            InputKind::Eve => Some(LogFamily::Eve),
            _ => None,
        }
    }
}

/// The inputs of one run and how to read them.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Files in order; `-` is standard input (read as a packet capture).
    pub paths: Vec<PathBuf>,
    /// What they are; None detects it per input from the first bytes.
    pub kind: Option<InputKind>,
    /// How flow exports are read (the format is set from `kind` by [`run_inputs`]).
    pub netflow: NetflowOptions,
}

impl Inputs {
    /// Inputs of detected kinds, read with default options.
    pub fn detect(paths: Vec<PathBuf>) -> Inputs {
        Inputs {
            paths,
            ..Inputs::default()
        }
    }

    /// True when an input is a flow export rather than a packet capture.
    pub fn is_export(&self, path: &Path) -> bool {
        match self.kind {
            Some(k) => k.export_format().is_some(),
            None => path.as_os_str() != "-" && crate::netflow::detect(path).is_ok(),
        }
    }

    /// True when an input is a Zeek or Suricata log, or a directory of them (asked before
    /// [`Inputs::is_export`]: a Zeek TSV log would pass for a tab-separated flow table).
    pub fn is_log(&self, path: &Path) -> bool {
        match self.kind {
            Some(k) => k.log_family().is_some(),
            None => crate::logs::is_log_input(path),
        }
    }
}

/// Something that went wrong with one input; the run went on with the others.
#[derive(Debug)]
pub enum InputProblem {
    /// The input could not be read at all (for flow exports: the exports as a whole).
    Failed(Error),
    /// The capture ends inside a record; the flows up to there were written.
    Truncated {
        /// The input as named.
        input: String,
        /// Byte offset of the cut.
        offset: u64,
    },
    /// A corrupt record stopped reading the capture; the flows up to there were written.
    Corrupt {
        /// The input as named.
        input: String,
        /// Byte offset of the bad record.
        offset: u64,
        /// What was wrong with it.
        reason: String,
    },
}

impl InputProblem {
    /// The exit code the problem calls for: 0 for a truncated capture (a warning), 1 for damage
    /// inside an input, the error's own code for an input that could not be read.
    pub fn exit_code(&self) -> i32 {
        match self {
            InputProblem::Failed(e) => e.exit_code(),
            InputProblem::Truncated { .. } => 0,
            InputProblem::Corrupt { .. } => 1,
        }
    }
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputProblem::Failed(e) => write!(f, "{e}"),
            InputProblem::Truncated { input, offset } => write!(
                f,
                "warning: {input}: capture truncated at byte offset {offset}; flows up to there were written"
            ),
            InputProblem::Corrupt {
                input,
                offset,
                reason,
            } => write!(
                f,
                "{input}: corrupt record at byte offset {offset}: {reason}; flows up to there were written"
            ),
        }
    }
}

/// Hooks that show how a run goes; every method does nothing by default.
pub trait Progress: Sync {
    /// The run starts; `total_bytes` is the size of the inputs that are files.
    fn begin(&self, _total_bytes: u64) {}
    /// An input (or, for `flow exports`, all of them) starts.
    fn input(&self, _label: &str) {}
    /// Bytes of a capture were read.
    fn advance(&self, _bytes: u64) {}
    /// An input had a problem (reported as it happens; also kept in the outcome).
    fn problem(&self, _problem: &InputProblem) {}
    /// The flow exports were read.
    fn exports_read(&self, _summary: &NetflowSummary) {}
    /// The Zeek and Suricata logs were read.
    fn logs_read(&self, _summary: &LogSummary) {}
    /// The run is over.
    fn end(&self) {}
}

/// A [`Progress`] that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {}

/// What a run over the inputs did.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Counters of the packet-capture pipeline.
    pub summary: Summary,
    /// Counters of the flow exports, when there were any.
    pub exports: Option<NetflowSummary>,
    /// Counters of the Zeek and Suricata logs, when there were any.
    pub logs: Option<LogSummary>,
    /// The inputs that had problems, in order.
    pub problems: Vec<InputProblem>,
}

impl RunOutcome {
    /// True when the packet-capture summary has something to say: a capture was read, or
    /// neither logs nor flow exports were (so that a run that read nothing says so).
    pub fn has_capture_summary(&self) -> bool {
        self.summary.files > 0 || (self.logs.is_none() && self.exports.is_none())
    }

    /// The process exit code: 0 when every input was read (truncation is a warning), 1 when
    /// one was damaged inside, 2 when one could not be read.
    pub fn exit_code(&self) -> i32 {
        self.problems
            .iter()
            .map(InputProblem::exit_code)
            .max()
            .unwrap_or(0)
    }
}

/// A reader that reports the bytes it reads.
struct Counting<'a, R> {
    inner: R,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// Runs extraction over every input and hands each flow record to `sink`.
///
/// Logs are read first, the Zeek logs as one Zeek run and the EVE files as one Suricata run
/// (joined across files: [`crate::logs::read_logs`]); then flow exports, all of them as one
/// export stream (templates and conversations carry over from one file to the next); then each
/// packet capture in turn. A problem with one input is reported to `progress`, kept in the
/// outcome, and the run goes on; an `Err` means the sink failed (the output cannot be written)
/// and the run stopped there.
pub fn run_inputs(
    inputs: &Inputs,
    cfg: ExtractConfig,
    sink: &mut dyn FnMut(FlowRecord) -> Result<()>,
    progress: &dyn Progress,
) -> Result<RunOutcome> {
    let total: u64 = inputs
        .paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok().map(|m| m.len()))
        .sum();
    progress.begin(total);
    let mut outcome = RunOutcome::default();
    let problem = |outcome: &mut RunOutcome, p: InputProblem| {
        progress.problem(&p);
        outcome.problems.push(p);
    };
    let (logs, others): (Vec<PathBuf>, Vec<PathBuf>) =
        inputs.paths.iter().cloned().partition(|p| inputs.is_log(p));
    let (exports, captures): (Vec<PathBuf>, Vec<PathBuf>) =
        others.into_iter().partition(|p| inputs.is_export(p));
    if !logs.is_empty() {
        progress.input("logs");
        let family = inputs.kind.and_then(InputKind::log_family);
        match crate::logs::read_logs(&logs, family, sink) {
            Ok(summary) => {
                progress.logs_read(&summary);
                outcome.logs = Some(summary);
            }
            Err(e) if e.stops_run() => {
                progress.end();
                return Err(e);
            }
            Err(e) => problem(&mut outcome, InputProblem::Failed(e)),
        }
    }
    if !exports.is_empty() {
        let mut opts = inputs.netflow.clone();
        if let Some(format) = inputs.kind.and_then(InputKind::export_format) {
            opts.format = Some(format);
        }
        progress.input("flow exports");
        match crate::netflow::read_flow_exports(&exports, &opts, sink) {
            Ok(summary) => {
                progress.exports_read(&summary);
                outcome.exports = Some(summary);
            }
            Err(e) if e.stops_run() => {
                progress.end();
                return Err(e);
            }
            Err(e) => problem(&mut outcome, InputProblem::Failed(e)),
        }
    }
    let mut ex = Extractor::new(cfg);
    for path in &captures {
        let label = path.display().to_string();
        progress.input(&label);
        let input: Box<dyn Read + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin())
        } else {
            match File::open(path) {
                Ok(f) => Box::new(f),
                Err(source) => {
                    let e = Error::Io {
                        path: label,
                        source,
                    };
                    problem(&mut outcome, InputProblem::Failed(e));
                    continue;
                }
            }
        };
        let input = Counting {
            inner: input,
            progress,
        };
        match ex.process(&label, input, sink, &mut |_| {}) {
            Ok(CaptureEnd::Complete) => {}
            Ok(CaptureEnd::Truncated { offset }) => problem(
                &mut outcome,
                InputProblem::Truncated {
                    input: label,
                    offset,
                },
            ),
            Ok(CaptureEnd::Corrupt { offset, reason }) => problem(
                &mut outcome,
                InputProblem::Corrupt {
                    input: label,
                    offset,
                    reason,
                },
            ),
            Err(e) if e.stops_run() => {
                progress.end();
                return Err(e);
            }
            Err(e) => problem(&mut outcome, InputProblem::Failed(e)),
        }
    }
    progress.end();
    outcome.summary = ex.summary;
    Ok(outcome)
}
