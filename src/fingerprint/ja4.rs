//! JA4 (TLS client) and JA4S (TLS server) fingerprints after FoxIO's JA4+ specification.
//!
//! A fingerprint is first collected into its parts ([`Ja4`], [`Ja4s`]) and then rendered: hashed
//! (`ja4`, `ja4s`), raw (`ja4_r`, `ja4s_r`), and for JA4 also in original order (`ja4_o`,
//! `ja4_ro`). The parts keep GREASE out already (RFC 8701 values, exact test), so the renderers
//! only format. Rules taken from the specification, in short: version from the highest
//! supported_versions value else the hello version; `d` when a server_name extension is present,
//! `i` otherwise; two-digit counts capped at 99; the first and last character of the first ALPN
//! value, or of its hex form when either end byte is not an ASCII letter or digit; cipher list
//! sorted and hashed; extension list sorted without server_name (0x0000) and ALPN (0x0010),
//! then `_` and the signature algorithms in wire order, hashed; SHA-256 truncated to 12 hex
//! characters, `000000000000` for an empty list.

use super::{is_grease, sha256_12, ClientHelloParams, ServerHelloParams, Transport};

/// JA4's two-character name of a protocol version (`00` when unknown).
pub fn version_code(version: u16) -> &'static str {
    match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4's two-character summary of an ALPN value (`00` when absent or empty).
pub fn alpn_code(value: Option<&[u8]>) -> String {
    let Some(value) = value else {
        return "00".to_string();
    };
    let (Some(&first), Some(&last)) = (value.first(), value.last()) else {
        return "00".to_string();
    };
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        [first as char, last as char].iter().collect()
    } else {
        // First character of the first byte's hex form, last character of the last byte's.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        [
            HEX[usize::from(first >> 4)] as char,
            HEX[usize::from(last & 0x0f)] as char,
        ]
        .iter()
        .collect()
    }
}

fn count2(n: usize) -> String {
    format!("{:02}", n.min(99))
}

fn hex_list(values: &[u16]) -> String {
    let mut out = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{v:04x}"));
    }
    out
}

fn degrease(values: &[u16]) -> Vec<u16> {
    values.iter().copied().filter(|&v| !is_grease(v)).collect()
}

/// The parts of a JA4 client fingerprint, GREASE already removed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ja4 {
    /// `t`, `q` or `d`.
    pub transport: Transport,
    /// Two-character version code (see [`version_code`]).
    pub version: &'static str,
    /// True when the hello carries a server_name extension (`d`), false for `i`.
    pub has_sni: bool,
    /// Number of cipher suites, GREASE excluded.
    pub cipher_count: usize,
    /// Number of extensions, GREASE excluded, server_name and ALPN included.
    pub extension_count: usize,
    /// Two-character ALPN code (see [`alpn_code`]).
    pub alpn: String,
    /// Cipher suites in wire order.
    pub ciphers: Vec<u16>,
    /// Extension types in wire order (server_name and ALPN included).
    pub extensions: Vec<u16>,
    /// Signature algorithms in wire order.
    pub signature_algorithms: Vec<u16>,
}

impl Ja4 {
    /// Collect the JA4 parts of a ClientHello.
    pub fn from_client_hello(hello: &ClientHelloParams) -> Self {
        let ciphers = degrease(&hello.ciphers);
        let extensions = degrease(&hello.extensions);
        let version = degrease(&hello.supported_versions)
            .into_iter()
            .max()
            .unwrap_or(hello.version);
        Ja4 {
            transport: hello.transport,
            version: version_code(version),
            has_sni: extensions.contains(&0x0000),
            cipher_count: ciphers.len(),
            extension_count: extensions.len(),
            alpn: alpn_code(hello.alpn.first().map(Vec::as_slice)),
            ciphers,
            extensions,
            signature_algorithms: degrease(&hello.signature_algorithms),
        }
    }

    /// Section a: `t13d1516h2`.
    pub fn prefix(&self) -> String {
        format!(
            "{}{}{}{}{}{}",
            self.transport.ja4_char(),
            self.version,
            if self.has_sni { 'd' } else { 'i' },
            count2(self.cipher_count),
            count2(self.extension_count),
            self.alpn
        )
    }

