//! Record writers for NDJSON, CSV and Parquet.

use super::record::{FlowRecord, UnknownCounters, CORE_COLUMNS, DISSECTOR_COLUMNS, SCORE_COLUMNS};
use crate::error::{Error, Result};
use crate::features::{FeatureKind, FEATURES};
use polars::io::SerWriter;
use polars::prelude::*;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Rows per CSV or Parquet batch: enough for columnar efficiency, small enough for memory.
pub const BATCH_ROWS: usize = 16_384;

/// Output table format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format an output path's extension names, if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// Parses a `--format` value.
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }
}

enum Sink {
    Ndjson(BufWriter<Box<dyn Write>>),
    Csv(polars::io::csv::write::BatchedWriter<BufWriter<Box<dyn Write>>>),
    Parquet(Box<polars::io::parquet::write::BatchedWriter<BufWriter<Box<dyn Write>>>>),
}

/// Writes flow records to a file or stdout in one of the [`Format`]s.
pub struct RecordWriter {
    sink: Sink,
    pending: Vec<FlowRecord>,
    /// The NDJSON line being written (reused).
    line: Vec<u8>,
    path: PathBuf,
    rows: u64,
    scored: bool,
}

impl RecordWriter {
    /// Opens `out` (a writer already opened on `path`, used in messages) for `format`; with
    /// `scored`, the table has the verdict columns.
    pub fn new(out: Box<dyn Write>, path: PathBuf, format: Format, scored: bool) -> Result<Self> {
        let out = BufWriter::with_capacity(1 << 16, out);
        let err = |e: PolarsError| Error::output_table(path.clone(), e);
        let sink = match format {
            Format::Ndjson => Sink::Ndjson(out),
            Format::Csv => Sink::Csv(
                CsvWriter::new(out)
                    .include_header(true)
                    .batched(&schema(Lists::Joined, scored))
                    .map_err(err)?,
            ),
            Format::Parquet => Sink::Parquet(Box::new(
                ParquetWriter::new(out)
                    .with_compression(ParquetCompression::Snappy)
                    .batched(&schema(Lists::Nested, scored))
                    .map_err(err)?,
            )),
        };
        Ok(RecordWriter {
            sink,
            pending: Vec::new(),
            line: Vec::new(),
            path,
            rows: 0,
            scored,
        })
    }

    /// Records written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes one record (buffered for the columnar formats).
    pub fn write(&mut self, rec: FlowRecord) -> Result<()> {
        self.rows += 1;
        match &mut self.sink {
            Sink::Ndjson(w) => {
                self.line.clear();
                rec.write_ndjson(&mut self.line);
                w.write_all(&self.line).map_err(|e| io_err(&self.path, e))
            }
            _ => {
                self.pending.push(rec);
                if self.pending.len() >= BATCH_ROWS {
                    self.flush_batch()?;
                }
                Ok(())
            }
        }
    }

    fn flush_batch(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let lists = match self.sink {
            Sink::Csv(_) => Lists::Joined,
            _ => Lists::Nested,
        };
        let df = to_dataframe(&self.pending, lists, self.scored)
            .map_err(|e| polars_err(&self.path, e))?;
        self.pending.clear();
        let r = match &mut self.sink {
            Sink::Ndjson(_) => Ok(()),
            Sink::Csv(w) => w.write_batch(&df),
            Sink::Parquet(w) => w.write_batch(&df),
        };
        r.map_err(|e| polars_err(&self.path, e))
    }

    /// Writes what is buffered and closes the format (Parquet footer); flushes the file.
    pub fn finish(mut self) -> Result<()> {
        self.flush_batch()?;
        let path = self.path.clone();
        match self.sink {
            Sink::Ndjson(mut w) => w.flush().map_err(|e| io_err(&path, e)),
            Sink::Csv(mut w) => w.finish().map_err(|e| polars_err(&path, e)),
            Sink::Parquet(w) => w.finish().map(|_| ()).map_err(|e| polars_err(&path, e)),
        }
    }
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::output(path, e)
}

fn polars_err(path: &Path, e: PolarsError) -> Error {
    // A closed pipe surfaces through polars as an I/O error; it keeps its kind.
    Error::output_table(path, e)
}

/// How list columns (ALPN, SANs, chain hashes, DNS names) are written: CSV has no lists, so
/// there they become one string joined with `;`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lists {
    /// Native list columns (Parquet).
    Nested,
    /// `;`-joined strings (CSV).
    Joined,
}

