//! poolscope finds cryptocurrency-mining traffic in packet captures, above all miners that talk to
//! pools over TLS, where no payload signature can see anything.
//!
//! The pipeline, top to bottom, one module each: [`capture`] reads pcap and pcapng files as a
//! stream of raw frames; [`decode`] turns a frame into an IP/TCP/UDP view (VLANs, cooked
//! captures, tunnels, IPv4/IPv6 fragments); [`flow`] keeps a bidirectional flow table with
//! timeouts, a cap on live flows and per-direction TCP reassembly; [`dissect`] reads the
//! reassembled streams (TLS handshakes, DNS answers); [`fingerprint`] computes JA3/JA4 and
//! certificate hashes from what the dissectors saw; [`features`] turns each flow into a named,
//! versioned vector of timing and size features; [`intel`] loads the pool feeds and matches
//! flows against them; [`score`] turns protocol evidence, feed matches and (later) a model into
//! a verdict per flow; [`output`] writes one record per flow as NDJSON, CSV or Parquet.
//! [`extract`] drives the whole chain for a set of inputs, and [`cli`] maps the command line
//! onto it. [`probe`] is the only part that sends traffic: it refreshes the certificate feed by
//! connecting to pool endpoints, and confirms suspected pools on request.
#![forbid(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod decode;
pub mod dissect;
pub mod error;
pub mod extract;
pub mod features;
pub mod fingerprint;
pub mod flow;
pub mod intel;
pub mod model;
pub mod netflow;
pub mod output;
pub mod probe;
pub mod resources;
pub mod score;

pub use error::Error;
