//! Application-layer dissectors fed with reassembled TCP streams and UDP payloads: TLS
//! handshakes, DNS answers, and the plaintext mining protocols (Stratum, getwork,
//! getblocktemplate).

pub mod dns;
pub mod stratum;
pub mod tls;
