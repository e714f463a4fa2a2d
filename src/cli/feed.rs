//! `poolscope feed`: the pool intelligence behind `score` — import lists, count, check values,
//! refresh the certificate feed by probing the pools, confirm a suspected pool, learn from
//! scored captures. `refresh` and `probe` are the only commands that send traffic.

use super::{stdout_error, CliError};
use crate::intel::feeds::{DomainKind, FeedFile};
use crate::intel::{import, learn, merge_into_dir, ImportFormat, ImportOptions, Matcher, PoolFeed};
use crate::probe::endpoints::{endpoint_of, parse_target, read_endpoints};
use crate::probe::refresh::{self, RunCounts};
use crate::probe::{
    history, probe_address, DialectChoice, HostLimiter, Mode, ProbeOptions, ProbeOutcome,
    RefreshOptions, ReportRow, Resolve, SystemResolver,
};
use crate::resources::Located;
use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `poolscope feed`.
#[derive(Debug, Args)]
pub struct FeedArgs {
    /// Feed directory. Default: $POOLSCOPE_FEEDS, else ./feeds, else an install prefix's
    /// (share/poolscope/feeds); reading commands then fall back to the built-in feeds.
    #[arg(long, global = true)]
    pub feeds: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: FeedCommand,
}

/// The feed subcommands.
#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// Add a list in a format analysts already have to the feed files (de-duplicated, with
    /// its provenance).
    Import {
        /// hosts, domains, adblock, sslbl-sha1, sslbl-ja3, ips, csv, maltrail, sigma, suricata,
        /// misp, stix. A MISP event or STIX bundle brings its own sources and dates; --source
        /// and --date stand in where it has none.
        format: String,
        /// The list to read.
        file: PathBuf,
        /// Where the list comes from (kept on every row). Default: the file name.
        #[arg(long)]
        source: Option<String>,
        /// The list's date, YYYY-MM-DD. Default: the file's modification date.
        #[arg(long)]
        date: Option<String>,
        /// For csv: which columns hold what, e.g. `domain=host,coin=currency`.
        #[arg(long)]
        map: Option<String>,
        /// The feed file to fill (pool-domains, browser, endpoints, certs, fingerprints,
        /// allowlist). Default: the format's usual one.
        #[arg(long)]
        target: Option<String>,
        /// What the listed names and addresses are: pool (proof), crypto-related or
        /// miner-malware (hints).
        #[arg(long, default_value = "pool")]
        kind: String,
        /// A remark written on every pool-domain and endpoint row (a malware family, a
        /// ticket). Default for maltrail files of kind miner-malware: the file name.
        #[arg(long)]
        note: Option<String>,
    },
    /// Write the feeds as Suricata rules, a Zeek Intel file, a MISP event or a STIX 2.1
    /// bundle, each indicator with its rows' source, date, kind and note. Allowlist rows are
    /// never exported.
    Export {
        /// suricata, zeek-intel, misp or stix.
        #[arg(long = "as", value_name = "FORMAT")]
        format: String,
        /// Which rows, comma-separated: pool (proof of mining), crypto-related, miner-malware,
        /// browser-mining, fingerprint (hints), or all.
        #[arg(long, default_value = "pool")]
        kind: String,
        /// The file to write (replaced whole). Default: standard output.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Suricata and Zeek: leave out name and address rows older than the age limits on
        /// this day (YYYY-MM-DD). Default: the day of the feed's newest row.
        #[arg(long, value_name = "DATE")]
        at: Option<String>,
        /// Suricata and Zeek: make detections of stale rows too.
        #[arg(long)]
        include_stale: bool,
        /// How old a row may be and still become a detection.
        #[command(flatten)]
        age: super::score::AgeArgs,
    },
    /// Count entries per file, source, kind and year.
    Stats,
    /// Which entries match a domain, IP address or hash, and why (exit 0 on a match, 1 on
    /// none, as grep does).
    Check {
        /// A domain, an IP address, or a certificate/fingerprint hash.
        value: String,
        /// Weigh the rows' ages as for a flow seen on this day (YYYY-MM-DD). Default: today.
        #[arg(long, value_name = "DATE")]
        at: Option<String>,
        /// How feed rows are weighed by their age.
        #[command(flatten)]
        age: super::score::AgeArgs,
    },
    /// Connect to every pool endpoint (TLS), record the certificate chains and server
    /// fingerprints, and update pool-certs.tsv with what is new, what rotated and when each
    /// certificate was first and last seen. SENDS TRAFFIC to every endpoint listed.
    Refresh(RefreshArgs),
    /// Confirm a suspected pool: connect, speak Stratum (`login`, then `mining.subscribe`) with
    /// a dummy worker, print what came back. Exit 0 if it answers like a pool, 1 if it does
    /// not, 2 on a usage or network error. SENDS TRAFFIC to the server.
    Probe(ProbeCmdArgs),
    /// Add the certificates, SNIs and server addresses of flows that `poolscope score` called
    /// mining (by a Stratum rule or a pool-domain match) to the feeds, source `learned`.
    Learn {
        /// NDJSON files written by `poolscope score` (`-` = standard input).
        #[arg(required = true, value_name = "SCORED")]
        scored: Vec<PathBuf>,
    },
}

