//! The endpoints a refresh probes: read from a `pool-endpoints.tsv` (the feed's own or another
//! file in that format) or from a plain list of `HOST:PORT` lines, grouped into one
//! [`Endpoint`] per host name and port, and resolved to addresses.
//!
//! A feed row names an address and, often, the pool host name it belonged to. Addresses go
//! stale (many are old cloud addresses), names much less: so a name is resolved again and
//! every answer probed, and the address the feed listed is probed too, with the name as SNI.
//! Rows without a port, networks and port-only hints name nothing to connect to and are
//! skipped (and counted).

use crate::intel::feeds::{read_rows, EndpointAddr, PoolEndpoint};
use crate::intel::value::parse_domain;
use crate::intel::{FeedEntry, FeedError, FeedFile};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;

/// One pool endpoint to probe: a host name (or none) and a port, with the addresses the feed
/// listed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Pool host name: resolved, and sent as SNI. `None` when only an address is known.
    pub host: Option<String>,
    /// Server port.
    pub port: u16,
    /// Addresses the list gave for it, probed as they are.
    pub listed: Vec<IpAddr>,
    /// Coin ticker(s) from the feed, comma-separated, or empty.
    pub coin: String,
}

impl Endpoint {
    /// `host:port`, or `address:port` (`[v6]:port`) without a name.
    pub fn label(&self) -> String {
        match (&self.host, self.listed.first()) {
            (Some(h), _) => format!("{h}:{}", self.port),
            (None, Some(ip)) => SocketAddr::new(*ip, self.port).to_string(),
            (None, None) => format!("?:{}", self.port),
        }
    }

    /// The key `pool-certs.tsv` remembers a serving endpoint by: `host:port@address`, or
    /// `address:port` without a name.
    pub fn key(&self, ip: IpAddr) -> String {
        match &self.host {
            Some(h) => format!("{h}:{}@{ip}", self.port),
            None => SocketAddr::new(ip, self.port).to_string(),
        }
    }
}

/// The endpoints of a list, and what was skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointList {
    /// Endpoints to probe, in list order.
    pub endpoints: Vec<Endpoint>,
    /// Rows that give no port (`ip` only): nothing to connect to.
    pub skipped_no_port: usize,
    /// Rows that name a network or `*` rather than one address.
    pub skipped_networks: usize,
}

impl EndpointList {
    /// Groups feed rows into endpoints: one per (host name, port), one per (address, port) for
    /// rows without a name.
    pub fn from_rows(rows: &[PoolEndpoint]) -> Self {
        let mut list = EndpointList::default();
        let mut by_key: BTreeMap<(Option<String>, u16, Option<IpAddr>), usize> = BTreeMap::new();
        for row in rows {
            let Some(port) = row.port else {
                list.skipped_no_port += 1;
                continue;
            };
            let ip = match row.addr {
                EndpointAddr::Net(n) if n.is_host() => n.addr(),
                _ => {
                    list.skipped_networks += 1;
                    continue;
                }
            };
            let names: Vec<String> = row
                .host
                .split(',')
                .filter_map(|h| parse_domain(h, 1).ok())
                .collect();
            let keys: Vec<(Option<String>, u16, Option<IpAddr>)> = if names.is_empty() {
                vec![(None, port, Some(ip))]
            } else {
                names.into_iter().map(|n| (Some(n), port, None)).collect()
            };
            for key in keys {
                let at = *by_key.entry(key.clone()).or_insert_with(|| {
                    list.endpoints.push(Endpoint {
                        host: key.0.clone(),
                        port,
                        listed: Vec::new(),
                        coin: String::new(),
                    });
                    list.endpoints.len() - 1
                });
                let e = &mut list.endpoints[at];
                if !e.listed.contains(&ip) {
                    e.listed.push(ip);
                }
                for coin in row.coin.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    if !e.coin.split(',').any(|c| c == coin) {
                        if !e.coin.is_empty() {
                            e.coin.push(',');
                        }
                        e.coin.push_str(coin);
                    }
                }
            }
        }
        list
    }
}