    fn sorted_ciphers(&self) -> Vec<u16> {
        let mut c = self.ciphers.clone();
        c.sort_unstable();
        c
    }

    fn sorted_extensions(&self) -> Vec<u16> {
        let mut e: Vec<u16> = self
            .extensions
            .iter()
            .copied()
            .filter(|&t| t != 0x0000 && t != 0x0010)
            .collect();
        e.sort_unstable();
        e
    }

    /// Section c's input: the extension list, then `_` and the signature algorithms if any.
    fn extension_text(extensions: &[u16], sigalgs: &[u16]) -> String {
        let mut text = hex_list(extensions);
        if !sigalgs.is_empty() {
            text.push('_');
            text.push_str(&hex_list(sigalgs));
        }
        text
    }

    fn hashed_extensions(extensions: &[u16], sigalgs: &[u16]) -> String {
        if extensions.is_empty() {
            return sha256_12("");
        }
        sha256_12(&Self::extension_text(extensions, sigalgs))
    }

    /// The JA4 fingerprint: `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    pub fn hashed(&self) -> String {
        format!(
            "{}_{}_{}",
            self.prefix(),
            sha256_12(&hex_list(&self.sorted_ciphers())),
            Self::hashed_extensions(&self.sorted_extensions(), &self.signature_algorithms)
        )
    }

    /// JA4_r: the same with the sorted lists written out instead of hashed.
    pub fn raw(&self) -> String {
        format!(
            "{}_{}_{}",
            self.prefix(),
            hex_list(&self.sorted_ciphers()),
            Self::extension_text(&self.sorted_extensions(), &self.signature_algorithms)
        )
    }

    /// JA4_o: hashed, with ciphers and extensions in wire order (server_name and ALPN kept).
    pub fn original_hashed(&self) -> String {
        format!(
            "{}_{}_{}",
            self.prefix(),
            sha256_12(&hex_list(&self.ciphers)),
            Self::hashed_extensions(&self.extensions, &self.signature_algorithms)
        )
    }

    /// JA4_ro: raw, with ciphers and extensions in wire order (server_name and ALPN kept).
    pub fn original_raw(&self) -> String {
        format!(
            "{}_{}_{}",
            self.prefix(),
            hex_list(&self.ciphers),
            Self::extension_text(&self.extensions, &self.signature_algorithms)
        )
    }
}

/// The parts of a JA4S server fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ja4s {
    /// `t`, `q` or `d`.
    pub transport: Transport,
    /// Two-character code of the negotiated version.
    pub version: &'static str,
    /// Extension types in wire order, GREASE excluded.
    pub extensions: Vec<u16>,
    /// Two-character code of the ALPN the server chose.
    pub alpn: String,
    /// The chosen cipher suite.
    pub cipher: u16,
}

impl Ja4s {
    /// Collect the JA4S parts of a ServerHello.
    pub fn from_server_hello(hello: &ServerHelloParams) -> Self {
        Ja4s {
            transport: hello.transport,
            version: version_code(hello.negotiated_version()),
            extensions: degrease(&hello.extensions),
            alpn: alpn_code(hello.alpn.as_deref()),
            cipher: hello.cipher,
        }
    }

    fn prefix(&self) -> String {
        format!(
            "{}{}{}{}_{:04x}",
            self.transport.ja4_char(),
            self.version,
            count2(self.extensions.len()),
            self.alpn,
            self.cipher
        )
    }

    /// The JA4S fingerprint: `t120400_c030_4e8089b08790`.
    pub fn hashed(&self) -> String {
        format!(
            "{}_{}",
            self.prefix(),
            sha256_12(&hex_list(&self.extensions))
        )
    }