/// How each probe connects and waits (`feed refresh` and `feed probe`).
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Seconds to wait for the TCP connection.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub connect_timeout: f64,
    /// Seconds for the TLS handshake, and again for a Stratum reply.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub timeout: f64,
    /// Further attempts after a timeout or a reset (not after a refusal or a TLS error).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub retries: u32,
    /// Seconds before the first retry; doubled for each further one.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub backoff: f64,
    /// Stratum request: auto (Monero `login`, then Bitcoin `mining.subscribe`), monero or
    /// bitcoin.
    #[arg(long, default_value = "auto")]
    pub dialect: String,
}

impl ProbeArgs {
    /// Checks the values (no I/O) and turns them into probe options.
    fn options(&self, mode: Mode, confirm_stratum: bool) -> Result<ProbeOptions, String> {
        let secs = |v: f64, name: &str, zero_ok: bool| {
            if v.is_finite() && (v > 0.0 || zero_ok && v == 0.0) && v <= 3600.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(format!("--{name} {v}: give seconds between 0 and 3600"))
            }
        };
        Ok(ProbeOptions {
            connect_timeout: secs(self.connect_timeout, "connect-timeout", false)?,
            io_timeout: secs(self.timeout, "timeout", false)?,
            retries: self.retries,
            backoff: secs(self.backoff, "backoff", true)?,
            mode,
            confirm_stratum,
            dialect: DialectChoice::parse(&self.dialect).ok_or_else(|| {
                format!(
                    "unknown --dialect {:?} (auto, monero or bitcoin)",
                    self.dialect
                )
            })?,
        })
    }
}

