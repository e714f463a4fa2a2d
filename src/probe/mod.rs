//! Active probing of pool servers: the one part of poolscope that sends traffic. Everything
//! else reads captures; this module connects to the endpoints the feeds name (or a suspect
//! server a capture showed), runs a TLS handshake with a client that accepts any certificate,
//! records the chain and the server's JA3S/JA4S, and, when asked, speaks Stratum to see whether
//! the server answers like a pool. [`refresh`] runs that over a whole endpoint list with
//! bounded concurrency, retries and a per-host rate limit, and [`history`] folds the results
//! into `pool-certs.tsv` (first and last seen, which endpoint served what, rotations).
//! [`crate::intel::learn`], which sends nothing, goes the other way and adds what scored
//! captures showed to the feeds. The terminal (progress bars, summaries) stays in `cli/`.
//!
//! [`confirm_endpoint`] is the entry point for confirming one suspected server
//! ([`crate::score::Confirmer`] calls it for `score --confirm`).

pub mod endpoints;
pub mod history;
mod net;
mod pool;
pub mod refresh;
pub mod stratum;
pub mod tls;

pub use endpoints::{Endpoint, EndpointList, Resolve, SystemResolver};
pub use history::HistoryReport;
pub use refresh::{CertChange, CertStatus, EndpointStatus};
pub use refresh::{RefreshOptions, ReportRow};
pub use stratum::{Dialect, DialectChoice, ReplyKind, StratumTry, AGENT};
pub use tls::{ChainCert, TlsObservation};

use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a probe did not get what it came for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The host name did not resolve.
    Dns,
    /// The server refused the connection (RST to the SYN).
    Refused,
    /// No route to the address.
    Unreachable,
    /// No answer within the connect or I/O timeout.
    Timeout,
    /// The server reset the connection.
    Reset,
    /// The server answered, but not with TLS.
    NotTls,
    /// The TLS handshake failed (alert, no common parameters, closed mid-way, bad message).
    Handshake,
    /// Any other operating-system error.
    Io,
}

impl FailureKind {
    /// Name as reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Refused => "refused",
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::Reset => "reset",
            Self::NotTls => "not-tls",
            Self::Handshake => "handshake",
            Self::Io => "io",
        }
    }

    /// Whether trying again later may give another result (a lost packet, a busy server), as
    /// opposed to an answer (refused, not TLS, a handshake the server rejects).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::Reset | Self::Unreachable | Self::Io
        )
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which step of a probe a failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Resolving the host name.
    Resolve,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake.
    Handshake,
}

impl Phase {
    /// Name as reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resolve => "resolve",
            Self::Connect => "connect",
            Self::Handshake => "handshake",
        }
    }
}

/// A failure with its kind, the step it happened in and a readable reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// In which step.
    pub phase: Phase,
    /// What happened, in words.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.kind,
            self.phase.as_str(),
            self.message
        )
    }
}

/// How to reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// TLS only.
    Tls,
    /// Plain TCP only (no handshake; only useful with the Stratum check).
    Plain,
    /// TLS first; when the server answers with something that is not TLS (or says nothing at
    /// all), the Stratum check goes over plain TCP.
    #[default]
    Auto,
}

/// Settings of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOptions {
    /// Longest wait for the TCP connection.
    pub connect_timeout: Duration,
    /// Longest time for the handshake, and again for the Stratum reply.
    pub io_timeout: Duration,
    /// Further attempts after a transient failure (timeout, reset, unreachable).
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// TLS, plain or automatic.
    pub mode: Mode,
    /// Whether to speak Stratum after connecting.
    pub confirm_stratum: bool,
    /// Which Stratum requests to send.
    pub dialect: DialectChoice,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(5),
            retries: 1,
            backoff: Duration::from_secs(1),
            mode: Mode::Auto,
            confirm_stratum: false,
            dialect: DialectChoice::Auto,
        }
    }
}