/// Splits `HOST:PORT` (`[v6]:PORT` for IPv6) into host and port.
pub fn parse_target(s: &str) -> Result<(String, u16), String> {
    let s = s.trim();
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest
            .split_once("]:")
            .ok_or_else(|| format!("{s:?} is not [ADDRESS]:PORT"))?;
        (h, p)
    } else {
        s.rsplit_once(':')
            .ok_or_else(|| format!("{s:?} has no port (HOST:PORT)"))?
    };
    if host.is_empty() || host.contains(':') && !s.starts_with('[') {
        return Err(format!(
            "{s:?} is not HOST:PORT (write IPv6 addresses as [ADDRESS]:PORT)"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((host.to_string(), p)),
        _ => Err(format!("{s:?}: port {port:?} is not 1-65535")),
    }
}

/// An endpoint for one `HOST:PORT`: an address literal is listed, a name is resolved.
pub fn endpoint_of(host: &str, port: u16) -> Result<Endpoint, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Endpoint {
            host: None,
            port,
            listed: vec![ip.to_canonical()],
            coin: String::new(),
        });
    }
    Ok(Endpoint {
        host: Some(parse_domain(host, 1)?),
        port,
        listed: Vec::new(),
        coin: String::new(),
    })
}

/// Reads an endpoint list: a `pool-endpoints.tsv`-format file (a header naming `ip`, `source`
/// and `date`), or one `HOST:PORT` per line (`#` comments and blank lines allowed).
pub fn read_endpoints(path: &Path) -> Result<EndpointList, FeedError> {
    let text = std::fs::read_to_string(path).map_err(|e| FeedError::io(path, e))?;
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    let is_tsv = first.is_some_and(|l| l.split('\t').any(|c| c.trim() == "ip"));
    if is_tsv {
        // Every row, without the loader's de-duplication: two rows for one address and port
        // may name two hosts, and each host is an SNI to try.
        let mut rows = Vec::new();
        for row in read_rows(FeedFile::PoolEndpoints, path, &text)? {
            match row.map_err(|(line, reason)| FeedError::line(path, line, reason))? {
                FeedEntry::Endpoint(e) => rows.push(e),
                _ => unreachable!("an endpoints file yields endpoint rows"),
            }
        }
        return Ok(EndpointList::from_rows(&rows));
    }
    let mut list = EndpointList::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let e = parse_target(line)
            .and_then(|(h, p)| endpoint_of(&h, p))
            .map_err(|reason| FeedError::line(path, i + 1, reason))?;
        if !list.endpoints.contains(&e) {
            list.endpoints.push(e);
        }
    }
    Ok(list)
}

/// Turns a host name into addresses.
pub trait Resolve: Sync {
    /// Every address `host` resolves to (A and AAAA), in the resolver's order, without
    /// duplicates; the error in words when it does not resolve.
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String>;
}

