//! A refresh run: every endpoint of a list resolved and probed, a few at a time, each address
//! with its own timeouts, retries and the per-host rate limit, one [`ReportRow`] per
//! endpoint × address (and one per endpoint whose name did not resolve). No failure stops the
//! run: each is a row with its reason. The rows feed the history update
//! ([`super::history::apply`]) and the NDJSON report.

use super::endpoints::{Endpoint, Resolve};
use super::{pool, probe_address, Failure, FailureKind, HostLimiter, Phase, ProbeOptions};
use super::{StratumCheck, TlsObservation};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Whether a certificate was in the certificate feed before this refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CertStatus {
    /// No row of the feed had it.
    New,
    /// Some row had it.
    Known,
}

/// What an endpoint served compared with the last refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointStatus {
    /// The history had never seen this endpoint.
    First,
    /// It served this certificate last time too.
    Same,
    /// It served another one (`previous_sha256`).
    Rotated,
}

/// What one successful probe changed in the certificate feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertChange {
    /// SHA-256 of the leaf certificate seen.
    pub sha256: String,
    /// Whether the feed had the certificate before.
    pub cert: CertStatus,
    /// What the endpoint served compared with the last refresh.
    pub endpoint: EndpointStatus,
    /// The certificate the endpoint served before a rotation.
    pub previous_sha256: Option<String>,
}

/// Settings of a refresh run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshOptions {
    /// Settings of each probe.
    pub probe: ProbeOptions,
    /// Endpoints probed at once (worker threads).
    pub jobs: usize,
    /// Least time between two connections to the same address.
    pub per_host_interval: Duration,
    /// Resolve host names (else probe only the listed addresses, with the name as SNI).
    pub resolve: bool,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        RefreshOptions {
            probe: ProbeOptions::default(),
            jobs: 8,
            per_host_interval: Duration::from_millis(500),
            resolve: true,
        }
    }
}

/// One line of the refresh report: an endpoint, one of its addresses, and what the probe saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    /// `host:port` (or `address:port`).
    pub endpoint: String,
    /// The pool host name, if known.
    pub host: Option<String>,
    /// Server port.
    pub port: u16,
    /// The address probed; `None` on a row that reports a failed resolution.
    pub address: Option<IpAddr>,
    /// Where the address came from: `dns`, `feed`, or `dns+feed`.
    pub address_from: Option<&'static str>,
    /// The key the certificate history knows this endpoint × address by.
    pub key: Option<String>,
    /// SNI sent.
    pub sni: Option<String>,
    /// Coin(s) the feed gave for the endpoint.
    pub coin: String,
    /// `ok` or the failure kind (`dns`, `refused`, `timeout`, `reset`, `not-tls`, `handshake`,
    /// `unreachable`, `io`).
    pub status: &'static str,
    /// The failure, with its step and reason.
    pub error: Option<Failure>,
    /// Connection attempts for the handshake.
    pub attempts: u32,
    /// Wall time, milliseconds.
    pub elapsed_ms: u64,
    /// Handshake results and the certificate chain.
    pub tls: Option<TlsObservation>,
    /// The Stratum check (`--confirm-stratum`).
    pub stratum: Option<StratumCheck>,
    /// What the row changed in the certificate feed (filled in by the history update).
    pub feed: Option<CertChange>,
}

impl ReportRow {
    fn dns_failure(ep: &Endpoint, message: String) -> Self {
        ReportRow {
            endpoint: ep.label(),
            host: ep.host.clone(),
            port: ep.port,
            address: None,
            address_from: None,
            key: None,
            sni: ep.host.clone(),
            coin: ep.coin.clone(),
            status: FailureKind::Dns.as_str(),
            error: Some(Failure {
                kind: FailureKind::Dns,
                phase: Phase::Resolve,
                message,
            }),
            attempts: 1,
            elapsed_ms: 0,
            tls: None,
            stratum: None,
            feed: None,
        }
    }
}

