//! Application-layer dissectors fed with reassembled TCP streams and UDP payloads: TLS
//! handshakes, QUIC Initial packets, DNS answers, and the mining protocols (Stratum, getwork,
//! getblocktemplate in plaintext; Stratum V2 by the shape of its encrypted opening).

pub mod dns;
pub mod quic;
pub mod stratum;
pub mod sv2;
pub mod tls;
