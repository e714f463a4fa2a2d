//! Flow records from Kafka, scored as a consumer group member (`poolscope stream`).
//!
//! Collectors (goflow2, pmacct, akvorado's inlet) publish flow records to a topic; any number
//! of poolscope instances in one consumer group share its partitions, Kafka assigning each
//! partition to one instance at a time. Each partition has its own [`Stitcher`] (both
//! directions of a conversation, and the pieces exporters cut, are expected in the same
//! partition: the producer keys records by exporter or by client address, as goflow2 can).
//!
//! Delivery is at least once: a partition's offset is committed only up to the first record
//! whose conversation is still open, and only after the verdicts of everything before it were
//! produced and acknowledged. Each verdict names its topic, partition and the offsets of its
//! records, so a consumer downstream can drop the duplicates a crash leaves. When Kafka takes
//! partitions away (another instance joined, or this one is leaving), their open conversations
//! are finished, produced and committed before the revocation completes.

use crate::error::{Error, Result};
use crate::netflow::conversation::{Conversation, StitchConfig, Stitcher};
use crate::netflow::export::NetflowDecoder;
use crate::netflow::{flow_record, ExportRecord, ReverseCounters};
use crate::score::{Scorer, Verdict};
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the messages of the input topic carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StreamFormat {
    /// goflow2's protobuf `FlowMessage`, one per message (plain or length-delimited).
    Goflow2,
    /// One JSON object per message (or per line): a flow-table row with the canonical
    /// column names, or a poolscope flow record.
    Ndjson,
    /// NetFlow v5/v9 or IPFIX datagrams as the exporter sent them, one per message; the
    /// message key, when it is `ADDRESS:PORT`, names the exporter (templates are per exporter).
    IpfixRaw,
}

/// What `stream` needs to know.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Bootstrap brokers, `host:port[,host:port…]`.
    pub brokers: String,
    /// Topic of flow records.
    pub topic: String,
    /// Consumer group.
    pub group: String,
    /// Topic the verdicts are produced to (keyed by client address); None: local output only.
    pub out_topic: Option<String>,
    /// Message format.
    pub format: StreamFormat,
    /// Pairing and stitching.
    pub stitch: StitchConfig,
    /// Verdicts below this are scored and committed, not written.
    pub min_verdict: Verdict,
    /// Offsets are committed at least this often (and at every revocation and at the end).
    pub commit_interval: Duration,
    /// End the run after this long without a message, counted from the last message or
    /// partition assignment (None: run until stopped).
    pub idle_exit: Option<Duration>,
    /// Extra librdkafka properties (`security.protocol`, `sasl.*`…), for both clients.
    pub properties: Vec<(String, String)>,
}

/// Counters of a stream run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// Messages consumed.
    pub messages: u64,
    /// Flow records decoded from them.
    pub records: u64,
    /// Messages that could not be decoded (counted, named on the problem channel, skipped).
    pub malformed: u64,
    /// Conversations scored.
    pub conversations: u64,
    /// Verdicts written or produced (at least the minimum verdict).
    pub written: u64,
    /// Verdicts by verdict.
    pub mining: u64,
    /// Suspect verdicts.
    pub suspect: u64,
    /// Offset commits made.
    pub commits: u64,
    /// Commits that failed (their records are read again later: duplicates, not losses).
    pub commit_failures: u64,
    /// Partitions taken away by a rebalance, their conversations finished first.
    pub revoked: u64,
}