/// Probes every address of one endpoint.
fn probe_endpoint(
    ep: &Endpoint,
    opts: &RefreshOptions,
    resolver: &dyn Resolve,
    limiter: &HostLimiter,
) -> Vec<ReportRow> {
    let mut rows = Vec::new();
    let mut targets: Vec<(IpAddr, &'static str)> = Vec::new();
    if let (Some(host), true) = (&ep.host, opts.resolve) {
        match resolver.resolve(host) {
            Ok(ips) => targets.extend(ips.into_iter().map(|ip| (ip, "dns"))),
            Err(e) => rows.push(ReportRow::dns_failure(ep, format!("{host}: {e}"))),
        }
    }
    for &ip in &ep.listed {
        match targets.iter_mut().find(|(t, _)| *t == ip) {
            Some(t) => t.1 = "dns+feed",
            None => targets.push((ip, "feed")),
        }
    }
    for (ip, from) in targets {
        let o = probe_address(
            SocketAddr::new(ip, ep.port),
            ep.host.as_deref(),
            &opts.probe,
            limiter,
        );
        rows.push(ReportRow {
            endpoint: ep.label(),
            host: ep.host.clone(),
            port: ep.port,
            address: Some(ip),
            address_from: Some(from),
            key: Some(ep.key(ip)),
            sni: o.sni,
            coin: ep.coin.clone(),
            status: o.status,
            error: o.error,
            attempts: o.attempts,
            elapsed_ms: o.elapsed_ms,
            tls: o.tls,
            stratum: o.stratum,
            feed: None,
        });
    }
    rows
}

/// Probes all `endpoints`; `on_endpoint` is called on the calling thread as each endpoint
/// finishes (for a progress bar). Rows come back in endpoint order.
pub fn run(
    endpoints: &[Endpoint],
    opts: &RefreshOptions,
    resolver: &dyn Resolve,
    on_endpoint: &mut dyn FnMut(&Endpoint, &[ReportRow]),
) -> Vec<ReportRow> {
    let limiter = HostLimiter::new(opts.per_host_interval);
    let mut done: Vec<Vec<ReportRow>> = vec![Vec::new(); endpoints.len()];
    pool::for_each(
        endpoints,
        opts.jobs,
        |ep| probe_endpoint(ep, opts, resolver, &limiter),
        |i, rows| {
            on_endpoint(&endpoints[i], &rows);
            done[i] = rows;
        },
    );
    done.into_iter().flatten().collect()
}

/// Counts of a run, for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    /// Endpoints probed.
    pub endpoints: usize,
    /// Rows (endpoint × address, plus failed resolutions).
    pub rows: usize,
    /// Rows with a completed handshake.
    pub ok: usize,
    /// Failed rows per failure kind.
    pub failed: BTreeMap<&'static str, usize>,
    /// Rows whose server answered Stratum like a pool.
    pub pool_like: usize,
}

impl RunCounts {
    /// Counts `rows` of a run over `endpoints` endpoints.
    pub fn of(endpoints: usize, rows: &[ReportRow]) -> Self {
        let mut c = RunCounts {
            endpoints,
            rows: rows.len(),
            ..Default::default()
        };
        for r in rows {
            if r.status == "ok" {
                c.ok += 1;
            } else {
                *c.failed.entry(r.status).or_default() += 1;
            }
            if r.stratum.as_ref().is_some_and(|s| s.pool_like) {
                c.pool_like += 1;
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolver that knows one name and fails every other, without touching the network.
    struct Fake;

    impl Resolve for Fake {
        fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
            match host {
                "pool.test" => Ok(vec!["127.0.0.1".parse().unwrap()]),
                _ => Err("Name or service not known".into()),
            }
        }
    }

    fn refused_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn dns_failures_are_rows_and_listed_addresses_still_probed() {
        let port = refused_port();
        let eps = vec![
            Endpoint {
                host: Some("gone.test".into()),
                port,
                listed: vec!["127.0.0.1".parse().unwrap()],
                coin: "XMR".into(),
            },
            Endpoint {
                host: Some("pool.test".into()),
                port,
                listed: vec!["127.0.0.1".parse().unwrap()],
                coin: String::new(),
            },
        ];
        let opts = RefreshOptions {
            probe: ProbeOptions {
                retries: 0,
                ..Default::default()
            },
            per_host_interval: Duration::ZERO,
            ..Default::default()
        };
        let mut finished = 0;
        let rows = run(&eps, &opts, &Fake, &mut |_, _| finished += 1);
        assert_eq!(finished, 2);
        let seen: Vec<(&str, &str, Option<&str>)> = rows
            .iter()
            .map(|r| (r.endpoint.as_str(), r.status, r.address_from))
            .collect();
        let ep0 = format!("gone.test:{port}");
        let ep1 = format!("pool.test:{port}");
        assert_eq!(
            seen,
            [
                (ep0.as_str(), "dns", None),
                (ep0.as_str(), "refused", Some("feed")),
                (ep1.as_str(), "refused", Some("dns+feed")),
            ]
        );
        assert!(rows[0]
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("gone.test"));
        assert_eq!(rows[1].sni.as_deref(), Some("gone.test"));
        let counts = RunCounts::of(eps.len(), &rows);
        assert_eq!(counts.failed.get("refused"), Some(&2));
        assert_eq!(counts.failed.get("dns"), Some(&1));

        // Without resolution only the listed addresses are probed.
        let opts = RefreshOptions {
            resolve: false,
            ..opts
        };
        let rows = run(&eps, &opts, &Fake, &mut |_, _| {});
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.address_from == Some("feed")));
    }
}