/// Arguments of `poolscope feed refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Endpoints to probe: a file in pool-endpoints.tsv format, or one HOST:PORT per line.
    /// Default: pool-endpoints.tsv of the feeds directory (every pool in it: thousands of
    /// servers).
    #[arg(long, value_name = "FILE")]
    pub endpoints: Option<PathBuf>,
    /// Also write a report here: NDJSON, one row per endpoint and address with the outcome,
    /// the chain and the feed change (`-` = standard output).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// After the handshake (or, when the port does not speak TLS, over plain TCP) send a
    /// Stratum request with a dummy worker and record whether the server answers like a pool.
    #[arg(long)]
    pub confirm_stratum: bool,
    /// Timeouts, retries and the Stratum dialect.
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Endpoints probed at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub jobs: usize,
    /// Least seconds between two connections to the same address.
    #[arg(long, default_value_t = 0.5, value_name = "SECS")]
    pub per_host_interval: f64,
    /// Do not resolve host names: probe only the addresses the list gives (the name still goes
    /// in SNI).
    #[arg(long)]
    pub no_resolve: bool,
    /// The date to record as first/last seen, YYYY-MM-DD. Default: today (UTC).
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// Probe and report, but leave pool-certs.tsv as it is.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress bar and no summary on standard error.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Arguments of `poolscope feed probe`.
#[derive(Debug, Args)]
pub struct ProbeCmdArgs {
    /// The server: HOST:PORT, or [ADDRESS]:PORT for IPv6.
    pub target: String,
    /// TLS only.
    #[arg(long, group = "transport")]
    pub tls: bool,
    /// Plain TCP only.
    #[arg(long, group = "transport")]
    pub plain: bool,
    /// TLS, and plain TCP when the port does not speak TLS (the default).
    #[arg(long, group = "transport")]
    pub auto: bool,
    /// Name to send as SNI. Default: HOST when it is a name.
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// Timeouts, retries and the Stratum dialect.
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Print each outcome as one JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

fn file_date(path: &std::path::Path) -> String {
    let secs = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    crate::fingerprint::cert::iso8601_utc(secs)
        .map(|s| s[..10].to_string())
        .unwrap_or_else(|| "1970-01-01".into())
}

pub(super) fn run(args: FeedArgs) -> Result<i32, CliError> {
    let located = args
        .feeds
        .clone()
        .map_or_else(crate::resources::default_feeds, Located::Path);
    // Commands that write the feeds need a directory; the built-in copy only reads.
    let dir = match (&located, &args.command) {
        (Located::Path(p), _) => p.clone(),
        (
            Located::BuiltIn,
            FeedCommand::Import { .. } | FeedCommand::Refresh(_) | FeedCommand::Learn { .. },
        ) => {
            return Err(CliError::Usage(
                "no feed directory to write: pass --feeds DIR or set POOLSCOPE_FEEDS (the feeds built into poolscope cannot be changed)".into(),
            ));
        }
        (Located::BuiltIn, _) => std::path::PathBuf::new(),
    };
    match args.command {
        FeedCommand::Import {
            format,
            file,
            source,
            date,
            map,
            target,
            kind,
            note,
        } => {
            let result = (|| {
                let format: ImportFormat = format.parse()?;
                let source = source.unwrap_or_else(|| {
                    file.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "import".into())
                });
                let mut opts = ImportOptions::new(source, date.unwrap_or_else(|| file_date(&file)));
                if let Some(m) = map {
                    opts.map = ImportOptions::parse_map(&m)?;
                }
                opts.note = note;
                opts.domain_kind = DomainKind::parse(&kind)
                    .map_err(|e| crate::intel::FeedError::Usage(format!("--kind: {e}")))?;
                if let Some(t) = target {
                    opts.target = Some(FeedFile::parse(&t).ok_or_else(|| {
                        crate::intel::FeedError::Usage(format!(
                            "--target {t:?}: one of pool-domains, browser, endpoints, certs, \
                             fingerprints, allowlist"
                        ))
                    })?);
                }
                let imported = import(format, &file, &opts)?;
                let merged = merge_into_dir(&dir, &imported.entries)?;
                Ok::<_, crate::intel::FeedError>((imported.report, merged))
            })();
            let (report, merged) = result?;
            eprint!("{report}");
            eprint!("{merged}");
            Ok(0)
        }
        FeedCommand::Export {
            format,
            kind,
            output,
            at,
            include_stale,
            age,
        } => {
            let format: crate::intel::ExportFormat = format.parse()?;
            let mut opts = crate::intel::ExportOptions::parse_kinds(&kind)?;
            opts.age = age.policy()?;
            opts.at = at.as_deref().map(parse_day).transpose()?;
            opts.include_stale = include_stale;
            let feed = PoolFeed::load_located(&located)?;
            let exported = crate::intel::export(&feed, format, &opts)?;
            match output.filter(|p| p.as_os_str() != "-") {
                Some(path) => crate::output::write_atomic(&path, exported.text.as_bytes())
                    .map_err(|e| crate::Error::output(&path, e))?,
                None => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(exported.text.as_bytes())
                        .and_then(|_| out.flush())
                        .map_err(stdout_error)?;
                }
            }
            eprint!("{}", exported.report);
            Ok(0)
        }
        FeedCommand::Stats => {
            let feed = PoolFeed::load_located(&located)?;
            let mut out = std::io::stdout().lock();
            write!(out, "{}", Matcher::new(&feed).stats()).map_err(stdout_error)?;
            Ok(0)
        }
        FeedCommand::Refresh(args) => run_refresh(&dir, args),
        FeedCommand::Probe(args) => run_probe(args),
        FeedCommand::Learn { scored } => {
            let report = learn::learn(&scored, &dir)?;
            eprint!("{report}");
            Ok(0)
        }
        FeedCommand::Check { value, at, age } => {
            let at = at.as_deref().map(parse_day).transpose()?;
            let feed = PoolFeed::load_located(&located)?;
            let hits = Matcher::new(&feed)
                .with_policy(age.policy()?)
                .check_at(&value, at);
            let mut out = std::io::stdout().lock();
            for h in &hits {
                writeln!(out, "{}", h.reason()).map_err(stdout_error)?;
            }
            Ok(if hits.is_empty() { 1 } else { 0 })
        }
    }
}

fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    crate::fingerprint::cert::iso8601_utc(secs)
        .map(|s| s[..10].to_string())
        .unwrap_or_else(|| "1970-01-01".into())
}

/// The refresh settings, checked without any I/O.
fn refresh_options(args: &RefreshArgs) -> Result<(RefreshOptions, String), String> {
    let probe = args.probe.options(Mode::Auto, args.confirm_stratum)?;
    if args.jobs == 0 || args.jobs > 256 {
        return Err(format!("--jobs {}: give 1 to 256", args.jobs));
    }
    let interval = args.per_host_interval;
    if !(interval.is_finite() && (0.0..=3600.0).contains(&interval)) {
        return Err(format!(
            "--per-host-interval {interval}: give seconds between 0 and 3600"
        ));
    }
    let date = match &args.date {
        Some(d) => {
            let d = crate::intel::value::parse_date(d)?;
            if d.len() != 10 {
                return Err(format!("--date {d}: give a full date, YYYY-MM-DD"));
            }
            d
        }
        None => today(),
    };
    Ok((
        RefreshOptions {
            probe,
            jobs: args.jobs,
            per_host_interval: Duration::from_secs_f64(interval),
            resolve: !args.no_resolve,
        },
        date,
    ))
}

fn progress_bar(len: usize, quiet: bool) -> ProgressBar {
    super::stderr_bar(
        quiet,
        Some(len as u64),
        Some("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} endpoints (eta {eta}) {msg}"),
    )
}

fn short(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

fn write_report(path: &Path, rows: &[ReportRow]) -> Result<(), CliError> {
    let mut text = Vec::new();
    for r in rows {
        serde_json::to_writer(&mut text, r).map_err(|e| crate::Error::output(path, e.into()))?;
        text.push(b'\n');
    }
    let written = if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(&text).and_then(|_| out.flush())
    } else {
        history::write_atomic(path, &text)
    };
    written.map_err(|e| crate::Error::output(path, e))?;
    Ok(())
}