/// goflow2's `FlowMessage` (its `pb/flow.proto`), the fields poolscope reads.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FlowMessage {
    /// Export protocol: 1 sFlow 5, 2 NetFlow v5, 3 NetFlow v9, 4 IPFIX.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// Sampling rate (1 or 0: unsampled).
    #[prost(uint64, tag = "3")]
    pub sampling_rate: u64,
    /// Exporter address (4 or 16 bytes).
    #[prost(bytes = "vec", tag = "11")]
    pub sampler_address: Vec<u8>,
    /// Flow start, nanoseconds since the epoch.
    #[prost(uint64, tag = "111")]
    pub time_flow_start_ns: u64,
    /// Flow end, nanoseconds since the epoch.
    #[prost(uint64, tag = "112")]
    pub time_flow_end_ns: u64,
    /// Bytes.
    #[prost(uint64, tag = "9")]
    pub bytes: u64,
    /// Packets.
    #[prost(uint64, tag = "10")]
    pub packets: u64,
    /// Source address (4 or 16 bytes).
    #[prost(bytes = "vec", tag = "6")]
    pub src_addr: Vec<u8>,
    /// Destination address.
    #[prost(bytes = "vec", tag = "7")]
    pub dst_addr: Vec<u8>,
    /// IP protocol.
    #[prost(uint32, tag = "20")]
    pub proto: u32,
    /// Source port.
    #[prost(uint32, tag = "21")]
    pub src_port: u32,
    /// Destination port.
    #[prost(uint32, tag = "22")]
    pub dst_port: u32,
    /// TCP flags.
    #[prost(uint32, tag = "26")]
    pub tcp_flags: u32,
    /// Observation domain.
    #[prost(uint32, tag = "70")]
    pub observation_domain_id: u32,
}

fn addr(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(b).ok()?))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b).ok()?))),
        _ => None,
    }
}

impl FlowMessage {
    /// The message as a flow record.
    pub fn record(&self) -> std::result::Result<ExportRecord, String> {
        let src_ip = addr(&self.src_addr).ok_or("src_addr is not an address")?;
        let dst_ip = addr(&self.dst_addr).ok_or("dst_addr is not an address")?;
        let port = |p: u32, what: &str| u16::try_from(p).map_err(|_| format!("{what} {p}"));
        let first = self.time_flow_start_ns as f64 / 1e9;
        Ok(ExportRecord {
            exporter: addr(&self.sampler_address).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            domain: self.observation_domain_id,
            version: match self.r#type {
                2 => 5,
                3 => 9,
                4 => 10,
                _ => 0,
            },
            first,
            last: (self.time_flow_end_ns as f64 / 1e9).max(first),
            src_ip,
            dst_ip,
            src_port: port(self.src_port, "src_port")?,
            dst_port: port(self.dst_port, "dst_port")?,
            protocol: u8::try_from(self.proto).map_err(|_| format!("proto {}", self.proto))?,
            packets: self.packets,
            bytes: self.bytes,
            tcp_flags: (self.tcp_flags & 0xff) as u8,
            reverse: None,
        })
    }
}

/// Decodes one goflow2 message: a plain `FlowMessage`, or length-delimited ones back to back.
pub fn decode_goflow2(payload: &[u8]) -> std::result::Result<Vec<ExportRecord>, String> {
    let plain = FlowMessage::decode(payload);
    let delimited = || -> std::result::Result<Vec<FlowMessage>, String> {
        let mut buf = payload;
        let mut out = Vec::new();
        while !buf.is_empty() {
            out.push(FlowMessage::decode_length_delimited(&mut buf).map_err(|e| e.to_string())?);
        }
        Ok(out)
    };
    // A length-delimited stream decodes as a plain message too, as garbage: prefer the
    // reading whose records have addresses.
    let msgs = match delimited() {
        Ok(m) if !m.is_empty() && m.iter().all(|m| m.record().is_ok()) => m,
        _ => vec![plain.map_err(|e| format!("not a goflow2 FlowMessage: {e}"))?],
    };
    msgs.iter().map(FlowMessage::record).collect()
}

/// Decodes one JSON message (one object, or several lines of them).
pub fn decode_ndjson(payload: &[u8]) -> std::result::Result<Vec<ExportRecord>, String> {
    let text = std::str::from_utf8(payload).map_err(|_| "not UTF-8 text".to_string())?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        let obj = v.as_object().ok_or("not a JSON object")?;
        out.push(if obj.contains_key("packets_c2s") {
            from_flow_record(obj)?
        } else {
            crate::netflow::table::record_from_json(obj)?
        });
    }
    Ok(out)
}