/// The Stratum part of a probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StratumCheck {
    /// Some request got an answer a pool gives.
    pub pool_like: bool,
    /// Where the conversation took place: `tls` or `plain`.
    pub transport: &'static str,
    /// Each request and its answer, in order.
    pub tries: Vec<StratumTry>,
    /// Why a (further) connection for the conversation could not be opened, if one could not.
    pub error: Option<Failure>,
}

/// Everything one probe of one address learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeOutcome {
    /// The server probed.
    pub address: SocketAddr,
    /// The name sent as SNI (none for an address).
    pub sni: Option<String>,
    /// `ok` when the handshake (or, in plain mode, the connection) succeeded, else the failure
    /// kind.
    pub status: &'static str,
    /// Why it failed, when it did.
    pub error: Option<Failure>,
    /// Connection attempts made for the handshake (retries included).
    pub attempts: u32,
    /// Wall time of the whole probe, milliseconds.
    pub elapsed_ms: u64,
    /// What the TLS handshake showed (also after a failure, as far as it got).
    pub tls: Option<TlsObservation>,
    /// The Stratum check, when asked for and a connection was possible.
    pub stratum: Option<StratumCheck>,
}

impl ProbeOutcome {
    fn new(address: SocketAddr, sni: Option<&str>) -> Self {
        ProbeOutcome {
            address,
            sni: sni.map(str::to_string),
            status: "ok",
            error: None,
            attempts: 0,
            elapsed_ms: 0,
            tls: None,
            stratum: None,
        }
    }

    /// The server answered a Stratum request like a pool.
    pub fn answers_like_pool(&self) -> bool {
        self.stratum.as_ref().is_some_and(|s| s.pool_like)
    }

    /// A request was sent and something (or nothing) came back: the server was reachable.
    /// False when no conversation could start (DNS, refused, timeout, handshake).
    pub fn conversed(&self) -> bool {
        self.stratum.as_ref().is_some_and(|s| !s.tries.is_empty())
    }

    /// The completed handshake's leaf certificate.
    pub fn leaf(&self) -> Option<&ChainCert> {
        self.tls.as_ref().filter(|t| t.complete)?.leaf()
    }

    /// The outcome as a verdict reason: `probe:pool:monero:job (tls)` when the server answered
    /// like a pool, `probe:not-pool (monero: not-json-rpc, bitcoin: closed)` when it answered
    /// otherwise, `probe:unreachable (refused)` when no conversation could start.
    pub fn reason(&self) -> String {
        let name = |k: ReplyKind| {
            serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        };
        match &self.stratum {
            Some(st) if st.pool_like => {
                let t = st.tries.iter().find(|t| t.pool_like);
                let (d, r) = t.map_or(("?", String::new()), |t| {
                    (t.dialect.as_str(), name(t.reply))
                });
                format!("probe:pool:{d}:{r} ({})", st.transport)
            }
            Some(st) if !st.tries.is_empty() => {
                let tries: Vec<String> = st
                    .tries
                    .iter()
                    .map(|t| format!("{}: {}", t.dialect.as_str(), name(t.reply)))
                    .collect();
                format!("probe:not-pool ({})", tries.join(", "))
            }
            _ => {
                let why = self
                    .error
                    .as_ref()
                    .or(self.stratum.as_ref().and_then(|s| s.error.as_ref()))
                    .map_or("no conversation", |e| e.kind.as_str());
                format!("probe:unreachable ({why})")
            }
        }
    }
}

/// A minimum interval between two connections to the same address, shared by all workers.
#[derive(Debug, Default)]
pub struct HostLimiter {
    interval: Duration,
    next: Mutex<HashMap<IpAddr, Instant>>,
}

