//! JA3 and JA3S, as defined by the salesforce/ja3 reference and computed by Wireshark.
//!
//! JA3 is `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`: decimal
//! values, `-` joined inside a field, GREASE (RFC 8701) removed from ciphers, extensions and
//! curves; the fingerprint is the MD5 of that string in lowercase hex. JA3S is
//! `SSLVersion,Cipher,Extensions` over the ServerHello. Versions are the hello's own version
//! field, never supported_versions, so every TLS 1.3 hello reads `771`.

use super::{is_grease, ClientHelloParams, ServerHelloParams};
use md5::{Digest, Md5};

/// Decimal values joined with `-`, GREASE values left out when `drop_grease`.
fn join_decimal<T: Copy + Into<u32>>(values: &[T], drop_grease: bool) -> String {
    let mut out = String::new();
    for &v in values {
        let v: u32 = v.into();
        if drop_grease && u16::try_from(v).is_ok_and(is_grease) {
            continue;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&v.to_string());
    }
    out
}

fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// The JA3 input string of a ClientHello.
pub fn ja3_string(hello: &ClientHelloParams) -> String {
    format!(
        "{},{},{},{},{}",
        hello.version,
        join_decimal(&hello.ciphers, true),
        join_decimal(&hello.extensions, true),
        join_decimal(&hello.supported_groups, true),
        join_decimal(&hello.ec_point_formats, false),
    )
}

/// The JA3 fingerprint (MD5 of [`ja3_string`], lowercase hex).
pub fn ja3(hello: &ClientHelloParams) -> String {
    md5_hex(&ja3_string(hello))
}

/// The JA3S input string of a ServerHello.
pub fn ja3s_string(hello: &ServerHelloParams) -> String {
    format!(
        "{},{},{}",
        hello.version,
        hello.cipher,
        join_decimal(&hello.extensions, true),
    )
}

/// The JA3S fingerprint (MD5 of [`ja3s_string`], lowercase hex).
pub fn ja3s(hello: &ServerHelloParams) -> String {
    md5_hex(&ja3s_string(hello))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ja3_of_a_greased_hello_matches_wireshark() {
        // foxio-ja4 tls-non-ascii-alpn.pcapng frame 1 (Chrome), Wireshark's ja3_full and ja3.
        let hello = ClientHelloParams {
            version: 0x0303,
            ciphers: vec![
                0xaaaa, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
                0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x9a9a, 0xff01, 0x0033, 0x002d, 0x0005, 0x4469, 0x000d, 0x0010, 0x0023, 0x001b,
                0x002b, 0x0000, 0x0012, 0x000a, 0x0017, 0x000b, 0x6a6a, 0x0015,
            ],
            supported_groups: vec![0x0a0a, 0x001d, 0x0017, 0x0018],
            ec_point_formats: vec![0],
            ..Default::default()
        };
        assert_eq!(
            ja3_string(&hello),
            "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,\
             65281-51-45-5-17513-13-16-35-27-43-0-18-10-23-11-21,29-23-24,0"
        );
        assert_eq!(ja3(&hello), "1c258ebef8eee2dfa3df6d8d07285af9");
    }

    #[test]
    fn ja3s_without_extensions_keeps_the_trailing_comma() {
        // suricata-verify sslv2-tls-upgrade-01 frame 6: "769,57," per Wireshark.
        let hello = ServerHelloParams {
            version: 0x0301,
            cipher: 57,
            ..Default::default()
        };
        assert_eq!(ja3s_string(&hello), "769,57,");
        assert_eq!(ja3s(&hello), "9a2c6bfd476184689a786457f33ece3a");
    }

    #[test]
    fn near_grease_values_stay() {
        let hello = ClientHelloParams {
            version: 0x0303,
            ciphers: vec![0x0a1a, 0x0a0a],
            ..Default::default()
        };
        assert_eq!(ja3_string(&hello), "771,2586,,,");
    }
}
