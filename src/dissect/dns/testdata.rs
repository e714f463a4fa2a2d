//! Test support: byte vectors from real captures with tshark's decode of them, and a tiny
//! independent DNS encoder for the cases no capture shows.
//!
//! The vectors live in `tests/data/vectors/dns/` (see `PROVENANCE.tsv` there, and
//! `extract.py`, which regenerates them from `../shared/data`). Each `NAME.hex` is one DNS
//! message; `NAME.tshark.tsv` is tshark's decode of its header flag, questions and the A, AAAA and
//! CNAME records of its answer section.

use std::net::IpAddr;

macro_rules! vector_file {
    ($($part:literal),+) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vectors/dns/",
            $($part),+
        ))
    };
}

macro_rules! vectors {
    ($($name:literal),* $(,)?) => {
        &[$(($name, vector_file!($name, ".hex"), vector_file!($name, ".tshark.tsv"))),*]
    };
}

/// (name, hex, tshark decode) of every single-message vector.
pub const VECTORS: &[(&str, &str, &str)] = vectors!(
    "whatsapp_a",
    "whatsapp_query",
    "google_no_answer",
    "apple_cname2",
    "skype_cname3",
    "android_cname1",
    "teams_nxdomain",
    "erfpop_aaaa",
    "fg2mgmt_aaaa_glue",
    "pa_aaaa_rrsig_frag",
    "invalid_chars",
    "long_domainname_nx",
    "dnscat_cname_only",
    "dnscat_mx",
    "dnscat_txt",
    "malformed_name_too_long",
);

/// Vectors tshark itself flags as malformed; they must fail to parse.
pub const MALFORMED: &[&str] = &["malformed_name_too_long"];

/// Both directions of the DNS-over-TCP stream of dns_fragmented.pcap, tcp.stream 1 (IPv4).
pub const TCP_V4_C2S: &str = vector_file!("tcp_dnskey_v4.c2s.hex");
/// See [`TCP_V4_C2S`].
pub const TCP_V4_S2C: &str = vector_file!("tcp_dnskey_v4.s2c.hex");
/// Both directions of the DNS-over-TCP stream of dns_fragmented.pcap, tcp.stream 0 (IPv6).
pub const TCP_V6_C2S: &str = vector_file!("tcp_dnskey_v6.c2s.hex");
/// See [`TCP_V6_C2S`].
pub const TCP_V6_S2C: &str = vector_file!("tcp_dnskey_v6.s2c.hex");

/// Decode a hex vector (surrounding whitespace allowed).
pub fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text.trim()).expect("vector is hex")
}

/// The bytes of the named vector.
pub fn message(name: &str) -> Vec<u8> {
    let (_, hex, _) = VECTORS
        .iter()
        .find(|(n, _, _)| *n == name)
        .unwrap_or_else(|| panic!("no vector {name}"));
    unhex(hex)
}

/// tshark's decode of one vector.
#[derive(Debug, Default)]
pub struct Tshark {
    /// dns.flags.response.
    pub response: bool,
    /// Question names, as tshark prints them.
    pub questions: Vec<String>,
    /// (owner, ttl, address) of each A and AAAA answer, in order.
    pub addrs: Vec<(String, u32, IpAddr)>,
    /// (owner, ttl, canonical name) of each CNAME answer, in order.
    pub cnames: Vec<(String, u32, String)>,
}

/// Parse a `NAME.tshark.tsv`.
pub fn tshark(tsv: &str) -> Tshark {
    let mut out = Tshark::default();
    for line in tsv.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 4, "bad tshark line {line:?}");
        match f[0] {
            "QR" => out.response = f[3] == "1",
            "Q" => out.questions.push(f[1].to_owned()),
            "A" | "AAAA" => out.addrs.push((
                f[1].to_owned(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )),
            "CNAME" => out
                .cnames
                .push((f[1].to_owned(), f[2].parse().unwrap(), f[3].to_owned())),
            other => panic!("unknown kind {other}"),
        }
    }
    out
}

/// Prefix a message with its 2-byte length, as DNS over TCP does.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let len = u16::try_from(message.len()).expect("message fits a frame");
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

/// A minimal DNS encoder (uncompressed names, case preserved) for synthetic messages.
pub mod wire {
    /// Record types used by the tests.
    pub const A: u16 = 1;
    /// CNAME.
    pub const CNAME: u16 = 5;
    /// TXT.
    pub const TXT: u16 = 16;
    /// AAAA.
    pub const AAAA: u16 = 28;
    /// SVCB.
    pub const SVCB: u16 = 64;
    /// HTTPS.
    pub const HTTPS: u16 = 65;

    /// A name in wire form; `""` is the root.
    pub fn name(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in text.split('.').filter(|l| !l.is_empty()) {
            out.push(u8::try_from(label.len()).unwrap());
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }

    /// One resource record of class `class`.
    pub fn record_in_class(owner: &str, rtype: u16, class: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut out = name(owner);
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&class.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&u16::try_from(rdata.len()).unwrap().to_be_bytes());
        out.extend_from_slice(rdata);
        out
    }

    /// One resource record of class IN.
    pub fn record(owner: &str, rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        record_in_class(owner, rtype, 1, ttl, rdata)
    }

    /// A response (flags 0x8180) to `question` (type A) with the given answer records.
    pub fn response(question: &str, answers: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![0x12, 0x34, 0x81, 0x80, 0, 1];
        out.extend_from_slice(&u16::try_from(answers.len()).unwrap().to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&name(question));
        out.extend_from_slice(&[0, 1, 0, 1]);
        for answer in answers {
            out.extend_from_slice(answer);
        }
        out
    }
}

/// A resolution built by hand for expectations.
pub fn res(addr: &str, names: &[&str], ttl: u32) -> super::DnsResolution {
    super::DnsResolution {
        addr: addr.parse().unwrap(),
        names: names.iter().map(|n| n.to_string()).collect(),
        ttl,
    }
}
