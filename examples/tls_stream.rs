//! What the TLS dissector makes of one TCP stream of a capture: each reassembled chunk as it
//! arrives, then the parse errors and the handshake summary (SNI, JA3/JA4, certificate).
//! A debugging aid for disagreements with other tools; `tshark` follows the stream.
//!
//!     cargo run --example tls_stream -- capture.pcap 3
//!
//! The stream number is Wireshark's `tcp.stream`; node 0 (the side that spoke first in
//! tshark's view) is taken as the client.

use poolscope::dissect::tls::TlsDissector;
use poolscope::flow::reassembly::Chunk;
use poolscope::flow::Direction;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(pcap), Some(Ok(stream))) = (args.first(), args.get(1).map(|s| s.parse::<u64>()))
    else {
        eprintln!("usage: tls_stream CAPTURE TCP_STREAM_NUMBER");
        return ExitCode::from(2);
    };
    let out = match Command::new("tshark")
        .args(["-r", pcap, "-q", "-z", &format!("follow,tcp,raw,{stream}")])
        .output()
    {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!("tshark: {}", String::from_utf8_lossy(&o.stderr));
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("tshark: {e}");
            return ExitCode::from(2);
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut d = TlsDissector::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Node ") {
            eprintln!("node {n}");
            continue;
        }
        if line.starts_with('=') || line.contains(':') || line.trim().is_empty() {
            continue;
        }
        let dir = if line.starts_with('\t') {
            Direction::ServerToClient
        } else {
            Direction::ClientToServer
        };
        let Some(bytes) = decode_hex(line.trim()) else {
            eprintln!("not hex: {line:?}");
            continue;
        };
        eprintln!(
            "{dir:?} {} bytes {}.. wants_more before {}",
            bytes.len(),
            hex::encode(&bytes[..bytes.len().min(12)]),
            d.wants_more()
        );
        d.on_chunk(dir, Chunk::Data(&bytes));
    }
    println!(
        "parse errors {}, not TLS {}\n{:#?}",
        d.parse_errors(),
        d.is_not_tls(),
        d.info()
    );
    ExitCode::SUCCESS
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    hex::decode(s).ok()
}
