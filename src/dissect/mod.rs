//! Application-layer dissectors fed with reassembled TCP streams and UDP payloads.

pub mod dns;
pub mod tls;
