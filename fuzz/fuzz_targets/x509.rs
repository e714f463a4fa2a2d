//! Any bytes as a DER certificate: summarising it (subject, issuer, SANs, validity,
//! self-signed) and hashing it must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poolscope::fingerprint::cert::{cert_sha1, cert_sha256, CertSummary};

fuzz_target!(|data: &[u8]| {
    let _ = CertSummary::from_der(data);
    let _ = (cert_sha1(data), cert_sha256(data));
});