/// A poolscope flow record (from `extract`, `score`, `watch`) as one bidirectional record.
fn from_flow_record(
    o: &serde_json::Map<String, serde_json::Value>,
) -> std::result::Result<ExportRecord, String> {
    let ip = |k: &str| -> std::result::Result<IpAddr, String> {
        o.get(k)
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{k} is not an address"))
    };
    let n = |k: &str| -> std::result::Result<u64, String> {
        o.get(k)
            .and_then(|v| v.as_u64())
            .ok_or_else(|| format!("{k} is not a count"))
    };
    let t = |k: &str| -> std::result::Result<f64, String> {
        o.get(k)
            .and_then(|v| v.as_f64())
            .ok_or_else(|| format!("{k} is not a time"))
    };
    let port = |k: &str| n(k).and_then(|p| u16::try_from(p).map_err(|_| format!("{k} {p}")));
    let flags = |k: &str| o.get(k).and_then(|v| v.as_u64()).unwrap_or(0) as u8;
    let protocol = match o.get("transport").and_then(|v| v.as_str()) {
        Some("tcp") => 6,
        Some("udp") => 17,
        other => return Err(format!("transport {other:?}")),
    };
    Ok(ExportRecord {
        exporter: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        domain: 0,
        version: 0,
        first: t("first_seen")?,
        last: t("last_seen")?,
        src_ip: ip("src_ip")?,
        dst_ip: ip("dst_ip")?,
        src_port: port("src_port")?,
        dst_port: port("dst_port")?,
        protocol,
        packets: n("packets_c2s")?,
        bytes: n("bytes_c2s")?,
        tcp_flags: flags("tcp_flags_c2s"),
        reverse: Some(ReverseCounters {
            packets: n("packets_s2c")?,
            bytes: n("bytes_s2c")?,
            tcp_flags: flags("tcp_flags_s2c"),
        }),
    })
}

/// One assigned partition's state.
struct Part {
    /// `kafka:TOPIC/PARTITION`, the input named in its records.
    label: Arc<str>,
    stitcher: Stitcher,
    decoder: NetflowDecoder,
    /// The offset after the last message consumed.
    next: i64,
}

/// Counts deliveries that failed: offsets are not committed past them.
struct Delivery {
    failed: AtomicU64,
}

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Everything the consumer loop and the rebalance callback share.
struct Shared {
    opts: StreamOptions,
    scorer: Scorer,
    parts: HashMap<i32, Part>,
    /// Where verdicts are produced (`--out-topic`).
    producer: Option<KafkaOut>,
    local: Option<Box<dyn Write + Send>>,
    summary: StreamSummary,
    problems: Vec<String>,
    flow_id: u64,
    line: Vec<u8>,
    /// The first failure of the output: the run stops on it without committing.
    failed: Option<Error>,
    /// When partitions were last assigned (the idle clock starts there, not at start-up:
    /// joining a group takes seconds).
    assigned_at: Option<Instant>,
}

impl Shared {
    /// Scores finished conversations of `partition` and writes or produces their verdicts.
    fn emit(&mut self, partition: i32, convs: Vec<Conversation>) {
        let Some(label) = self.parts.get(&partition).map(|p| p.label.clone()) else {
            return;
        };
        for c in convs {
            self.flow_id += 1;
            let mut rec = flow_record(&c, self.flow_id, label.clone());
            let s = self.scorer.score(&rec);
            self.summary.conversations += 1;
            match s.verdict {
                Verdict::Mining => self.summary.mining += 1,
                Verdict::Suspect => self.summary.suspect += 1,
                Verdict::Benign => {}
            }
            if s.verdict < self.opts.min_verdict {
                continue;
            }
            rec.verdict = Some(s.columns());
            self.line.clear();
            rec.write_ndjson(&mut self.line);
            // The record's line ends in "}\n": where it came from goes before the brace.
            self.line.truncate(self.line.len() - 2);
            let (lo, hi) = c.tags.unwrap_or((0, 0));
            let _ = writeln!(
                self.line,
                ",\"kafka\":{{\"topic\":{},\"partition\":{partition},\"first_offset\":{lo},\"last_offset\":{hi}}}}}",
                serde_json::Value::String(self.opts.topic.clone())
            );
            self.summary.written += 1;
            if let Some(out) = self.local.as_mut() {
                if let Err(e) = out.write_all(&self.line) {
                    self.failed.get_or_insert(Error::output("-", e));
                }
            }
            if let Some(k) = &self.producer {
                if let Err(e) = k.send(&rec.src_ip.to_string(), &self.line) {
                    self.failed.get_or_insert(e);
                }
            }
        }
    }