impl HostLimiter {
    /// Connections to one address start at least `interval` apart (zero: no limit).
    pub fn new(interval: Duration) -> Self {
        HostLimiter {
            interval,
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for the next slot of `ip` and takes it.
    pub fn wait(&self, ip: IpAddr) {
        if self.interval.is_zero() {
            return;
        }
        let now = Instant::now();
        let at = match self.next.lock() {
            Ok(mut next) => {
                let slot = next.entry(ip).or_insert(now);
                let at = (*slot).max(now);
                *slot = at + self.interval;
                at
            }
            Err(_) => now,
        };
        std::thread::sleep(at.saturating_duration_since(now));
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the retries are used up; the wait
/// doubles after each try. Counts attempts in `attempts`.
fn with_retries<T>(
    opts: &ProbeOptions,
    attempts: &mut u32,
    mut attempt: impl FnMut() -> T,
    transient: impl Fn(&T) -> bool,
) -> T {
    let mut delay = opts.backoff;
    loop {
        *attempts += 1;
        let r = attempt();
        if !transient(&r) || *attempts > opts.retries {
            return r;
        }
        std::thread::sleep(delay);
        delay = delay.saturating_mul(2);
    }
}

/// Stratum over new plain TCP connections, one per dialect until one answers like a pool.
fn stratum_plain(addr: SocketAddr, opts: &ProbeOptions, limiter: &HostLimiter) -> StratumCheck {
    let mut check = StratumCheck {
        pool_like: false,
        transport: "plain",
        tries: Vec::new(),
        error: None,
    };
    let mut attempts = 0;
    for &dialect in opts.dialect.order() {
        let stream = with_retries(
            opts,
            &mut attempts,
            || {
                limiter.wait(addr.ip());
                net::connect(addr, opts.connect_timeout)
            },
            |r| r.as_ref().is_err_and(|f| f.kind.is_transient()),
        );
        let stream = match stream {
            Ok(s) => s,
            Err(f) => {
                check.error = Some(f);
                break;
            }
        };
        let mut wire = net::Wire::new(stream, opts.io_timeout);
        let t = stratum::converse(&mut wire, dialect);
        wire.shutdown();
        check.pool_like |= t.pool_like;
        check.tries.push(t);
        if check.pool_like {
            break;
        }
    }
    check
}

/// Stratum over TLS: the first request on the session already open, each further one on a new
/// session.
fn stratum_tls(
    first: tls::TlsStream,
    addr: SocketAddr,
    sni: Option<&str>,
    opts: &ProbeOptions,
    limiter: &HostLimiter,
) -> StratumCheck {
    let mut check = StratumCheck {
        pool_like: false,
        transport: "tls",
        tries: Vec::new(),
        error: None,
    };
    let mut first = Some(first);
    for &dialect in opts.dialect.order() {
        let mut stream = match first.take() {
            Some(s) => s,
            None => {
                limiter.wait(addr.ip());
                match tls::handshake(addr, sni, opts).result {
                    Ok(s) => s,
                    Err(f) => {
                        check.error = Some(f);
                        break;
                    }
                }
            }
        };
        stream.sock.reset_deadline(opts.io_timeout);
        let t = stratum::converse(&mut stream, dialect);
        stream.conn.send_close_notify();
        let _ = stream.conn.write_tls(&mut stream.sock);
        stream.sock.shutdown();
        check.pool_like |= t.pool_like;
        check.tries.push(t);
        if check.pool_like {
            break;
        }
    }
    check
}

/// Probes one address: a TLS handshake (retried on transient failures) and, when the options
/// ask for it, a Stratum conversation; in [`Mode::Plain`] only the conversation. `limiter`
/// spaces connections to the same address.
pub fn probe_address(
    addr: SocketAddr,
    sni: Option<&str>,
    opts: &ProbeOptions,
    limiter: &HostLimiter,
) -> ProbeOutcome {
    let started = Instant::now();
    let mut out = ProbeOutcome::new(addr, sni);
    if opts.mode == Mode::Plain {
        let check = stratum_plain(addr, opts, limiter);
        out.attempts = 1;
        if check.tries.is_empty() {
            if let Some(f) = &check.error {
                out.status = f.kind.as_str();
                out.error = Some(f.clone());
            }
        }
        out.stratum = Some(check);
    } else {
        let mut hs = with_retries(
            opts,
            &mut out.attempts,
            || {
                limiter.wait(addr.ip());
                tls::handshake(addr, sni, opts)
            },
            |h| h.result.as_ref().is_err_and(|f| f.kind.is_transient()),
        );
        out.tls = hs.observed.take();
        match hs.result {
            Ok(stream) => {
                if opts.confirm_stratum {
                    out.stratum = Some(stratum_tls(stream, addr, sni, opts, limiter));
                } else {
                    let mut stream = stream;
                    stream.conn.send_close_notify();
                    let _ = stream.conn.write_tls(&mut stream.sock);
                    stream.sock.shutdown();
                }
            }
            Err(f) => {
                // Nothing TLS came back: maybe a plaintext pool port.
                let plaintext = f.phase == Phase::Handshake
                    && (f.kind == FailureKind::NotTls
                        || (hs.server_bytes == 0
                            && matches!(
                                f.kind,
                                FailureKind::Timeout | FailureKind::Handshake | FailureKind::Reset
                            )));
                out.status = f.kind.as_str();
                out.error = Some(f);
                if opts.confirm_stratum && opts.mode == Mode::Auto && plaintext {
                    out.stratum = Some(stratum_plain(addr, opts, limiter));
                }
            }
        }
    }
    out.elapsed_ms = started.elapsed().as_millis() as u64;
    out
}

/// Confirms a suspected pool: probes `addr:port` (TLS with `sni` first, plain TCP when the
/// server does not speak TLS, unless `opts.mode` says otherwise) and speaks Stratum to it,
/// whatever `opts.confirm_stratum` says. **This sends traffic to the server**: a TLS
/// ClientHello and a `login` / `mining.subscribe` request with the dummy worker `x`.
/// [`ProbeOutcome::answers_like_pool`] gives the answer.
pub fn confirm_endpoint(
    addr: IpAddr,
    port: u16,
    sni: Option<&str>,
    opts: &ProbeOptions,
) -> ProbeOutcome {
    let opts = ProbeOptions {
        confirm_stratum: true,
        ..opts.clone()
    };
    probe_address(
        SocketAddr::new(addr, port),
        sni,
        &opts,
        &HostLimiter::default(),
    )
}

/// A server to confirm: address, port and the SNI to send.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfirmTarget {
    /// Server address and port.
    pub addr: SocketAddr,
    /// Name for SNI (the flow's SNI), if any.
    pub sni: Option<String>,
}

/// [`confirm_endpoint`] for many servers at once: `jobs` at a time, connections to one address
/// at least `per_host_interval` apart. Duplicate targets are probed once. Outcomes come back in
/// the order of `targets`; `on_done` is called on the calling thread after each.
pub fn confirm_many(
    targets: &[ConfirmTarget],
    opts: &ProbeOptions,
    jobs: usize,
    per_host_interval: Duration,
    on_done: &mut dyn FnMut(&ProbeOutcome),
) -> Vec<ProbeOutcome> {
    let opts = ProbeOptions {
        confirm_stratum: true,
        ..opts.clone()
    };
    let limiter = HostLimiter::new(per_host_interval);
    let mut unique: Vec<&ConfirmTarget> = Vec::new();
    let mut index: HashMap<&ConfirmTarget, usize> = HashMap::new();
    for t in targets {
        index.entry(t).or_insert_with(|| {
            unique.push(t);
            unique.len() - 1
        });
    }
    let mut done: Vec<Option<ProbeOutcome>> = vec![None; unique.len()];
    pool::for_each(
        &unique,
        jobs,
        |t| probe_address(t.addr, t.sni.as_deref(), &opts, &limiter),
        |i, outcome| {
            on_done(&outcome);
            done[i] = Some(outcome);
        },
    );
    targets
        .iter()
        .filter_map(|t| done[index[t]].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    #[test]
    fn limiter_spaces_connections_per_address() {
        let limiter = HostLimiter::new(Duration::from_millis(60));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let started = Instant::now();
        limiter.wait(a);
        limiter.wait(b);
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "different hosts"
        );
        limiter.wait(a);
        limiter.wait(a);
        assert!(started.elapsed() >= Duration::from_millis(120));
        let none = HostLimiter::new(Duration::ZERO);
        let started = Instant::now();
        for _ in 0..100 {
            none.wait(a);
        }
        assert!(started.elapsed() < Duration::from_millis(50));
    }

    #[test]
    fn retries_only_transient_failures_with_backoff() {
        let opts = ProbeOptions {
            retries: 2,
            backoff: Duration::from_millis(10),
            ..Default::default()
        };
        let mut attempts = 0;
        let started = Instant::now();
        let r = with_retries(
            &opts,
            &mut attempts,
            || FailureKind::Timeout,
            |k| k.is_transient(),
        );
        assert_eq!(r, FailureKind::Timeout);
        assert_eq!(attempts, 3);
        assert!(started.elapsed() >= Duration::from_millis(30), "10 + 20 ms");
        let mut attempts = 0;
        with_retries(
            &opts,
            &mut attempts,
            || FailureKind::Refused,
            |k| k.is_transient(),
        );
        assert_eq!(attempts, 1);
    }

    /// A one-connection plaintext pool on loopback that answers `login` with a job.
    fn pool_stub() -> (SocketAddr, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line).unwrap();
            let mut w = &s;
            if line.starts_with('{') {
                w.write_all(
                    b"{\"id\":1,\"jsonrpc\":\"2.0\",\"error\":null,\"result\":{\"id\":\"s\",\
                      \"job\":{\"blob\":\"07\",\"job_id\":\"1\",\"target\":\"b88d0600\"},\
                      \"status\":\"OK\"}}\n",
                )
                .unwrap();
            }
            line
        });
        (addr, h)
    }

