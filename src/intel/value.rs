//! The value types of the feeds and their normal forms: domain names, IP networks, hashes,
//! TLS fingerprints and dates. Feed loading, importing and matching all go through these
//! functions, so a value written in a feed and the same value seen in a flow compare equal
//! (case, trailing dot, wildcard prefix, IPv4-mapped IPv6, colon-separated hashes).

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest DNS name, in presentation form without the trailing dot.
const MAX_NAME: usize = 253;
/// Longest DNS label.
const MAX_LABEL: usize = 63;

/// The form a domain name is compared in: ASCII-lowercased, without surrounding blanks, a
/// trailing root dot or a leading `*.` / `.` wildcard. Internationalised names are compared as
/// given (feeds and TLS carry the `xn--` form); no IDNA mapping is done. Borrows when nothing
/// changes, which is the common case on the matching path.
pub fn normalize_domain(raw: &str) -> Cow<'_, str> {
    let mut s = raw.trim();
    s = s.strip_suffix('.').unwrap_or(s);
    s = s
        .strip_prefix("*.")
        .or_else(|| s.strip_prefix('.'))
        .unwrap_or(s);
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Checks a normalised domain name for a feed: ASCII letters, digits, `-` (not first or last)
/// and `_` in labels of 1 to 63 bytes, at most 253 bytes, not an IP address. `min_labels` is 2 for block lists (a
/// bare `com` would match a whole top-level domain) and 1 for the allowlist.
pub fn validate_domain(name: &str, min_labels: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty domain name".into());
    }
    if !name.is_ascii() {
        return Err(format!(
            "domain {name:?} is not ASCII: write internationalised names in their xn-- form"
        ));
    }
    if name.len() > MAX_NAME {
        return Err(format!("domain name longer than {MAX_NAME} bytes"));
    }
    if name.parse::<IpAddr>().is_ok() {
        return Err(format!(
            "{name} is an IP address, not a domain name (IP addresses go in pool-endpoints.tsv \
             or as kind ip in allowlist.tsv)"
        ));
    }
    let mut labels = 0;
    for label in name.split('.') {
        labels += 1;
        if label.is_empty() {
            return Err(format!("domain {name:?} has an empty label"));
        }
        if label.len() > MAX_LABEL {
            return Err(format!(
                "domain {name:?} has a label longer than {MAX_LABEL}"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("domain {name:?} contains {c:?}"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "domain {name:?} has a label starting or ending with '-'"
            ));
        }
    }
    if labels < min_labels {
        return Err(format!(
            "domain {name:?} has a single label and would match a whole top-level domain"
        ));
    }
    Ok(())
}

/// Normalises and validates a domain name from a feed or an import.
pub fn parse_domain(raw: &str, min_labels: usize) -> Result<String, String> {
    let name = normalize_domain(raw);
    validate_domain(&name, min_labels)?;
    Ok(name.into_owned())
}

/// An IP network: an address with all host bits zero and a prefix length. A single address is a
/// /32 (IPv4) or /128 (IPv6) network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// The network of `addr`/`prefix`; `None` when the prefix is too long for the family or the
    /// address has host bits set.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let addr = canonical_ip(addr);
        let max = max_prefix(addr);
        if prefix > max || mask_ip(addr, prefix) != addr {
            return None;
        }
        Some(IpNet { addr, prefix })
    }

    /// The single-address network of `addr`.
    pub fn host(addr: IpAddr) -> Self {
        let addr = canonical_ip(addr);
        IpNet {
            addr,
            prefix: max_prefix(addr),
        }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether this is one address rather than a range.
    pub fn is_host(&self) -> bool {
        self.prefix == max_prefix(self.addr)
    }

    /// Whether `ip` lies inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        ip.is_ipv4() == self.addr.is_ipv4() && mask_ip(ip, self.prefix) == self.addr
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

impl std::str::FromStr for IpNet {
    type Err = String;

    /// Parses `1.2.3.4`, `1.2.3.0/24`, `2001:db8::/32`. Host bits must be zero: `1.2.3.4/24` is
    /// refused with the network it probably meant, rather than silently widened.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        match s.split_once('/') {
            None => s
                .parse::<IpAddr>()
                .map(IpNet::host)
                .map_err(|_| format!("{s:?} is not an IP address")),
            Some((a, p)) => {
                let addr: IpAddr = a
                    .parse()
                    .map_err(|_| format!("{s:?}: {a:?} is not an IP address"))?;
                let prefix: u8 = p
                    .parse()
                    .map_err(|_| format!("{s:?}: prefix length {p:?} is not a number"))?;
                let addr = canonical_ip(addr);
                if prefix > max_prefix(addr) {
                    return Err(format!(
                        "{s:?}: prefix length {prefix} is too long for the address family"
                    ));
                }
                IpNet::new(addr, prefix).ok_or_else(|| {
                    format!(
                        "{s:?} has host bits set (did you mean {}/{prefix}?)",
                        mask_ip(addr, prefix)
                    )
                })
            }
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) become plain IPv4, so a dual-stack socket's
/// view of an IPv4 peer matches IPv4 feed entries.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

/// `v` with all but the top `prefix` of 32 bits cleared.
pub(crate) fn mask_v4(v: u32, prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        v & (u32::MAX << (32 - u32::from(prefix)))
    }
}

