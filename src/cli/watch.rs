//! `poolscope watch`: the `score` pipeline on live network interfaces, alerting while flows
//! are still open, until SIGINT or SIGTERM.

use super::extract::{render_summary, TableArgs};
use super::score::{alert_log, JudgeArgs};
use super::CliError;
use crate::error::Error;
use crate::extract::{ExtractConfig, Extractor};
use crate::live::{InterfaceReport, LiveCapture, LiveOptions, Net};
use crate::output::rotate::{utc_stamp, write_whole, RotatingFiles, Rotation};
use crate::output::FlowRecord;
use crate::score::{HostRollup, Verdict};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Arguments of `poolscope watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Interface to capture from (repeat for several). Needs CAP_NET_RAW.
    #[arg(short, long = "interface", required = true, value_name = "IFACE")]
    pub interfaces: Vec<String>,
    /// Directory for flow records (`flows-*.ndjson`) and per-host rollups (`hosts-*.ndjson`),
    /// rotated; `-` writes flow records to standard output (no rotation, no rollups).
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
    /// Also write alerts (NDJSON, one line each, flushed at once) to FILE (`-`: standard
    /// output): a flow's record so far with `alert_time` and `previous_verdict`, when its
    /// verdict first reaches suspect or mining and each time it rises.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// Also produce flow records and alerts to a Kafka topic (`host:port[,…]/topic`), keyed
    /// by client address; alerts are the messages with an `alert_time`.
    #[arg(long, value_name = "BROKERS/TOPIC")]
    pub kafka_out: Option<String>,
    /// Close the output files and start new ones after this long: `90s`, `15m`, `1h`, `1d`.
    #[arg(long, value_parser = parse_duration)]
    pub rotate: Option<Duration>,
    /// Close the flow file and start a new one at this size: `100M`, `2G`, `500k`.
    #[arg(long, value_parser = parse_size)]
    pub rotate_size: Option<u64>,
    /// Bytes kept of each frame (the TLS handshake and Stratum lines are near the start of
    /// a flow, not of a frame: keep whole frames unless the link is very fast).
    #[arg(long, default_value_t = 65_535)]
    pub snaplen: u32,
    /// Keep only traffic to or from this TCP/UDP port (repeat for several).
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    /// Keep only traffic to or from this network, `10.0.0.0/8` or an address (repeat for
    /// several).
    #[arg(long = "net", value_name = "CIDR")]
    pub nets: Vec<Net>,
    /// Timeouts and caps of the flow table.
    #[command(flatten)]
    pub table: TableArgs,
    /// Feeds and models.
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// Write only flows (and hosts) at least this bad: benign, suspect or mining.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Verdict::Benign)]
    pub min_verdict: Verdict,
    /// No summary on standard error at the end.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `90s`, `15m`, `1h`, `2d`, or seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (90s, 15m, 1h, 1d)"))?;
    let secs = n * match unit {
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(format!("`{s}`: unit must be s, m, h or d")),
    };
    if !(secs >= 1.0 && secs.is_finite()) {
        return Err(format!("`{s}`: rotate after at least one second"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `500k`, `100M`, `2G` (powers of 1024), or bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size (500k, 100M, 2G)"))?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("`{s}`: unit must be k, M or G")),
    };
    n.checked_mul(mult)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("`{s}`: size out of range"))
}

/// Where flow records go.
enum FlowOut {
    Stdout(std::io::Stdout),
    Files {
        flows: Box<RotatingFiles>,
        dir: PathBuf,
    },
}

pub(super) fn run(args: WatchArgs) -> Result<i32, CliError> {
    let (flow, reassembly) = args.table.config()?;
    let to_stdout = args.output.as_os_str() == "-";
    if to_stdout && (args.rotate.is_some() || args.rotate_size.is_some()) {
        return Err(Error::Usage("--rotate and --rotate-size need -o DIR".into()).into());
    }
    let scorer = args.judge.scorer()?;
    let stop = super::stop_on_signals()?;
    let mut out = if to_stdout {
        FlowOut::Stdout(std::io::stdout())
    } else {
        FlowOut::Files {
            flows: Box::new(RotatingFiles::new(
                &args.output,
                "flows",
                Rotation {
                    every: args.rotate,
                    max_bytes: args.rotate_size,
                },
            )?),
            dir: args.output.clone(),
        }
    };
    let kafka = args
        .kafka_out
        .as_deref()
        .map(crate::stream::KafkaOut::open)
        .transpose()?;
    let mut alerts = alert_log(args.alerts.as_deref(), kafka.is_some())?;
    let mut capture = LiveCapture::open(
        &LiveOptions {
            interfaces: args.interfaces.clone(),
            snaplen: args.snaplen.max(64),
            ports: args.ports.clone(),
            nets: args.nets.clone(),
        },
        stop.clone(),
    )?;
    if !args.quiet {
        eprintln!(
            "poolscope: watching {} (SIGINT or SIGTERM ends the run and writes every open flow)",
            args.interfaces.join(", ")
        );
    }
    let cfg = ExtractConfig {
        flow,
        reassembly,
        // One thread for the flows: its records leave as soon as they are made (worker
        // threads batch packets, which suits files, not alerts).
        threads: 1,
        updates: true,
        ..ExtractConfig::default()
    };
    let mut ex = Extractor::new(cfg);
    let mut hosts = HostRollup::default();
    let min = args.min_verdict;
    let mut line = Vec::new();
    let label = format!("live:{}", args.interfaces.join(","));
    let mut sink = |mut rec: FlowRecord| -> crate::error::Result<()> {
        let s = scorer.score(&rec);
        rec.verdict = Some(s.columns());
        if let Some(log) = alerts.as_mut() {
            if log.observe(&rec, s.verdict)?.is_some() {
                if let Some(k) = &kafka {
                    k.send(&rec.src_ip.to_string(), log.last_line())?;
                }
            }
        }
        if rec.is_open() {
            return Ok(());
        }
        hosts.add(&rec, &s);
        if s.verdict < min {
            return Ok(());
        }
        line.clear();
        rec.write_ndjson(&mut line);
        if let Some(k) = &kafka {
            k.send(&rec.src_ip.to_string(), &line)?;
        }
        match &mut out {
            FlowOut::Stdout(o) => o
                .write_all(&line)
                .and_then(|()| o.flush())
                .map_err(|e| Error::output("-", e)),
            FlowOut::Files { flows, dir } => {
                if flows.due() {
                    flows.close()?;
                    write_hosts(dir, &hosts, min)?;
                }
                flows.write_line(&line)
            }
        }
    };
    let result = ex.process(&label, capture.stream(), &mut sink, &mut |_| {});
    // The pipeline ended (every capture thread stopped) or failed (its output): stop the
    // captures either way and collect what they did.
    stop.store(true, Ordering::Relaxed);
    let reports = capture.finish();
    if let FlowOut::Files { flows, dir } = &mut out {
        flows.close()?;
        write_hosts(dir, &hosts, min)?;
    }
    if let Some(k) = &kafka {
        k.finish()?;
    }
    result?;
    if !args.quiet {
        eprint!("{}", render_summary(&ex.summary));
        for r in &reports {
            eprintln!("{}", render_interface(r));
        }
        if let Some(log) = &alerts {
            eprintln!(
                "poolscope: alerts: {} ({} while the flow was open)",
                log.tracker.alerts, log.tracker.while_open
            );
        }
    }
    Ok(if reports.iter().any(|r| r.failed.is_some()) {
        1
    } else {
        0
    })
}

/// The per-host rollup so far, as a whole file `hosts-STAMP.ndjson`.
fn write_hosts(
    dir: &std::path::Path,
    hosts: &HostRollup,
    min: Verdict,
) -> crate::error::Result<()> {
    let mut text = Vec::new();
    for row in hosts.rows(min) {
        if let Ok(v) = serde_json::to_vec(&row) {
            text.extend_from_slice(&v);
            text.push(b'\n');
        }
    }
    let name = format!("hosts-{}.ndjson", utc_stamp(std::time::SystemTime::now()));
    write_whole(dir, &name, &text)?;
    Ok(())
}

/// One line per interface: frames, what was left out, what was dropped, how it ended.
fn render_interface(r: &InterfaceReport) -> String {
    let kernel = r
        .kernel_drops
        .map_or_else(|| "unknown".to_string(), |d| d.to_string());
    let mut s = format!(
        "poolscope: {}: {} frames captured, {} left out by --port/--net, dropped: {} by the kernel (socket buffer full), {} by poolscope (queue full)",
        r.name, r.frames, r.filtered, kernel, r.queue_drops
    );
    if let Some(why) = &r.failed {
        s.push_str(&format!("; stopped early: {why}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(parse_size("500k"), Ok(512_000));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("5T").is_err());
    }
}
