//! Feeds any bytes as a DER certificate to the certificate summary (subject, issuer, SANs,
//! validity, self-signed) and the digests, and any 8 bytes as a Unix time to the ISO 8601
//! formatter the summary uses.
//!
//! Checks:
//! * the digests are lowercase hex of the right length, equal to `cert_sha1`/`cert_sha256`,
//!   and present whether or not the certificate parsed;
//! * a certificate that does not parse reports nothing else; one that parses says whether it
//!   is self-signed, and its dates are well-formed ISO 8601 UTC;
//! * summarising is deterministic, and bytes after a certificate that parsed change none of
//!   its fields (only the digests, which cover every byte given);
//! * the ISO 8601 formatter gives a time that reads back as the same number of seconds, is
//!   `None` exactly outside years 0000–9999, and orders like the seconds it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolscope::fingerprint::cert::iso8601_utc;
use poolscope::fingerprint::{cert_sha1, cert_sha256, CertSummary};

/// First and last second of years 0000 to 9999.
const MIN_SECS: i64 = -62_167_219_200;
const MAX_SECS: i64 = 253_402_300_799;

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Reads back `YYYY-MM-DDTHH:MM:SSZ` as Unix seconds, checking every field's range.
fn read_iso(s: &str) -> i64 {
    let b = s.as_bytes();
    assert_eq!(b.len(), 20, "{s:?} is not YYYY-MM-DDTHH:MM:SSZ");
    for (i, &c) in b.iter().enumerate() {
        match i {
            4 | 7 => assert_eq!(c, b'-', "{s:?}"),
            10 => assert_eq!(c, b'T', "{s:?}"),
            13 | 16 => assert_eq!(c, b':', "{s:?}"),
            19 => assert_eq!(c, b'Z', "{s:?}"),
            _ => assert!(c.is_ascii_digit(), "{s:?}"),
        }
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<i64>().expect("digits");
    let (y, mo, d) = (num(0..4), num(5..7), num(8..10));
    let (h, mi, se) = (num(11..13), num(14..16), num(17..19));
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    assert!((1..=12).contains(&mo), "{s:?}: month");
    assert!(d >= 1 && d <= month_days[(mo - 1) as usize], "{s:?}: day");
    assert!(h < 24 && mi < 60 && se < 60, "{s:?}: time of day");
    // Days from 0000-01-01 counted year by year in 400-year cycles, independently of the
    // formatter's era arithmetic.
    let days_before_year = |y: i64| 365 * y + (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;
    let days_before_month: i64 = month_days[..(mo - 1) as usize].iter().sum();
    let days = days_before_year(y) + days_before_month + d - 1;
    // 0000-01-01 is 719528 days before 1970-01-01.
    (days - 719_528) * 86_400 + h * 3600 + mi * 60 + se
}

fn check_time(secs: i64) {
    let got = iso8601_utc(secs);
    assert_eq!(got.is_some(), (MIN_SECS..=MAX_SECS).contains(&secs), "{secs} -> {got:?}");
    if let Some(s) = &got {
        assert_eq!(read_iso(s), secs, "{secs} -> {s:?} reads back differently");
        if secs < MAX_SECS {
            let next = iso8601_utc(secs + 1).expect("in range");
            assert!(*s < next, "{s:?} does not sort before the next second {next:?}");
        }
    }
}

fn fields(s: &CertSummary) -> String {
    format!(
        "{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        s.parsed, s.subject, s.issuer, s.san, s.not_before, s.not_after, s.self_signed
    )
}

fuzz_target!(|data: &[u8]| {
    if let Some(b) = data.get(..8) {
        let secs = i64::from_le_bytes(b.try_into().expect("8 bytes"));
        check_time(secs);
        // And the same within the formatter's range, where the interesting dates are.
        check_time(MIN_SECS + secs.rem_euclid(MAX_SECS - MIN_SECS + 1));
    }

    let s = CertSummary::from_der(data);
    assert!(is_hex(&s.sha1, 40) && is_hex(&s.sha256, 64), "digests {:?} {:?}", s.sha1, s.sha256);
    assert_eq!(s.sha1, cert_sha1(data));
    assert_eq!(s.sha256, cert_sha256(data));
    assert_eq!(s, CertSummary::from_der(data), "summarising twice differed");
    if !s.parsed {
        let empty = CertSummary {
            sha1: s.sha1.clone(),
            sha256: s.sha256.clone(),
            ..CertSummary::default()
        };
        assert_eq!(s, empty, "a certificate that did not parse reports fields");
        return;
    }
    assert!(s.self_signed.is_some(), "a parsed certificate without self-signed verdict");
    for t in [&s.not_before, &s.not_after].into_iter().flatten() {
        read_iso(t);
    }
    for tail in [&[0u8][..], &[0x30, 0x03, 0x02, 0x01, 0x01], &data[..data.len().min(32)]] {
        let longer = CertSummary::from_der(&[data, tail].concat());
        assert_eq!(fields(&s), fields(&longer), "bytes after the certificate changed its summary");
    }
});