/// `v` with all but the top `prefix` of 128 bits cleared.
pub(crate) fn mask_v6(v: u128, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        v & (u128::MAX << (128 - u32::from(prefix)))
    }
}

fn mask_ip(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(mask_v4(u32::from(a), prefix))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(mask_v6(u128::from(a), prefix))),
    }
}

/// Lowercase hex of exactly `len` digits; colons (`AB:CD:…`, as openssl prints fingerprints)
/// and surrounding blanks are removed first.
pub fn parse_hex(raw: &str, len: usize, what: &str) -> Result<String, String> {
    let s: String = raw
        .trim()
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{what} {raw:?} is not {len} hex digits"));
    }
    Ok(s)
}

/// The four TLS fingerprint kinds a feed can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FingerprintKind {
    /// Client JA3 (MD5 of the ClientHello string).
    Ja3,
    /// Client JA4.
    Ja4,
    /// Server JA3S.
    Ja3s,
    /// Server JA4S.
    Ja4s,
}

impl FingerprintKind {
    /// All kinds, in column order.
    pub const ALL: [FingerprintKind; 4] = [Self::Ja3, Self::Ja4, Self::Ja3s, Self::Ja4s];

    /// The name used in feed files and reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ja3 => "ja3",
            Self::Ja4 => "ja4",
            Self::Ja3s => "ja3s",
            Self::Ja4s => "ja4s",
        }
    }

    /// Parses a feed file's `kind` column.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ja3" => Ok(Self::Ja3),
            "ja4" => Ok(Self::Ja4),
            "ja3s" => Ok(Self::Ja3s),
            "ja4s" => Ok(Self::Ja4s),
            other => Err(format!(
                "fingerprint kind {other:?} is not one of ja3, ja4, ja3s, ja4s"
            )),
        }
    }

    /// Normalises and checks a fingerprint of this kind: JA3/JA3S are 32 hex digits; JA4 is
    /// `a_b_c` with a 10-character `a` and 12-hex `b`, `c`; JA4S is `a_b_c` with a 7-character
    /// `a`, a 4-hex `b` and a 12-hex `c`.
    pub fn parse_value(self, raw: &str) -> Result<String, String> {
        match self {
            Self::Ja3 | Self::Ja3s => parse_hex(raw, 32, self.as_str()),
            Self::Ja4 | Self::Ja4s => {
                let s = raw.trim().to_ascii_lowercase();
                let (a_len, b_len) = if self == Self::Ja4 { (10, 12) } else { (7, 4) };
                let parts: Vec<&str> = s.split('_').collect();
                let ok = parts.len() == 3
                    && parts[0].len() == a_len
                    && parts[0].bytes().all(|b| b.is_ascii_alphanumeric())
                    && is_hex_len(parts[1], b_len)
                    && is_hex_len(parts[2], 12);
                if ok {
                    Ok(s)
                } else {
                    Err(format!(
                        "{} {raw:?} is not a hashed {} fingerprint",
                        self.as_str(),
                        self.as_str().to_ascii_uppercase()
                    ))
                }
            }
        }
    }
}

