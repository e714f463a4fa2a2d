//! `poolscope extract`: captures in, flow records out.

use super::CliError;
use crate::error::Error;
use crate::extract::{
    run_inputs, ExtractConfig, InputKind, InputProblem, Inputs, Progress, RunOutcome, Summary,
};
use crate::flow::reassembly::ReassemblyConfig;
use crate::flow::FlowConfig;
use crate::netflow::NetflowSummary;
use crate::output::{FlowRecord, Format, RecordWriter};
use clap::Args;
use indicatif::ProgressBar;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `poolscope extract`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Inputs and flow-table settings.
    #[command(flatten)]
    pub flows: FlowArgs,
    /// Where and how to write.
    #[command(flatten)]
    pub out: OutputArgs,
    /// Write the model's window rows (one row per window of each flow, with the flow's
    /// identity, TLS names and Stratum dialect) instead of one record per flow: the table
    /// `poolscope train --data` reads. NDJSON is written as flows end; CSV and Parquet are
    /// written at the end of the run.
    #[arg(long)]
    pub windows: bool,
}

/// Where the table goes.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output file; its extension (.ndjson, .csv, .parquet) picks the format. Default: stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Output format, overriding the extension: ndjson, csv or parquet.
    #[arg(long)]
    pub format: Option<String>,
}

impl OutputArgs {
    /// The output format, from `--format` or the extension; NDJSON by default.
    pub fn format(&self) -> Result<Format, Error> {
        match (&self.format, &self.output) {
            (Some(f), _) => Format::parse(f).ok_or_else(|| {
                Error::Usage(format!("unknown --format '{f}' (ndjson, csv or parquet)"))
            }),
            (None, Some(p)) if p.as_os_str() != "-" => Format::from_path(p).ok_or_else(|| {
                Error::Usage(format!(
                    "{}: cannot tell the format from the extension; use .ndjson, .csv, .parquet or --format",
                    p.display()
                ))
            }),
            _ => Ok(Format::Ndjson),
        }
    }

    /// Opens the output (stdout for `-` or none); returns it with the path named in messages.
    pub fn open(&self) -> Result<(Box<dyn Write>, PathBuf), Error> {
        let path = self.output.clone().unwrap_or_else(|| PathBuf::from("-"));
        if path.as_os_str() == "-" {
            return Ok((Box::new(std::io::stdout().lock()), path));
        }
        match File::create(&path) {
            Ok(f) => Ok((Box::new(f), path)),
            Err(e) => Err(Error::output(path, e)),
        }
    }
}

/// The flow table's timeouts and caps (`extract`, `score`, `watch`).
#[derive(Debug, Clone, Args)]
pub struct TableArgs {
    /// Seconds of silence after which an open TCP flow ends.
    #[arg(long, default_value_t = FlowConfig::default().tcp_idle_timeout)]
    pub tcp_idle_timeout: f64,
    /// Seconds of silence after which a UDP flow ends.
    #[arg(long, default_value_t = FlowConfig::default().udp_idle_timeout)]
    pub udp_idle_timeout: f64,
    /// Seconds after its first packet at which a flow is cut into a new record (0 = never).
    #[arg(long, default_value_t = FlowConfig::default().active_timeout)]
    pub active_timeout: f64,
    /// Live flows at most; beyond it the least recently seen flow is ended.
    #[arg(long, default_value_t = FlowConfig::default().max_flows)]
    pub max_flows: usize,
    /// Bytes of each TCP direction reassembled for the dissectors.
    #[arg(long, default_value_t = ReassemblyConfig::default().max_delivered)]
    pub stream_cap: u64,
}

impl TableArgs {
    /// The flow-table and reassembly settings, checked.
    pub fn config(&self) -> Result<(FlowConfig, ReassemblyConfig), Error> {
        for (name, v) in [
            ("--tcp-idle-timeout", self.tcp_idle_timeout),
            ("--udp-idle-timeout", self.udp_idle_timeout),
            ("--active-timeout", self.active_timeout),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(Error::Usage(format!(
                    "{name} must be a number of seconds ≥ 0"
                )));
            }
        }
        if self.max_flows == 0 {
            return Err(Error::Usage("--max-flows must be at least 1".into()));
        }
        Ok((
            FlowConfig {
                tcp_idle_timeout: self.tcp_idle_timeout,
                udp_idle_timeout: self.udp_idle_timeout,
                active_timeout: self.active_timeout,
                max_flows: self.max_flows,
                ..FlowConfig::default()
            },
            ReassemblyConfig {
                max_delivered: self.stream_cap,
                ..ReassemblyConfig::default()
            },
        ))
    }
}