    /// JA4S_r: the extension list written out instead of hashed.
    pub fn raw(&self) -> String {
        format!("{}_{}", self.prefix(), hex_list(&self.extensions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of the JA4 specification (Chrome, with GREASE added the way Chrome
    /// sends it).
    fn spec_example() -> ClientHelloParams {
        ClientHelloParams {
            version: 0x0303,
            ciphers: vec![
                0x3a3a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
                0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x2a2a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005,
                0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0x1a1a,
            ],
            signature_algorithms: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            supported_versions: vec![0x7a7a, 0x0304, 0x0303],
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            ..Default::default()
        }
    }

    #[test]
    fn spec_example_renders_all_four_forms() {
        let ja4 = Ja4::from_client_hello(&spec_example());
        assert_eq!(ja4.hashed(), "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(
            ja4.raw(),
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,\
             cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,\
             0804,0401,0503,0805,0501,0806,0601"
        );
        assert_eq!(
            ja4.original_raw(),
            "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,\
             0035_001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,\
             0015_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        assert_eq!(
            ja4.original_hashed(),
            "t13d1516h2_acb858a92679_18f69afefd3d"
        );
    }

    #[test]
    fn no_signature_algorithms_means_no_trailing_underscore() {
        let mut hello = spec_example();
        hello.signature_algorithms.clear();
        let ja4 = Ja4::from_client_hello(&hello);
        assert!(ja4.hashed().ends_with("_6d807ffa2a79"), "{}", ja4.hashed());
    }

    #[test]
    fn empty_lists_hash_to_zeros() {
        let hello = ClientHelloParams {
            version: 0x0301,
            extensions: vec![0x0000, 0x0010],
            alpn: vec![b"h2".to_vec()],
            sni: Some("x".into()),
            ..Default::default()
        };
        let ja4 = Ja4::from_client_hello(&hello);
        assert_eq!(ja4.hashed(), "t10d0002h2_000000000000_000000000000");
    }

    #[test]
    fn alpn_codes_follow_the_spec_examples() {
        assert_eq!(alpn_code(None), "00");
        assert_eq!(alpn_code(Some(b"")), "00");
        assert_eq!(alpn_code(Some(b"h2")), "h2");
        assert_eq!(alpn_code(Some(b"http/1.1")), "h1");
        assert_eq!(alpn_code(Some(b"h")), "hh");
        assert_eq!(alpn_code(Some(&[0xab])), "ab");
        assert_eq!(alpn_code(Some(&[0xab, 0xcd])), "ad");
        assert_eq!(alpn_code(Some(&[0x30, 0xab])), "3b");
        assert_eq!(alpn_code(Some(&[0x30, 0x31, 0xab, 0xcd])), "3d");
        assert_eq!(alpn_code(Some(&[0x30, 0xab, 0xcd, 0x31])), "01");
    }

    #[test]
    fn counts_cap_at_99() {
        let hello = ClientHelloParams {
            version: 0x0303,
            ciphers: (1..=150).collect(),
            ..Default::default()
        };
        assert!(Ja4::from_client_hello(&hello)
            .prefix()
            .starts_with("t12i9900"));
    }

    #[test]
    fn ja4s_spec_example() {
        let hello = ServerHelloParams {
            version: 0x0303,
            cipher: 0xc030,
            extensions: vec![0x0005, 0x0017, 0xff01, 0x0000],
            ..Default::default()
        };
        let ja4s = Ja4s::from_server_hello(&hello);
        assert_eq!(ja4s.hashed(), "t120400_c030_4e8089b08790");
        assert_eq!(ja4s.raw(), "t120400_c030_0005,0017,ff01,0000");
    }

    #[test]
    fn ja4s_tls13_reads_supported_versions() {
        // foxio-ja4 tls-handshake.pcapng stream 0: t130200_1301_234ea6891581.
        let hello = ServerHelloParams {
            version: 0x0303,
            cipher: 0x1301,
            extensions: vec![0x0033, 0x002b],
            supported_version: Some(0x0304),
            ..Default::default()
        };
        let ja4s = Ja4s::from_server_hello(&hello);
        assert_eq!(ja4s.hashed(), "t130200_1301_234ea6891581");
        assert_eq!(ja4s.raw(), "t130200_1301_0033,002b");
    }
}
