//! Certificate digests and the few certificate fields a pool-hunter looks at.
//!
//! Digests are taken over each certificate's DER bytes exactly as sent in the Certificate
//! message, which is what Wireshark (`tls.handshake.certificate` hashes), Suricata
//! (`tls.fingerprint`) and abuse.ch's SSLBL list use. The summary reads the leaf with
//! x509-parser; a certificate that does not parse still gets its digests.

use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::net::{Ipv4Addr, Ipv6Addr};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// SHA-1 of a certificate's DER, lowercase hex without separators.
pub fn cert_sha1(der: &[u8]) -> String {
    hex::encode(Sha1::digest(der))
}

/// SHA-256 of a certificate's DER, lowercase hex without separators.
pub fn cert_sha256(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// The digests and readable fields of one certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CertSummary {
    /// SHA-1 of the DER, lowercase hex.
    pub sha1: String,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// Whether x509-parser could read the certificate; the fields below are empty if not.
    pub parsed: bool,
    /// Subject as x509-parser writes it (RFC 4514-like, `CN=…, O=…`).
    pub subject: Option<String>,
    /// Issuer, same format.
    pub issuer: Option<String>,
    /// subjectAltName DNS names and IP addresses, in certificate order.
    pub san: Vec<String>,
    /// notBefore, ISO 8601 UTC (`2019-01-02T03:04:05Z`).
    pub not_before: Option<String>,
    /// notAfter, ISO 8601 UTC.
    pub not_after: Option<String>,
    /// Subject and issuer are the same name (byte-equal DER). The signature is not verified:
    /// x509-parser is built without its `verify` feature, and a name match is what matters for
    /// spotting pool software's home-made certificates.
    pub self_signed: Option<bool>,
}

impl CertSummary {
    /// Digest and, if it parses, read one DER certificate.
    pub fn from_der(der: &[u8]) -> Self {
        let mut summary = CertSummary {
            sha1: cert_sha1(der),
            sha256: cert_sha256(der),
            ..Default::default()
        };
        let Ok((_, cert)) = X509Certificate::from_der(der) else {
            return summary;
        };
        summary.parsed = true;
        let registry = x509_parser::objects::oid_registry();
        summary.subject = cert.subject().to_string_with_registry(registry).ok();
        summary.issuer = cert.issuer().to_string_with_registry(registry).ok();
        summary.self_signed = Some(cert.subject().as_raw() == cert.issuer().as_raw());
        summary.not_before = iso8601_utc(cert.validity().not_before.timestamp());
        summary.not_after = iso8601_utc(cert.validity().not_after.timestamp());
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => summary.san.push((*dns).to_string()),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_to_string(bytes) {
                            summary.san.push(ip);
                        }
                    }
                    _ => {}
                }
            }
        }
        summary
    }
}

fn ip_to_string(bytes: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(Ipv4Addr::from(v4).to_string());
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        return Some(Ipv6Addr::from(v6).to_string());
    }
    None
}

/// Unix seconds to `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, years 0000–9999).
pub fn iso8601_utc(secs: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_known_points() {
        assert_eq!(iso8601_utc(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(iso8601_utc(-1).as_deref(), Some("1969-12-31T23:59:59Z"));
        assert_eq!(
            iso8601_utc(951_782_400).as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
        assert_eq!(
            iso8601_utc(1_546_398_245).as_deref(),
            Some("2019-01-02T03:04:05Z")
        );
        assert_eq!(
            iso8601_utc(4_102_444_799).as_deref(),
            Some("2099-12-31T23:59:59Z")
        );
        assert_eq!(iso8601_utc(i64::MAX), None);
    }

    #[test]
    fn digests_of_garbage_still_come_out() {
        let s = CertSummary::from_der(b"not a certificate");
        assert!(!s.parsed);
        assert_eq!(s.sha1.len(), 40);
        assert_eq!(s.sha256.len(), 64);
        assert_eq!(s.subject, None);
    }

    #[test]
    fn ip_sans_are_written_as_addresses() {
        assert_eq!(ip_to_string(&[127, 0, 0, 1]).as_deref(), Some("127.0.0.1"));
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_to_string(&v6).as_deref(), Some("::1"));
        assert_eq!(ip_to_string(&[1, 2, 3]), None);
    }
}