/// The system resolver (`getaddrinfo`: hosts file, then DNS).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let addrs = (host, 0u16).to_socket_addrs().map_err(|e| e.to_string())?;
        let mut out: Vec<IpAddr> = Vec::new();
        for a in addrs {
            let ip = a.ip().to_canonical();
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
        if out.is_empty() {
            return Err(format!("{host} has no A or AAAA records"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<PoolEndpoint> {
        let mut f = crate::intel::PoolFeed::default();
        f.parse_file(FeedFile::PoolEndpoints, Path::new("t.tsv"), text)
            .unwrap();
        f.endpoints
    }

    #[test]
    fn feed_rows_group_by_name_and_port() {
        let text = "ip\tport\tcoin\thost\tsource\tdate\n\
                    1.2.3.4\t3333\tXMR\tpool.example\ts\t2018\n\
                    1.2.3.5\t3333\tXMR\tpool.example\tt\t2018\n\
                    1.2.3.5\t5555\t\tpool.example,eu.pool.example\ts\t2018\n\
                    5.6.7.8\t443\t\t\ts\t2018\n\
                    5.6.7.8\t\t\t\ts\t2018\n\
                    10.0.0.0/8\t3333\t\t\ts\t2018\n\
                    *\t3333\t\t\ts\t2018\n";
        let list = EndpointList::from_rows(&rows(text));
        let labels: Vec<String> = list.endpoints.iter().map(Endpoint::label).collect();
        assert_eq!(
            labels,
            [
                "pool.example:3333",
                "pool.example:5555",
                "eu.pool.example:5555",
                "5.6.7.8:443"
            ]
        );
        assert_eq!(list.endpoints[0].listed.len(), 2);
        assert_eq!(list.endpoints[0].coin, "XMR");
        assert_eq!(list.skipped_no_port, 1);
        assert_eq!(list.skipped_networks, 2);
        let ip: IpAddr = "1.2.3.4".parse().unwrap();
        assert_eq!(list.endpoints[0].key(ip), "pool.example:3333@1.2.3.4");
        assert_eq!(
            list.endpoints[3].key("5.6.7.8".parse().unwrap()),
            "5.6.7.8:443"
        );
    }

    #[test]
    fn targets() {
        assert_eq!(
            parse_target("pool.example:3333").unwrap(),
            ("pool.example".into(), 3333)
        );
        assert_eq!(parse_target("[::1]:443").unwrap(), ("::1".into(), 443));
        assert!(parse_target("pool.example").is_err());
        assert!(parse_target("::1:443").is_err());
        assert!(parse_target("pool.example:0").is_err());
        assert!(parse_target(":80").is_err());
        let e = endpoint_of("::1", 443).unwrap();
        assert_eq!((e.host.clone(), e.label()), (None, "[::1]:443".to_string()));
        let e = endpoint_of("Pool.Example", 443).unwrap();
        assert_eq!(e.host.as_deref(), Some("pool.example"));
        assert!(endpoint_of("bad name", 1).is_err());
    }

    #[test]
    fn list_files_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("list.txt");
        std::fs::write(
            &p,
            "# pools\n127.0.0.1:3333\n\npool.example:443 # tls\n127.0.0.1:3333\n",
        )
        .unwrap();
        let l = read_endpoints(&p).unwrap();
        assert_eq!(l.endpoints.len(), 2);
        std::fs::write(&p, "127.0.0.1:3333\nnot-a-target\n").unwrap();
        let e = read_endpoints(&p).unwrap_err().to_string();
        assert!(
            e.ends_with("list.txt:2: \"not-a-target\" has no port (HOST:PORT)"),
            "{e}"
        );
        std::fs::write(
            &p,
            "# comment\nip\tport\tsource\tdate\n127.0.0.1\t3333\ttest\t2026-01-01\n",
        )
        .unwrap();
        let l = read_endpoints(&p).unwrap();
        assert_eq!(l.endpoints[0].label(), "127.0.0.1:3333");
        // The same address and port twice with two hosts: two endpoints (the feed loader
        // would merge the rows).
        std::fs::write(
            &p,
            "ip\tport\thost\tsource\tdate\n127.0.0.1\t3333\ta.test\tt\t2026\n\
             127.0.0.1\t3333\tb.test\tt\t2026\n127.0.0.1\t3333\t\tt\t2026\n",
        )
        .unwrap();
        let labels: Vec<String> = read_endpoints(&p)
            .unwrap()
            .endpoints
            .iter()
            .map(Endpoint::label)
            .collect();
        assert_eq!(labels, ["a.test:3333", "b.test:3333", "127.0.0.1:3333"]);
        std::fs::write(&p, "ip\tport\tsource\tdate\n127.0.0.1\t99999\tt\t2026\n").unwrap();
        let e = read_endpoints(&p).unwrap_err().to_string();
        assert!(e.contains("list.txt:2: port"), "{e}");
    }

    #[test]
    fn literal_addresses_need_no_dns() {
        let ips = SystemResolver.resolve("127.0.0.1").unwrap();
        assert_eq!(ips, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
    }
}