    #[test]
    fn plain_confirmation_against_a_loopback_pool() {
        let (addr, server) = pool_stub();
        let opts = ProbeOptions {
            mode: Mode::Plain,
            io_timeout: Duration::from_secs(3),
            ..Default::default()
        };
        let out = confirm_endpoint(addr.ip(), addr.port(), None, &opts);
        assert_eq!(out.status, "ok");
        assert!(out.answers_like_pool(), "{out:?}");
        assert!(out.conversed());
        assert_eq!(out.reason(), "probe:pool:monero:job (plain)");
        let s = out.stratum.unwrap();
        assert_eq!(s.transport, "plain");
        assert_eq!(s.tries[0].reply, ReplyKind::Job);
        assert_eq!(server.join().unwrap(), Dialect::Monero.request());
    }

    #[test]
    fn refused_port_is_a_network_failure() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let opts = ProbeOptions {
            retries: 0,
            ..Default::default()
        };
        let out = confirm_endpoint("127.0.0.1".parse().unwrap(), port, None, &opts);
        assert_eq!(out.status, "refused");
        assert!(!out.answers_like_pool());
        assert!(!out.conversed());
        assert_eq!(out.reason(), "probe:unreachable (refused)");
        assert_eq!(out.error.unwrap().phase, Phase::Connect);
    }

    #[test]
    fn confirm_many_dedupes_and_keeps_order() {
        let refused = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let t = ConfirmTarget {
            addr: refused,
            sni: None,
        };
        let opts = ProbeOptions {
            retries: 0,
            ..Default::default()
        };
        let mut calls = 0;
        let out = confirm_many(&[t.clone(), t], &opts, 4, Duration::ZERO, &mut |_| {
            calls += 1
        });
        assert_eq!(calls, 1);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].status, "refused");
    }
}