/// Separator of list items in CSV cells.
pub const LIST_SEPARATOR: &str = ";";

const LIST_COLUMNS: &[&str] = &["alpn", "cert_chain_sha256", "cert_san", "dns_names"];

fn list_type(lists: Lists) -> DataType {
    match lists {
        Lists::Nested => DataType::List(Box::new(DataType::String)),
        Lists::Joined => DataType::String,
    }
}

/// Column types of the record table (with the verdict columns when `scored`).
pub fn schema(lists: Lists, scored: bool) -> Schema {
    let mut s = Schema::default();
    for &name in CORE_COLUMNS {
        let dt = match name {
            "transport" | "src_ip" | "dst_ip" | "end_reason" | "capture" => DataType::String,
            "src_port" | "dst_port" => DataType::UInt32,
            "first_seen" | "last_seen" | "duration" => DataType::Float64,
            _ => DataType::UInt64,
        };
        s.with_column(name.into(), dt);
    }
    if scored {
        for &name in SCORE_COLUMNS {
            let dt = match name {
                "score" | "model_score" => DataType::Float64,
                "reasons" | "evidence" => list_type(lists),
                _ => DataType::String,
            };
            s.with_column(name.into(), dt);
        }
    }
    for &name in DISSECTOR_COLUMNS {
        let dt = match name {
            "cert_self_signed" | "cert_encrypted" => DataType::Boolean,
            n if LIST_COLUMNS.contains(&n) => list_type(lists),
            _ => DataType::String,
        };
        s.with_column(name.into(), dt);
    }
    for f in FEATURES {
        let dt = match f.kind {
            FeatureKind::Int => DataType::Int64,
            FeatureKind::Float => DataType::Float64,
        };
        s.with_column(f.name.into(), dt);
    }
    s
}

