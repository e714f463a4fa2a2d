//! Records per second through `poolscope stream`, with one consumer and with two in one group,
//! against librdkafka's mock cluster in this process (loopback; nothing to install).
//!
//!   cargo build --release && cargo run --release --example stream_bench -- [RECORDS] [POOLSCOPE]
//!
//! RECORDS goflow2 `FlowMessage`s (default 300,000: the mock broker keeps 5 MB a partition)
//! go to a topic of 4 partitions, both directions of each of RECORDS / 2 conversations, keyed
//! by client address. Then, for 1 and 2 consumers (a fresh group each, reading from the
//! start), the consumers run until the topic has been idle for 3 s; the rate is RECORDS over
//! the wall time less those 3 s.

use poolscope::stream::FlowMessage;
use prost::Message as _;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const IDLE_EXIT_S: f64 = 3.0;

fn main() {
    let mut args = std::env::args().skip(1);
    let records: usize = args.next().map_or(300_000, |s| s.parse().expect("RECORDS"));
    let bin = args
        .next()
        .unwrap_or_else(|| "target/release/poolscope".to_string());
    let cluster = MockCluster::new(3).expect("mock cluster");
    cluster.create_topic("flows", 4, 1).expect("topic");
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "20")
        .set("compression.type", "lz4")
        .create()
        .expect("producer");
    let t0 = 1_764_000_000_000_000_000u64;
    for i in 0..records / 2 {
        let client = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let server = [198, 51, 100, (i % 200) as u8];
        let start = t0 + (i as u64) * 1_000_000;
        let port = 1024 + (i % 60_000) as u32;
        let dport = [443, 3333, 80, 8080][i % 4];
        for (src, dst, sp, dp, packets, bytes) in [
            (client, server, port, dport, 12, 1_400),
            (server, client, dport, port, 10, 3_100),
        ] {
            let m = FlowMessage {
                r#type: 4,
                sampling_rate: 1,
                sampler_address: vec![192, 0, 2, 1],
                time_flow_start_ns: start,
                time_flow_end_ns: start + 30_000_000_000,
                bytes,
                packets,
                src_addr: src.to_vec(),
                dst_addr: dst.to_vec(),
                proto: 6,
                src_port: sp,
                dst_port: dp,
                tcp_flags: 0x1b,
                observation_domain_id: 0,
            };
            let payload = m.encode_to_vec();
            let key = std::net::Ipv4Addr::from(client).to_string();
            let mut rec = BaseRecord::to("flows").key(&key).payload(&payload);
            loop {
                match producer.send(rec) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        producer.poll(Duration::from_millis(5));
                        rec = r;
                    }
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    println!("{records} goflow2 records on 4 partitions");
    for consumers in [1, 2] {
        let group = format!("bench-{consumers}");
        let start = Instant::now();
        let children: Vec<_> = (0..consumers)
            .map(|_| {
                Command::new(&bin)
                    .args([
                        "stream",
                        "--brokers",
                        &brokers,
                        "--topic",
                        "flows",
                        "--group",
                        &group,
                        "--format",
                        "goflow2",
                        "--idle-exit",
                        &IDLE_EXIT_S.to_string(),
                        "-o",
                        "/dev/null",
                    ])
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("run poolscope stream")
            })
            .collect();
        let mut consumed = 0u64;
        for c in children {
            let out = c.wait_with_output().expect("wait");
            let err = String::from_utf8_lossy(&out.stderr);
            let summary = err.lines().last().unwrap_or("");
            if !out.status.success() {
                eprintln!("poolscope stream failed: {err}");
            }
            consumed += summary
                .split(" messages")
                .next()
                .and_then(|s| s.rsplit(' ').next())
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
        }
        let secs = start.elapsed().as_secs_f64() - IDLE_EXIT_S;
        println!(
            "{consumers} consumer(s): {consumed} messages in {secs:.2} s: {:.0} records/s",
            records as f64 / secs
        );
    }
}