/// The inputs and the flow-table settings every command that reads captures shares.
#[derive(Debug, Args)]
pub struct FlowArgs {
    /// Capture files (pcap or pcapng), flow exports, Zeek logs (or a directory of them) and
    /// Suricata EVE files, gzip-compressed or not; `-` reads standard input.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Timeouts and caps of the flow table.
    #[command(flatten)]
    pub table: TableArgs,
    /// No progress bar and no summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// What the inputs are, instead of detecting it from each input's first bytes.
    #[arg(long, value_enum)]
    pub input_format: Option<InputKind>,
    /// Worker threads for the flows of a capture (default: one per core). The records, their
    /// order and their ids are the same whatever the number.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Column names of a CSV or Parquet flow table, as `src_ip=sa,dst_ip=da,...` or a file of
    /// `name=column` lines (names: src_ip, dst_ip, src_port, dst_port, protocol, first, last,
    /// packets, bytes, tcp_flags, packets_rev, bytes_rev).
    #[arg(long)]
    pub map: Option<String>,
}

impl FlowArgs {
    /// The inputs and how to read them (the column map is read here when it names a file).
    pub fn inputs(&self) -> Result<Inputs, Error> {
        let map = match &self.map {
            Some(m) => crate::netflow::parse_map(m)?,
            None => Default::default(),
        };
        Ok(Inputs {
            paths: self.inputs.clone(),
            kind: self.input_format,
            netflow: crate::netflow::NetflowOptions {
                map,
                ..Default::default()
            },
        })
    }

    /// Checks the arguments without touching any file and builds the configuration.
    pub fn config(&self) -> Result<ExtractConfig, Error> {
        if self.inputs.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
            return Err(Error::Usage(
                "standard input (-) can be read only once".into(),
            ));
        }
        let (flow, reassembly) = self.table.config()?;
        let cfg = ExtractConfig {
            flow,
            reassembly,
            exporter_cuts: false,
            updates: false,
            threads: match self.threads {
                Some(0) => return Err(Error::Usage("--threads must be at least 1".into())),
                Some(n) => n,
                None => std::thread::available_parallelism().map_or(1, |n| n.get()),
            },
        };
        Ok(cfg)
    }
}

pub(super) fn run(args: ExtractArgs) -> Result<i32, CliError> {
    let cfg = args.flows.config()?;
    let format = args.out.format()?;
    let (out, out_path) = args.out.open()?;
    let outcome = if args.windows {
        run_windows(&args.flows, cfg, out, &out_path, format)?
    } else {
        let mut writer = RecordWriter::new(out, out_path, format, false)?;
        let r = run_pipeline(&args.flows, cfg, &mut |rec| writer.write(rec))?;
        writer.finish()?;
        r
    };
    if !args.flows.quiet && outcome.has_capture_summary() {
        eprint!("{}", render_summary(&outcome.summary));
    }
    Ok(outcome.exit_code())
}

/// `extract --windows`: the window table of every flow.
fn run_windows(
    args: &FlowArgs,
    cfg: ExtractConfig,
    out: Box<dyn Write>,
    out_path: &std::path::Path,
    format: Format,
) -> Result<RunOutcome, CliError> {
    use crate::features::shape::SHAPE_SCHEMA;
    use crate::model::data::{source_of_path, window_rows, FlowMeta, TrainFlow};
    let columns = crate::model::schema_columns(SHAPE_SCHEMA).unwrap_or_default();
    let mut out = std::io::BufWriter::new(out);
    let mut kept: Vec<TrainFlow> = Vec::new();
    let r = run_pipeline(args, cfg, &mut |rec| {
        let mut meta = FlowMeta::from_record(&rec);
        meta.source = source_of_path(std::path::Path::new(&meta.capture), None);
        let f = TrainFlow {
            meta,
            rows: rec.model_rows,
            label: None,
            label_source: "",
        };
        if format == Format::Ndjson {
            for row in window_rows(&f, &columns) {
                serde_json::to_writer(&mut out, &row)
                    .map_err(std::io::Error::from)
                    .and_then(|_| out.write_all(b"\n"))
                    .map_err(|e| Error::output(out_path, e))?;
            }
        } else {
            kept.push(f);
        }
        Ok(())
    })?;
    if format == Format::Ndjson {
        out.flush().map_err(|e| Error::output(out_path, e))?;
    } else {
        let rows: Vec<_> = kept.iter().flat_map(|f| window_rows(f, &columns)).collect();
        crate::output::write_table(Box::new(out), out_path, format, &rows)?;
    }
    Ok(r)
}