/// Builds one batch of records as a `DataFrame` in [`schema`] order.
pub fn to_dataframe(recs: &[FlowRecord], lists: Lists, scored: bool) -> PolarsResult<DataFrame> {
    fn u64s(name: &str, recs: &[FlowRecord], f: impl Fn(&FlowRecord) -> u64) -> Column {
        Column::new(name.into(), recs.iter().map(f).collect::<Vec<u64>>())
    }
    fn counters(
        name: &str,
        recs: &[FlowRecord],
        which: UnknownCounters,
        f: impl Fn(&FlowRecord) -> u64,
    ) -> Column {
        let v: Vec<Option<u64>> = recs
            .iter()
            .map(|r| r.unknown_counters.value(which, f(r)))
            .collect();
        Column::new(name.into(), v)
    }
    fn f64s(name: &str, recs: &[FlowRecord], f: impl Fn(&FlowRecord) -> f64) -> Column {
        Column::new(name.into(), recs.iter().map(f).collect::<Vec<f64>>())
    }
    fn strs(name: &str, recs: &[FlowRecord], f: impl Fn(&FlowRecord) -> String) -> Column {
        Column::new(name.into(), recs.iter().map(f).collect::<Vec<String>>())
    }
    fn u32s(name: &str, recs: &[FlowRecord], f: impl Fn(&FlowRecord) -> u32) -> Column {
        Column::new(name.into(), recs.iter().map(f).collect::<Vec<u32>>())
    }
    use UnknownCounters as U;
    let (pk, ip, pl, wi) = (U::PACKETS, U::BYTES, U::PAYLOAD, U::WIRE);
    let mut cols = vec![
        u64s("flow_id", recs, |r| r.flow_id),
        strs("transport", recs, |r| r.transport.to_string()),
        strs("src_ip", recs, |r| r.src_ip.to_string()),
        u32s("src_port", recs, |r| r.src_port as u32),
        strs("dst_ip", recs, |r| r.dst_ip.to_string()),
        u32s("dst_port", recs, |r| r.dst_port as u32),
        f64s("first_seen", recs, |r| r.first_seen),
        f64s("last_seen", recs, |r| r.last_seen),
        f64s("duration", recs, |r| r.duration),
        counters("packets_c2s", recs, pk, |r| r.packets_c2s),
        counters("packets_s2c", recs, pk, |r| r.packets_s2c),
        counters("bytes_c2s", recs, ip, |r| r.bytes_c2s),
        counters("bytes_s2c", recs, ip, |r| r.bytes_s2c),
        counters("payload_bytes_c2s", recs, pl, |r| r.payload_bytes_c2s),
        counters("payload_bytes_s2c", recs, pl, |r| r.payload_bytes_s2c),
        counters("wire_bytes_c2s", recs, wi, |r| r.wire_bytes_c2s),
        counters("wire_bytes_s2c", recs, wi, |r| r.wire_bytes_s2c),
        u64s("reassembly_gaps", recs, |r| r.reassembly_gaps),
        strs("end_reason", recs, |r| r.end_reason.to_string()),
        strs("capture", recs, |r| r.capture.to_string()),
    ];
    debug_assert_eq!(cols.len(), CORE_COLUMNS.len());
    let list_col = |name: &str, values: Vec<&[String]>| -> Column {
        match lists {
            Lists::Joined => Column::new(
                name.into(),
                values
                    .iter()
                    .map(|v| v.join(LIST_SEPARATOR))
                    .collect::<Vec<String>>(),
            ),
            Lists::Nested => {
                let series: Vec<Series> = values
                    .iter()
                    .map(|v| Series::new(PlSmallStr::EMPTY, *v))
                    .collect();
                Column::new(name.into(), series)
            }
        }
    };
    if scored {
        cols.push(Column::new(
            "verdict".into(),
            recs.iter()
                .map(|r| r.verdict.as_ref().map(|v| v.verdict))
                .collect::<Vec<Option<&str>>>(),
        ));
        cols.push(Column::new(
            "score".into(),
            recs.iter()
                .map(|r| r.verdict.as_ref().map(|v| v.score))
                .collect::<Vec<Option<f64>>>(),
        ));
        cols.push(list_col(
            "reasons",
            recs.iter()
                .map(|r| r.verdict.as_ref().map_or(&[][..], |v| &v.reasons[..]))
                .collect(),
        ));
        cols.push(Column::new(
            "model_score".into(),
            recs.iter()
                .map(|r| r.verdict.as_ref().and_then(|v| v.model_score))
                .collect::<Vec<Option<f64>>>(),
        ));
        cols.push(Column::new(
            "model_verdict".into(),
            recs.iter()
                .map(|r| r.verdict.as_ref().and_then(|v| v.model_verdict))
                .collect::<Vec<Option<&str>>>(),
        ));
        let evidence: Vec<Vec<String>> = recs
            .iter()
            .map(|r| {
                r.verdict.as_ref().map_or_else(Vec::new, |v| {
                    v.evidence.iter().map(|e| e.to_string()).collect()
                })
            })
            .collect();
        cols.push(list_col(
            "evidence",
            evidence.iter().map(|v| &v[..]).collect(),
        ));
    }
    fn opt(name: &str, recs: &[FlowRecord], f: impl Fn(&FlowRecord) -> Option<&str>) -> Column {
        Column::new(
            name.into(),
            recs.iter().map(f).collect::<Vec<Option<&str>>>(),
        )
    }
    let list = |name: &str, f: &dyn Fn(&FlowRecord) -> &[String]| -> Column {
        list_col(name, recs.iter().map(f).collect())
    };
    cols.extend([
        opt("tls_version", recs, |r| r.tls.tls_version.as_deref()),
        opt("sni", recs, |r| r.tls.sni.as_deref()),
        list("alpn", &|r| &r.tls.alpn),
        opt("ja3", recs, |r| r.tls.ja3.as_deref()),
        opt("ja3_string", recs, |r| r.tls.ja3_string.as_deref()),
        opt("ja3s", recs, |r| r.tls.ja3s.as_deref()),
        opt("ja3s_string", recs, |r| r.tls.ja3s_string.as_deref()),
        opt("ja4", recs, |r| r.tls.ja4.as_deref()),
        opt("ja4_r", recs, |r| r.tls.ja4_r.as_deref()),
        opt("ja4s", recs, |r| r.tls.ja4s.as_deref()),
        opt("cert_sha1", recs, |r| r.tls.cert_sha1.as_deref()),
        opt("cert_sha256", recs, |r| r.tls.cert_sha256.as_deref()),
        list("cert_chain_sha256", &|r| &r.tls.cert_chain_sha256),
        opt("cert_subject", recs, |r| r.tls.cert_subject.as_deref()),
        opt("cert_issuer", recs, |r| r.tls.cert_issuer.as_deref()),
        list("cert_san", &|r| &r.tls.cert_san),
        opt("cert_not_before", recs, |r| {
            r.tls.cert_not_before.as_deref()
        }),
        opt("cert_not_after", recs, |r| r.tls.cert_not_after.as_deref()),
        Column::new(
            "cert_self_signed".into(),
            recs.iter()
                .map(|r| r.tls.cert_self_signed)
                .collect::<Vec<Option<bool>>>(),
        ),
        Column::new(
            "cert_encrypted".into(),
            recs.iter()
                .map(|r| r.tls.cert_encrypted)
                .collect::<Vec<bool>>(),
        ),
        opt("quic_version", recs, |r| r.tls.quic_version.as_deref()),
        list("dns_names", &|r| &r.dns_names),
        // One JSON object per cell in CSV and Parquet: its keys are documented, and a table
        // tool reads it with a JSON function.
        Column::new(
            "stratum".into(),
            recs.iter()
                .map(|r| {
                    r.stratum
                        .as_ref()
                        .map(|s| serde_json::to_string(s).unwrap_or_default())
                })
                .collect::<Vec<Option<String>>>(),
        ),
    ]);
    debug_assert_eq!(
        cols.len(),
        CORE_COLUMNS.len() + DISSECTOR_COLUMNS.len() + if scored { SCORE_COLUMNS.len() } else { 0 }
    );
    for (i, f) in FEATURES.iter().enumerate() {
        let col = match f.kind {
            FeatureKind::Int => Column::new(
                f.name.into(),
                recs.iter()
                    .map(|r| r.features[i])
                    .map(|v| v.is_finite().then_some(v as i64))
                    .collect::<Vec<Option<i64>>>(),
            ),
            FeatureKind::Float => Column::new(
                f.name.into(),
                recs.iter()
                    .map(|r| r.features[i])
                    .map(|v| v.is_finite().then_some(v))
                    .collect::<Vec<Option<f64>>>(),
            ),
        };
        cols.push(col);
    }
    DataFrame::new(recs.len(), cols)
}