    /// Takes one message.
    fn message(&mut self, partition: i32, offset: i64, key: Option<&[u8]>, payload: &[u8]) {
        self.summary.messages += 1;
        let opts_format = self.opts.format;
        let stitch = self.opts.stitch;
        let topic = &self.opts.topic;
        let part = self.parts.entry(partition).or_insert_with(|| Part {
            label: Arc::from(format!("kafka:{topic}/{partition}")),
            stitcher: Stitcher::new(stitch),
            decoder: NetflowDecoder::new(),
            next: offset,
        });
        part.next = offset + 1;
        let records = match opts_format {
            StreamFormat::Goflow2 => decode_goflow2(payload),
            StreamFormat::Ndjson => decode_ndjson(payload),
            StreamFormat::IpfixRaw => {
                let exporter = key
                    .and_then(|k| std::str::from_utf8(k).ok())
                    .and_then(|k| k.parse::<SocketAddr>().ok())
                    .unwrap_or_else(crate::netflow::export::unknown_exporter);
                let before = part.decoder.summary.unsupported.clone();
                let mut recs = Vec::new();
                part.decoder
                    .decode_datagram(exporter, payload, &mut |r| recs.push(r));
                // Damage is counted by reason inside the decoder: a new count is this one's.
                let why = part
                    .decoder
                    .summary
                    .unsupported
                    .iter()
                    .find(|(k, n)| before.get(*k).is_none_or(|b| b < *n))
                    .map(|(k, _)| k.clone());
                match why {
                    Some(why) if recs.is_empty() => Err(why),
                    _ => Ok(recs),
                }
            }
        };
        let records = match records {
            Ok(r) => r,
            Err(why) => {
                self.summary.malformed += 1;
                self.problems.push(format!(
                    "{} partition {partition} offset {offset}: skipped: {why}",
                    self.opts.topic
                ));
                return;
            }
        };
        self.summary.records += records.len() as u64;
        let mut done = Vec::new();
        for r in &records {
            part.stitcher
                .push_tagged(r, Some(offset as u64), &mut |c| done.push(c));
        }
        self.emit(partition, done);
    }

    /// Finishes every open conversation of `partitions` (all when None).
    fn flush(&mut self, partitions: Option<&[i32]>) {
        let ps: Vec<i32> = match partitions {
            Some(p) => p.to_vec(),
            None => self.parts.keys().copied().collect(),
        };
        for p in ps {
            if let Some(part) = self.parts.get_mut(&p) {
                let mut done = Vec::new();
                part.stitcher.flush(&mut |c| done.push(c));
                self.emit(p, done);
            }
        }
    }

