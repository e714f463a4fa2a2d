//! DNS answers, turned into names for flows that carry none of their own.
//!
//! A miner that speaks plain Stratum, or TLS without SNI (or with ECH), never says which pool it
//! talks to; the DNS answer it received just before connecting usually does. This module reads
//! DNS responses (UDP payloads, or DNS-over-TCP streams framed by their 2-byte length prefix),
//! turns every address record of the answer section into a [`DnsResolution`] that carries the
//! queried name and its CNAME chain, and keeps a capture-wide [`NameTable`] from server address to
//! the names that resolved to it, so that each flow can be given the `dns_names` that led to its
//! server. [`parser`] is the pure message parser, [`state`] the per-flow TCP framing and
//! [`names`] the table; malformed messages are counted values ([`DnsError`], [`DnsCounters`]),
//! never panics.

pub mod names;
pub mod parser;
pub mod state;

pub use names::NameTable;
pub use parser::{parse_message, DnsError, DnsResolution, Section};
pub use state::{DnsCounters, DnsTcpStream};

#[cfg(test)]
mod testdata;