/// Writes a small table given as rows of JSON objects (all with the same keys, in order) in one
/// go: NDJSON line by line, CSV and Parquet through polars. Used for rollups, which have one
/// row per host rather than per flow. List values become `;`-joined strings in CSV.
pub fn write_table(
    out: Box<dyn Write>,
    path: &Path,
    format: Format,
    rows: &[serde_json::Map<String, serde_json::Value>],
) -> Result<()> {
    let mut out = BufWriter::new(out);
    let io = |e: std::io::Error| io_err(path, e);
    if format == Format::Ndjson {
        for r in rows {
            serde_json::to_writer(&mut out, r).map_err(|e| io(e.into()))?;
            out.write_all(b"\n").map_err(io)?;
        }
        return out.flush().map_err(io);
    }
    let Some(first) = rows.first() else {
        return out.flush().map_err(io);
    };
    let mut cols = Vec::new();
    for key in first.keys() {
        let values: Vec<&serde_json::Value> = rows.iter().map(|r| &r[key]).collect();
        let col = match values.iter().find(|v| !v.is_null()) {
            Some(serde_json::Value::Number(n)) if n.is_f64() => Column::new(
                key.as_str().into(),
                values
                    .iter()
                    .map(|v| v.as_f64())
                    .collect::<Vec<Option<f64>>>(),
            ),
            Some(serde_json::Value::Number(_)) => Column::new(
                key.as_str().into(),
                values
                    .iter()
                    .map(|v| v.as_i64())
                    .collect::<Vec<Option<i64>>>(),
            ),
            Some(serde_json::Value::Array(_)) => {
                let items = |v: &serde_json::Value| -> Vec<String> {
                    v.as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                if format == Format::Csv {
                    Column::new(
                        key.as_str().into(),
                        values
                            .iter()
                            .map(|v| items(v).join(LIST_SEPARATOR))
                            .collect::<Vec<String>>(),
                    )
                } else {
                    let series: Vec<Series> = values
                        .iter()
                        .map(|v| Series::new(PlSmallStr::EMPTY, items(v)))
                        .collect();
                    Column::new(key.as_str().into(), series)
                }
            }
            _ => Column::new(
                key.as_str().into(),
                values
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .or_else(|| (!v.is_null()).then(|| v.to_string()))
                    })
                    .collect::<Vec<Option<String>>>(),
            ),
        };
        cols.push(col);
    }
    let mut df = DataFrame::new(rows.len(), cols).map_err(|e| polars_err(path, e))?;
    let r = match format {
        Format::Csv => CsvWriter::new(&mut out)
            .include_header(true)
            .finish(&mut df),
        _ => ParquetWriter::new(&mut out).finish(&mut df).map(|_| ()),
    };
    r.map_err(|e| polars_err(path, e))?;
    out.flush().map_err(io)
}