    /// Waits for every produced verdict, then commits each partition up to its first record
    /// still in an open conversation.
    fn commit(&mut self, consumer: &BaseConsumer<Ctx>, only: Option<&[i32]>) -> Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if let Some(out) = self.local.as_mut() {
            out.flush().map_err(|e| Error::output("-", e))?;
        }
        if let Some(k) = &self.producer {
            // Nothing is committed past a verdict that was not delivered.
            k.finish()?;
        }
        let mut tpl = TopicPartitionList::new();
        for (p, part) in &self.parts {
            if only.is_some_and(|o| !o.contains(p)) {
                continue;
            }
            let upto = part
                .stitcher
                .min_open_tag()
                .map_or(part.next, |t| (t as i64).min(part.next));
            tpl.add_partition_offset(&self.opts.topic, *p, Offset::Offset(upto))
                .map_err(|e| Error::Stream(e.to_string()))?;
        }
        if tpl.count() > 0 {
            // A commit that fails (a rebalance under way, a coordinator moving) is not lost
            // work: the records are read again by whoever owns the partition next, and their
            // verdicts come again with the same offsets. Say so and go on.
            match consumer.commit(&tpl, CommitMode::Sync) {
                Ok(()) => self.summary.commits += 1,
                Err(e) => {
                    self.summary.commit_failures += 1;
                    self.problems.push(format!(
                        "{}: offsets not committed ({e}); those records will be read again",
                        self.opts.topic
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Flow records and alerts of `score` and `watch` produced to a topic (`--kafka-out
/// BROKERS/TOPIC`), keyed by client address, so that sensors feed the same pipeline as the
/// collectors. Alerts are the lines with an `alert_time`.
pub struct KafkaOut {
    producer: BaseProducer<Delivery>,
    topic: String,
}

impl KafkaOut {
    /// A producer for `BROKERS/TOPIC` (`host:port[,host:port…]/topic`).
    pub fn open(spec: &str) -> Result<Self> {
        let (brokers, topic) = spec
            .rsplit_once('/')
            .filter(|(b, t)| !b.is_empty() && !t.is_empty())
            .ok_or_else(|| Error::Usage(format!("--kafka-out {spec}: expected BROKERS/TOPIC")))?;
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", brokers);
        Self::new(config, topic)
    }

    /// A producer with `config` for `topic`: idempotent and lz4-compressed unless `config`
    /// says otherwise (records of one JSON shape compress several times over).
    fn new(mut config: ClientConfig, topic: &str) -> Result<Self> {
        for (key, value) in [("enable.idempotence", "true"), ("compression.type", "lz4")] {
            if config.get(key).is_none() {
                config.set(key, value);
            }
        }
        let producer = config
            .create_with_context::<_, BaseProducer<Delivery>>(Delivery {
                failed: AtomicU64::new(0),
            })
            .map_err(|e| Error::Stream(format!("cannot create the producer: {e}")))?;
        Ok(KafkaOut {
            producer,
            topic: topic.to_string(),
        })
    }

    /// Serves delivery reports and the like without waiting.
    fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    /// Queues one NDJSON line (its newline is left out of the message).
    pub fn send(&self, key: &str, line: &[u8]) -> Result<()> {
        let payload = line.strip_suffix(b"\n").unwrap_or(line);
        let mut record = BaseRecord::to(&self.topic).key(key).payload(payload);
        loop {
            match self.producer.send(record) {
                Ok(()) => {
                    self.producer.poll(Duration::ZERO);
                    return Ok(());
                }
                Err((e, r))
                    if e.rdkafka_error_code()
                        == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
                {
                    self.producer.poll(Duration::from_millis(50));
                    record = r;
                }
                Err((e, _)) => {
                    return Err(Error::Stream(format!(
                        "cannot produce to {}: {e}",
                        self.topic
                    )))
                }
            }
        }
    }

    /// Waits until every message is delivered; an error says how many were not.
    pub fn finish(&self) -> Result<()> {
        self.producer
            .flush(Duration::from_secs(60))
            .map_err(|e| Error::Stream(format!("{}: not delivered: {e}", self.topic)))?;
        match self.producer.context().failed.swap(0, Ordering::Relaxed) {
            0 => Ok(()),
            n => Err(Error::Stream(format!(
                "{}: {n} messages could not be delivered",
                self.topic
            ))),
        }
    }
}

/// The consumer's context: the shared state, so that a revocation can finish its partitions.
struct Ctx {
    shared: Mutex<Shared>,
}

impl ClientContext for Ctx {}

impl ConsumerContext for Ctx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(tpl) = rebalance else {
            return;
        };
        let Ok(mut s) = self.shared.lock() else {
            return;
        };
        let topic = s.opts.topic.clone();
        let ps = partitions(tpl, &topic);
        s.flush(Some(&ps));
        if let Err(e) = s.commit(consumer, Some(&ps)) {
            s.failed.get_or_insert(e);
        }
        for p in &ps {
            if s.parts.remove(p).is_some() {
                s.summary.revoked += 1;
            }
        }
        s.problems.push(format!(
            "{topic}: partitions {} revoked (their open conversations finished)",
            list(&ps)
        ));
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(tpl) = rebalance else {
            return;
        };
        let Ok(mut s) = self.shared.lock() else {
            return;
        };
        let topic = s.opts.topic.clone();
        let ps = partitions(tpl, &topic);
        s.problems
            .push(format!("{topic}: partitions {} assigned", list(&ps)));
        s.assigned_at = Some(Instant::now());
    }
}

/// The partitions of `topic` in a rebalance's list.
fn partitions(tpl: &TopicPartitionList, topic: &str) -> Vec<i32> {
    tpl.elements_for_topic(topic)
        .iter()
        .map(|e| e.partition())
        .collect()
}

fn list(ps: &[i32]) -> String {
    if ps.is_empty() {
        return "(none)".into();
    }
    ps.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn lock(c: &BaseConsumer<Ctx>) -> Result<std::sync::MutexGuard<'_, Shared>> {
    c.context()
        .shared
        .lock()
        .map_err(|_| Error::Stream("state poisoned".into()))
}

fn client_config(opts: &StreamOptions) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &opts.brokers);
    c
}

/// The user's `-X` properties, over poolscope's own settings.
fn with_properties(mut c: ClientConfig, opts: &StreamOptions) -> ClientConfig {
    for (k, v) in &opts.properties {
        c.set(k, v);
    }
    c
}

/// Consumes `opts.topic` in group `opts.group` until `stop` is set (or the topic has been
/// idle for `opts.idle_exit`), scoring every conversation; verdicts go to `local` and/or the
/// output topic. Each malformed message is counted and named to `problem`.
pub fn run_stream(
    opts: &StreamOptions,
    scorer: Scorer,
    local: Option<Box<dyn Write + Send>>,
    stop: Arc<AtomicBool>,
    problem: &mut dyn FnMut(&str),
) -> Result<StreamSummary> {
    let producer = opts
        .out_topic
        .as_deref()
        .map(|topic| KafkaOut::new(with_properties(client_config(opts), opts), topic))
        .transpose()?;
    let ctx = Ctx {
        shared: Mutex::new(Shared {
            opts: opts.clone(),
            scorer,
            parts: HashMap::new(),
            producer,
            local,
            summary: StreamSummary::default(),
            problems: Vec::new(),
            flow_id: 0,
            line: Vec::new(),
            failed: None,
            assigned_at: None,
        }),
    };
    // The group and the commits are poolscope's to set: at-least-once rests on them.
    let consumer: BaseConsumer<Ctx> = with_properties(client_config(opts), opts)
        .set("group.id", &opts.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .create_with_context(ctx)
        .map_err(|e| Error::Stream(format!("cannot create the consumer: {e}")))?;
    consumer
        .subscribe(&[&opts.topic])
        .map_err(|e| Error::Stream(format!("cannot subscribe to {}: {e}", opts.topic)))?;
    let mut last_message: Option<Instant> = None;
    let mut last_commit = Instant::now();
    let result: Result<()> = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        if let Some(t) = opts.idle_exit {
            let assigned = lock(&consumer)?.assigned_at;
            let active = last_message.max(assigned);
            if active.is_some_and(|a| a.elapsed() >= t) {
                break Ok(());
            }
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                last_message = Some(Instant::now());
                let mut s = lock(&consumer)?;
                s.message(
                    m.partition(),
                    m.offset(),
                    m.key(),
                    m.payload().unwrap_or(&[]),
                );
                for p in s.problems.drain(..) {
                    problem(&p);
                }
            }
            Some(Err(e)) => problem(&format!("{}: {e}", opts.topic)),
            None => {
                for p in lock(&consumer)?.problems.drain(..) {
                    problem(&p);
                }
            }
        }
        if let Some(k) = &lock(&consumer)?.producer {
            k.poll();
        }
        if last_commit.elapsed() >= opts.commit_interval {
            last_commit = Instant::now();
            let mut s = lock(&consumer)?;
            if let Err(e) = s.commit(&consumer, None) {
                break Err(e);
            }
            for p in s.problems.drain(..) {
                problem(&p);
            }
        }
        if let Some(e) = lock(&consumer)?.failed.take() {
            break Err(e);
        }
    };
    // Leaving: every conversation finished, produced and committed, then the group is left
    // (its partitions go to the other members at once).
    let end = {
        let mut s = lock(&consumer)?;
        s.flush(None);
        let end = s.commit(&consumer, None);
        for p in s.problems.drain(..) {
            problem(&p);
        }
        end
    };
    consumer.unsubscribe();
    let summary = lock(&consumer)?.summary.clone();
    result?;
    end?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn raw_datagrams_become_verdicts_with_their_offsets_and_garbage_is_named() {
        let out = Buf::default();
        let mut s = Shared {
            opts: StreamOptions {
                brokers: String::new(),
                topic: "flows".into(),
                group: "g".into(),
                out_topic: None,
                format: StreamFormat::IpfixRaw,
                stitch: StitchConfig::default(),
                min_verdict: Verdict::Benign,
                commit_interval: Duration::from_secs(5),
                idle_exit: None,
                properties: Vec::new(),
            },
            scorer: Scorer::new(None, None),
            parts: HashMap::new(),
            producer: None,
            local: Some(Box::new(out.clone())),
            summary: StreamSummary::default(),
            problems: Vec::new(),
            flow_id: 0,
            line: Vec::new(),
            failed: None,
            assigned_at: None,
        };
        let v5 = crate::netflow::export::tests::v5_packet();
        s.message(2, 40, Some(b"192.0.2.1:2055"), &v5);
        s.message(2, 41, None, b"\x00\x05\x00");
        // Nothing is finished before its conversation is: the commit point stays at 40.
        assert_eq!(s.parts[&2].stitcher.min_open_tag(), Some(40));
        assert_eq!(s.parts[&2].next, 42);
        s.flush(None);
        assert_eq!(
            (
                s.summary.records,
                s.summary.malformed,
                s.summary.conversations
            ),
            (1, 1, 1)
        );
        assert!(
            s.problems[0].starts_with("flows partition 2 offset 41: skipped"),
            "{:?}",
            s.problems
        );
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["src_ip"], "10.0.0.1");
        assert_eq!(v["dst_port"], 3333);
        assert_eq!(v["packets_c2s"], 12);
        assert_eq!(
            v["kafka"],
            serde_json::json!({"topic": "flows", "partition": 2, "first_offset": 40, "last_offset": 40})
        );
    }