impl fmt::Display for FingerprintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_hex_len(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks a provenance date: `YYYY-MM-DD`, or `YYYY-MM` / `YYYY` when the source gives no day.
pub fn parse_date(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let bad = || format!("date {s:?} is not YYYY-MM-DD (or YYYY-MM, YYYY)");
    let parts: Vec<&str> = s.split('-').collect();
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    if parts.is_empty() || parts.len() > 3 || !digits(parts[0], 4) {
        return Err(bad());
    }
    if let Some(m) = parts.get(1) {
        if !digits(m, 2) || !(1..=12).contains(&m.parse::<u8>().unwrap_or(0)) {
            return Err(bad());
        }
    }
    if let Some(d) = parts.get(2) {
        if !digits(d, 2) || !(1..=31).contains(&d.parse::<u8>().unwrap_or(0)) {
            return Err(bad());
        }
    }
    Ok(s.to_string())
}

/// The CN of a subject written as x509-parser prints it (`CN=pool.example, O=Pool`), if any.
pub fn subject_cn(subject: &str) -> Option<&str> {
    subject
        .split(',')
        .map(str::trim)
        .find_map(|rdn| {
            rdn.strip_prefix("CN=")
                .or_else(|| rdn.strip_prefix("cn="))
                .or_else(|| rdn.strip_prefix("commonName="))
        })
        .map(str::trim)
        .filter(|cn| !cn.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_normal_form() {
        assert_eq!(normalize_domain("Pool.Example."), "pool.example");
        assert_eq!(normalize_domain(" *.pool.example "), "pool.example");
        assert_eq!(normalize_domain(".pool.example"), "pool.example");
        assert!(matches!(normalize_domain("pool.example"), Cow::Borrowed(_)));
        // IDN: the xn-- form is kept as is and only ASCII is lowercased.
        assert_eq!(
            normalize_domain("XN--MYTHERWLLET-R8A0C.com"),
            "xn--mytherwllet-r8a0c.com"
        );
        assert_eq!(normalize_domain("MYÈTHER.com"), "myÈther.com");
    }

    #[test]
    fn domain_validation() {
        assert!(validate_domain("stratum_ltc.bw.com", 2).is_ok());
        assert!(validate_domain("xn--mytherwllet-r8a0c.com", 2).is_ok());
        assert!(validate_domain("com", 2).is_err());
        assert!(validate_domain("local", 1).is_ok());
        assert!(validate_domain("xmr.-eu1.nanopool.org", 2).is_err());
        assert!(validate_domain("a..b", 2).is_err());
        assert!(validate_domain("hashbag.cc:8688", 2).is_err());
        assert!(validate_domain("1.2.3.4", 2).is_err());
        assert!(validate_domain("myètherwället.com", 2).is_err());
        assert!(validate_domain(&"a".repeat(64), 1).is_err());
    }

    #[test]
    fn ipnet_parse_and_display() {
        let n: IpNet = "10.0.0.0/8".parse().unwrap();
        assert_eq!(n.prefix(), 8);
        assert!(n.contains("10.200.3.4".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(!n.contains("::a00:1".parse().unwrap()));
        assert_eq!(n.to_string(), "10.0.0.0/8");
        assert_eq!("1.2.3.4".parse::<IpNet>().unwrap().to_string(), "1.2.3.4");
        assert_eq!(
            "1.2.3.4/32".parse::<IpNet>().unwrap().to_string(),
            "1.2.3.4"
        );
        assert_eq!(
            "::ffff:1.2.3.4".parse::<IpNet>().unwrap(),
            "1.2.3.4".parse().unwrap()
        );
        let err = "1.2.3.4/24".parse::<IpNet>().unwrap_err();
        assert!(err.contains("did you mean 1.2.3.0/24"), "{err}");
        assert!("1.2.3.0/33".parse::<IpNet>().is_err());
        assert!("2001:db8::/32".parse::<IpNet>().is_ok());
        assert!("2001:db8::1/32".parse::<IpNet>().is_err());
        assert!("0.0.0.0/0"
            .parse::<IpNet>()
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!("::/0"
            .parse::<IpNet>()
            .unwrap()
            .contains("::1".parse().unwrap()));
    }

    #[test]
    fn hashes_and_fingerprints() {
        assert_eq!(
            parse_hex(
                "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
                40,
                "sha1"
            )
            .unwrap(),
            "abcdef0123456789abcdef0123456789abcdef01"
        );
        assert!(parse_hex("abc", 40, "sha1").is_err());
        let ja4 = FingerprintKind::Ja4;
        assert_eq!(
            ja4.parse_value("T13D311000_E8F1E7E78F70_1F22A2CA17C4")
                .unwrap(),
            "t13d311000_e8f1e7e78f70_1f22a2ca17c4"
        );
        assert!(ja4.parse_value("t13d311000_e8f1e7e78f70").is_err());
        assert!(FingerprintKind::Ja4s
            .parse_value("t130200_1301_234ea6891581")
            .is_ok());
        assert!(FingerprintKind::Ja3
            .parse_value("a3afc2c46ba4a7d7fbe1cfb7a3031c2f")
            .is_ok());
        assert!(FingerprintKind::parse("ja5").is_err());
    }

    #[test]
    fn dates() {
        assert!(parse_date("2018-06-06").is_ok());
        assert!(parse_date("2017").is_ok());
        assert!(parse_date("2017-13").is_err());
        assert!(parse_date("06.06.2018").is_err());
        assert!(parse_date("").is_err());
    }

    #[test]
    fn cn_of_subject() {
        assert_eq!(subject_cn("CN=pool.example, O=Pool"), Some("pool.example"));
        assert_eq!(subject_cn("O=Pool, CN=x.y"), Some("x.y"));
        assert_eq!(subject_cn("O=Pool"), None);
    }
}
