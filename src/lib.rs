//! poolscope finds cryptocurrency-mining traffic in packet captures and flow exports, above all
//! miners that talk to pools over TLS, where no payload signature can see anything.
//!
//! The pipeline, top to bottom, one module each (`ARCHITECTURE.md` draws it):
//! [`capture`] reads pcap and pcapng files as a stream of raw frames, and [`netflow`] reads flow
//! exports (NetFlow v5/v9, IPFIX, nfdump CSV, flow tables) into stitched conversations, and
//! [`logs`] reads Zeek and Suricata logs into joined flows;
//! [`decode`] turns a frame into an IP/TCP/UDP view (VLANs, cooked captures, tunnels, fragments);
//! [`flow`] keeps a bidirectional flow table with timeouts, a cap on live flows and per-direction
//! TCP reassembly; [`dissect`] reads the reassembled streams (TLS handshakes, DNS answers,
//! Stratum and its HTTP relatives); [`fingerprint`] computes JA3/JA4 and certificate hashes;
//! [`features`] turns each flow into named, versioned feature vectors (the record's features, the
//! classifier's window rows, the flow-only rows); [`intel`] loads the pool feeds, imports lists,
//! learns from scored flows and matches flows against the feeds; [`model`] trains, evaluates
//! and applies the flow-shape classifiers; [`score`] turns protocol evidence, feed matches and
//! the model into a verdict per flow; [`output`] writes one record per flow as NDJSON, CSV or
//! Parquet, and [`report`] draws scored flows as one self-contained HTML page. [`extract`]
//! drives the chain for a set of inputs ([`extract::run_inputs`]: captures
//! and flow exports, per-input problems, the run's outcome), and [`cli`] maps the command line
//! onto it. [`probe`] is the only part that sends traffic: it refreshes the certificate feed by
//! connecting to pool endpoints, and confirms suspected pools on request. [`resources`] finds
//! the shipped feeds and models; [`stats`] and [`hash`] are the shared primitives.
// No unsafe code, except two system calls of the live capture (`live`), each allowed where
// it stands.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod capture;
pub mod cli;
pub mod decode;
pub mod dissect;
pub mod error;
pub mod extract;
pub mod features;
pub mod fingerprint;
pub mod flow;
pub mod hash;
pub mod intel;
pub mod live;
pub mod logs;
pub mod model;
pub mod netflow;
pub mod output;
pub mod probe;
pub mod report;
pub mod resources;
pub mod score;
pub mod stats;
pub mod stream;

pub use error::Error;