    #[test]
    fn goflow2_messages_decode_plain_and_length_delimited() {
        let m = FlowMessage {
            r#type: 4,
            sampling_rate: 1,
            sampler_address: vec![192, 0, 2, 1],
            time_flow_start_ns: 1_700_000_000_500_000_000,
            time_flow_end_ns: 1_700_000_060_000_000_000,
            bytes: 4242,
            packets: 42,
            src_addr: vec![10, 0, 0, 2],
            dst_addr: vec![198, 51, 100, 7],
            proto: 6,
            src_port: 50_000,
            dst_port: 3333,
            tcp_flags: 0x1b,
            observation_domain_id: 7,
        };
        let r = &decode_goflow2(&m.encode_to_vec()).unwrap()[0];
        assert_eq!(r.src_ip, "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(
            (r.dst_port, r.protocol, r.packets, r.bytes),
            (3333, 6, 42, 4242)
        );
        assert_eq!((r.first, r.last), (1_700_000_000.5, 1_700_000_060.0));
        assert_eq!((r.version, r.domain, r.tcp_flags), (10, 7, 0x1b));
        let mut two = m.encode_length_delimited_to_vec();
        two.extend(m.encode_length_delimited_to_vec());
        assert_eq!(decode_goflow2(&two).unwrap().len(), 2);
        assert!(decode_goflow2(b"\xff\xff\xff garbage").is_err());
    }