/// The progress bar of a run on a terminal (hidden otherwise), and the problems of single
/// inputs as they happen (shown even with `--quiet`: they change the exit code).
pub(super) struct Bar {
    bar: ProgressBar,
    quiet: bool,
}

impl Bar {
    /// A byte-counting bar, drawn only when stderr is a terminal and `quiet` is off.
    pub(super) fn new(quiet: bool) -> Bar {
        let bar = super::stderr_bar(
            quiet,
            None,
            Some("{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}"),
        );
        Bar { bar, quiet }
    }
}

impl Progress for Bar {
    fn begin(&self, total_bytes: u64) {
        self.bar.set_length(total_bytes);
    }
    fn input(&self, label: &str) {
        self.bar.set_message(label.to_string());
    }
    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }
    fn problem(&self, problem: &InputProblem) {
        self.bar.suspend(|| eprintln!("poolscope: {problem}"));
    }
    fn exports_read(&self, summary: &NetflowSummary) {
        if !self.quiet {
            self.bar.suspend(|| {
                for line in summary.render().lines() {
                    eprintln!("poolscope: flow exports: {line}");
                }
            });
        }
    }
    fn logs_read(&self, summary: &crate::logs::LogSummary) {
        if !self.quiet {
            self.bar.suspend(|| {
                for line in summary.render().lines() {
                    eprintln!("poolscope: logs: {line}");
                }
            });
        }
    }
    fn end(&self) {
        self.bar.finish_and_clear();
    }
}

/// Runs extraction over every input of `args` ([`run_inputs`]) with a progress bar on a
/// terminal, handing each flow record to `sink`.
pub(super) fn run_pipeline(
    args: &FlowArgs,
    cfg: ExtractConfig,
    sink: &mut dyn FnMut(FlowRecord) -> crate::error::Result<()>,
) -> Result<RunOutcome, Error> {
    run_inputs(&args.inputs()?, cfg, sink, &Bar::new(args.quiet))
}

/// The end-of-run summary: what was read, what became flows, and what was skipped and why.
pub fn render_summary(s: &Summary) -> String {
    let d = &s.decode;
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "poolscope: {} input(s), {} frames ({} bytes captured), {} TCP/UDP packets, {} flows ({} tcp, {} udp)",
        s.files, s.frames, s.captured_bytes, s.packets, s.flows, s.tcp_flows, s.udp_flows
    );
    let _ = writeln!(
        out,
        "poolscope: skipped frames: non-IP {}, other IP protocols {}, truncated {}, malformed {}, unsupported link type {}, unsupported tunnel {}, fragments dropped {}",
        d.non_ip, d.other_transport, d.truncated, d.malformed, d.unsupported_link, d.unsupported_tunnel, d.fragments_dropped
    );
    let _ = writeln!(
        out,
        "poolscope: fragments {} (reassembled into {} packets), tunneled packets {}, reassembly gaps {} ({} bytes), retransmitted segments {}, streams capped {}, flows evicted by cap {} (peak live {})",
        d.fragments, d.reassembled, d.tunneled, s.reassembly_gaps, s.reassembly_gap_bytes, s.retransmissions, s.streams_capped, s.table.evicted, s.table.peak_live
    );
    let mining: Vec<String> = s
        .stratum_flows
        .iter()
        .map(|(dialect, n)| format!("{dialect} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "poolscope: TLS client hellos {}, unparsable TLS handshake messages {}; QUIC client hellos {}, unreadable QUIC Initial packets {}; DNS messages {} ({} unparsable, {} resolutions); mining-protocol flows {}",
        s.tls_client_hellos,
        s.tls_parse_errors,
        s.quic_client_hellos,
        s.quic_parse_errors,
        s.dns.messages,
        s.dns.parse_errors,
        s.dns.resolutions,
        if mining.is_empty() { "0".to_string() } else { mining.join(", ") }
    );
    if s.unknown_interface_blocks > 0 || s.time_regressions > 0 {
        let _ = writeln!(
            out,
            "poolscope: packet blocks of undescribed interfaces {}, timestamps going back >1 s {}",
            s.unknown_interface_blocks, s.time_regressions
        );
    }
    for (f, off) in &s.truncated {
        let _ = writeln!(out, "poolscope: {f}: truncated at byte offset {off}");
    }
    for (f, off, why) in &s.corrupt {
        let _ = writeln!(out, "poolscope: {f}: corrupt at byte offset {off}: {why}");
    }
    out
}