fn run_refresh(dir: &Path, args: RefreshArgs) -> Result<i32, CliError> {
    let (opts, date) = refresh_options(&args).map_err(CliError::Usage)?;
    if let Some(out) = args.output.as_deref().filter(|p| p.as_os_str() != "-") {
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
        if parent.is_some_and(|p| !p.is_dir()) {
            return Err(CliError::Usage(format!(
                "{}: the report's directory does not exist",
                out.display()
            )));
        }
    }
    let list_path = args
        .endpoints
        .clone()
        .unwrap_or_else(|| dir.join(crate::intel::FeedFile::PoolEndpoints.file_name()));
    let list = read_endpoints(&list_path)?;
    if !args.quiet {
        eprintln!(
            "refresh: probing {} endpoints from {} ({} rows without a port and {} networks \
             skipped){}",
            list.endpoints.len(),
            list_path.display(),
            list.skipped_no_port,
            list.skipped_networks,
            if args.confirm_stratum {
                ", speaking Stratum to each"
            } else {
                ""
            }
        );
    }
    let bar = progress_bar(list.endpoints.len(), args.quiet);
    let mut rows = refresh::run(&list.endpoints, &opts, &SystemResolver, &mut |ep, _| {
        bar.set_message(ep.label());
        bar.inc(1);
    });
    bar.finish_and_clear();
    let history = history::apply(dir, &mut rows, &date, !args.dry_run);
    if let Some(out) = &args.output {
        write_report(out, &rows)?;
    }
    let history = history?;
    if !args.quiet {
        eprint!(
            "{}",
            refresh_summary(&list.endpoints.len(), &rows, &history, &args)
        );
    }
    Ok(0)
}

fn refresh_summary(
    endpoints: &usize,
    rows: &[ReportRow],
    h: &history::HistoryReport,
    args: &RefreshArgs,
) -> String {
    use std::fmt::Write as _;
    let c = RunCounts::of(*endpoints, rows);
    let mut s = String::new();
    let failed: Vec<String> = c.failed.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(
        s,
        "refresh: {} endpoints, {} addresses: {} ok, {} failed{}{}",
        c.endpoints,
        c.rows,
        c.ok,
        c.failed.values().sum::<usize>(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" ({})", failed.join(", "))
        },
        if args.confirm_stratum {
            format!(", {} answer like a pool", c.pool_like)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "refresh: certificates: {} new, {} rotated, {} unchanged, {} endpoints first seen; {}: \
         {} rows added, {} updated{}",
        h.new_certs,
        h.rotations.len(),
        h.unchanged,
        h.first_seen,
        h.path.display(),
        h.rows_added,
        h.rows_updated,
        if args.dry_run {
            " (dry run: not written)"
        } else {
            ""
        }
    );
    for r in &h.rotations {
        let _ = writeln!(
            s,
            "refresh: rotated: {}: {} -> {}",
            r.key,
            short(&r.previous_sha256),
            short(&r.sha256)
        );
    }
    // With a report, it holds every row; without one, stderr is all there is.
    let limit = if args.output.is_some() {
        20
    } else {
        usize::MAX
    };
    let new: Vec<&ReportRow> = rows
        .iter()
        .filter(|r| {
            r.feed
                .as_ref()
                .is_some_and(|f| f.cert == crate::probe::CertStatus::New)
        })
        .collect();
    for r in new.iter().take(limit) {
        let leaf = r.tls.as_ref().and_then(|t| t.leaf());
        let _ = writeln!(
            s,
            "refresh: new: {}: {} {}",
            r.key.as_deref().unwrap_or(&r.endpoint),
            short(leaf.map_or("", |l| l.summary.sha256.as_str())),
            leaf.and_then(|l| l.summary.subject.as_deref())
                .unwrap_or("")
        );
    }
    if new.len() > limit {
        let _ = writeln!(
            s,
            "refresh: {} more new certificates in the report",
            new.len() - limit
        );
    }
    let failures: Vec<&ReportRow> = rows.iter().filter(|r| r.status != "ok").collect();
    for r in failures.iter().take(limit) {
        let addr = r.address.map(|a| a.to_string()).unwrap_or_default();
        let why = r.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
        let _ = writeln!(s, "refresh: failed: {} {addr}: {why}", r.endpoint);
    }
    if failures.len() > limit {
        let _ = writeln!(
            s,
            "refresh: {} more failures in the report",
            failures.len() - limit
        );
    }
    s
}

/// One outcome in words: the connection, the handshake, each Stratum request.
/// An `--at` day (YYYY-MM-DD) in Unix seconds.
fn parse_day(d: &str) -> Result<f64, CliError> {
    crate::intel::value::parse_date(d)
        .ok()
        .and_then(|d| crate::intel::age::row_time(&d))
        .ok_or_else(|| CliError::Usage(format!("--at {d:?}: give a date, YYYY-MM-DD")))
}