    #[test]
    fn json_rows_and_flow_records_decode() {
        let row = br#"{"src_ip":"10.0.0.2","dst_ip":"198.51.100.7","src_port":50000,"dst_port":3333,"protocol":"TCP","first":1700000000,"packets":10,"bytes":900,"last":1700000100,"packets_rev":9,"bytes_rev":2000}"#;
        let r = &decode_ndjson(row).unwrap()[0];
        assert_eq!((r.protocol, r.packets, r.bytes), (6, 10, 900));
        assert_eq!(r.reverse.unwrap().bytes, 2000);
        let rec = br#"{"flow_id":1,"transport":"udp","src_ip":"10.0.0.2","src_port":5353,"dst_ip":"10.0.0.9","dst_port":53,"first_seen":5.0,"last_seen":6.5,"packets_c2s":1,"packets_s2c":1,"bytes_c2s":60,"bytes_s2c":120}"#;
        let r = &decode_ndjson(rec).unwrap()[0];
        assert_eq!((r.protocol, r.first, r.last, r.bytes), (17, 5.0, 6.5, 60));
        assert_eq!(r.reverse.unwrap().packets, 1);
        assert!(decode_ndjson(b"{\"src_ip\":\"10.0.0.2\"").is_err());
        assert!(decode_ndjson(b"{\"src_ip\":\"10.0.0.2\"}")
            .unwrap_err()
            .contains("lacks"));
    }
}