fn describe(o: &ProbeOutcome) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let sni = o
        .sni
        .as_deref()
        .map(|n| format!(" (SNI {n})"))
        .unwrap_or_default();
    match (&o.error, &o.tls) {
        (None, Some(t)) if t.complete => {
            let _ = write!(
                s,
                "{}{sni}: TLS {} {}",
                o.address,
                t.version.as_deref().unwrap_or("?"),
                t.cipher.as_deref().unwrap_or("?")
            );
            if let Some(l) = t.leaf() {
                let _ = write!(
                    s,
                    ", certificate sha256 {} subject {:?}{}",
                    l.summary.sha256,
                    l.summary.subject.as_deref().unwrap_or(""),
                    if l.summary.self_signed == Some(true) {
                        " (self-signed)"
                    } else {
                        ""
                    }
                );
            }
            let _ = writeln!(
                s,
                ", ja3s {} ja4s {}",
                t.ja3s.as_deref().unwrap_or("-"),
                t.ja4s.as_deref().unwrap_or("-")
            );
        }
        (None, _) => {
            let _ = writeln!(s, "{}{sni}: connected (plain TCP)", o.address);
        }
        (Some(e), _) => {
            let _ = writeln!(s, "{}{sni}: {e}", o.address);
        }
    }
    if let Some(st) = &o.stratum {
        for t in &st.tries {
            let _ = writeln!(
                s,
                "  stratum over {}: {} -> {}{}{}",
                st.transport,
                t.dialect.as_str(),
                serde_json::to_value(t.reply)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                t.answer
                    .as_deref()
                    .map(|a| format!(": {a}"))
                    .unwrap_or_default(),
                t.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
        }
        if let Some(e) = &st.error {
            let _ = writeln!(s, "  stratum over {}: {e}", st.transport);
        }
    }
    s
}

fn run_probe(args: ProbeCmdArgs) -> Result<i32, CliError> {
    let mode = if args.tls {
        Mode::Tls
    } else if args.plain {
        Mode::Plain
    } else {
        Mode::Auto
    };
    let checked = args
        .probe
        .options(mode, true)
        .and_then(|o| Ok((o, parse_target(&args.target)?)))
        .and_then(|(o, (host, port))| Ok((o, endpoint_of(&host, port)?)));
    let (opts, endpoint) = checked.map_err(CliError::Usage)?;
    let addrs = match &endpoint.host {
        Some(h) => SystemResolver
            .resolve(h)
            .map_err(|reason| CliError::Resolve {
                host: h.clone(),
                reason,
            })?,
        None => endpoint.listed.clone(),
    };
    let sni = args.sni.clone().or(endpoint.host.clone());
    let limiter = HostLimiter::default();
    let mut conversed = false;
    let mut pool = false;
    let mut out = std::io::stdout().lock();
    for ip in addrs {
        let o = probe_address(
            SocketAddr::new(ip, endpoint.port),
            sni.as_deref(),
            &opts,
            &limiter,
        );
        if args.json {
            serde_json::to_writer(&mut out, &o).map_err(|e| stdout_error(e.into()))?;
            writeln!(out).map_err(stdout_error)?;
        } else {
            write!(out, "{}", describe(&o)).map_err(stdout_error)?;
        }
        conversed |= o.conversed();
        if o.answers_like_pool() {
            pool = true;
            break;
        }
    }
    let verdict = if pool {
        "answers like a pool"
    } else if conversed {
        "does not answer like a pool"
    } else {
        "could not be reached"
    };
    if !args.json {
        writeln!(out, "{}: {verdict}", args.target).map_err(stdout_error)?;
    }
    out.flush().map_err(stdout_error)?;
    Ok(if pool {
        0
    } else if conversed {
        1
    } else {
        2
    })
}
