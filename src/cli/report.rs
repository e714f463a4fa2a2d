//! `poolscope report`: scored flows as one self-contained HTML page. Inputs are `score`'s
//! outputs (NDJSON, CSV, Parquet: recognised by their `verdict` column) or anything `score`
//! reads (captures, flow exports, flow tables), which are scored here first.

use super::extract::{render_summary, run_pipeline, FlowArgs};
use super::score::{input_names, JudgeArgs};
use super::CliError;
use crate::report::{FlowFacts, ReportBuilder, ReportData, RunInfo};
use crate::Error;
use clap::Args;
use serde_json::{Map, Value};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Arguments of `poolscope report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Inputs (outputs of `poolscope score`, or captures and exports to score first) and the
    /// flow-table settings for the latter.
    #[command(flatten)]
    pub flows: FlowArgs,
    /// Feeds and models for the inputs scored here.
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// The HTML page to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// How an input is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `score` output as NDJSON.
    ScoredNdjson,
    /// `score` output as CSV or Parquet.
    ScoredTable,
    /// Anything else: scored here.
    Raw,
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Whether a file is an output of `score`: NDJSON whose first object has a verdict, or a
/// CSV/Parquet table with a `verdict` column. Standard input, directories and Zeek or
/// Suricata logs (EVE is NDJSON too) are never one.
fn kind_of(path: &Path) -> Result<Kind, Error> {
    if path == Path::new("-") || path.is_dir() || crate::logs::detect(path).is_some() {
        return Ok(Kind::Raw);
    }
    let mut head = [0u8; 4];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| io(path, e))?;
        f.read(&mut head).map_err(|e| io(path, e))?
    };
    let head = &head[..n];
    if head.first() == Some(&b'{') {
        return Ok(Kind::ScoredNdjson);
    }
    let table = head.starts_with(b"PAR1")
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if table {
        let cols = crate::model::data::table_columns(path).map_err(|e| Error::Unusable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if cols.iter().any(|c| c == "verdict") {
            return Ok(Kind::ScoredTable);
        }
    }
    Ok(Kind::Raw)
}

/// Adds one row of a scored file to the builder; a row that is not a scored flow is named
/// (`where_`: file and line or row) on stderr and counted, never fatal.
fn take_row(bytes: &[u8], where_: impl FnOnce() -> String, b: &mut ReportBuilder, bad: &mut usize) {
    let row = serde_json::from_slice::<Map<String, Value>>(bytes)
        .map_err(|e| e.to_string())
        .and_then(|m| FlowFacts::from_json(&m));
    match row {
        Ok(f) => b.add(f),
        Err(e) => {
            *bad += 1;
            eprintln!("poolscope: {}: skipped: {e}", where_());
        }
    }
}

/// Reads `score`'s NDJSON into the builder, a line at a time.
fn read_ndjson(path: &Path, b: &mut ReportBuilder, bad: &mut usize) -> Result<(), Error> {
    let f = std::fs::File::open(path).map_err(|e| io(path, e))?;
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| io(path, e))?;
        if !line.trim().is_empty() {
            take_row(
                line.as_bytes(),
                || format!("{}:{}", path.display(), i + 1),
                b,
                bad,
            );
        }
    }
    Ok(())
}

/// Reads `score`'s CSV or Parquet output into the builder, a row at a time as JSON.
fn read_table(path: &Path, b: &mut ReportBuilder, bad: &mut usize) -> Result<(), Error> {
    use polars::prelude::{JsonFormat, JsonWriter, SerWriter};
    let unusable = |reason: String| Error::Unusable {
        path: path.display().to_string(),
        reason,
    };
    let mut df = crate::model::data::read_frame(path).map_err(|e| unusable(e.to_string()))?;
    let mut text = Vec::new();
    JsonWriter::new(&mut text)
        .with_json_format(JsonFormat::JsonLines)
        .finish(&mut df)
        .map_err(|e| unusable(e.to_string()))?;
    for (i, line) in text.split(|c| *c == b'\n').enumerate() {
        if !line.is_empty() {
            take_row(
                line,
                || format!("{}: row {}", path.display(), i + 1),
                b,
                bad,
            );
        }
    }
    Ok(())
}

/// Writes the page of `data` to `path` (whole: a temporary file renamed over it).
pub(super) fn write_page(path: &Path, data: ReportData) -> Result<(), Error> {
    let html = crate::report::html::render(&data);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{}: not a file name", path.display())))?;
    crate::output::rotate::write_whole(dir, &name.to_string_lossy(), html.as_bytes())?;
    Ok(())
}

pub(super) fn run(args: ReportArgs) -> Result<i32, CliError> {
    let mut builder = ReportBuilder::new();
    let mut raw = Vec::new();
    let mut bad = 0usize;
    let mut read_back = false;
    for p in &args.flows.inputs {
        match kind_of(p)? {
            Kind::ScoredNdjson => {
                read_back = true;
                read_ndjson(p, &mut builder, &mut bad)?
            }
            Kind::ScoredTable => {
                read_back = true;
                read_table(p, &mut builder, &mut bad)?
            }
            Kind::Raw => raw.push(p.clone()),
        }
    }
    let mut run = RunInfo {
        scored: "read from scored files".into(),
        ..RunInfo::default()
    };
    let mut code = 0;
    if !raw.is_empty() {
        let (scorer, info) = args.judge.scorer_and_run()?;
        run = info;
        if read_back {
            run.scored = "scored here, and read from scored files".into();
        }
        let flows = FlowArgs {
            inputs: raw,
            table: args.flows.table.clone(),
            quiet: args.flows.quiet,
            input_format: args.flows.input_format,
            threads: args.flows.threads,
            map: args.flows.map.clone(),
        };
        let cfg = flows.config()?;
        let outcome = run_pipeline(&flows, cfg, &mut |rec| {
            if !rec.is_open() {
                let s = scorer.score(&rec);
                builder.add(FlowFacts::from_record(&rec, &s));
            }
            Ok(())
        })?;
        if !args.flows.quiet && outcome.has_capture_summary() {
            eprint!("{}", render_summary(&outcome.summary));
        }
        code = outcome.exit_code();
    }
    run.inputs = input_names(&args.flows.inputs);
    let data = builder.finish(run);
    if !args.flows.quiet {
        eprintln!(
            "poolscope: report: {} flows, {} flagged from {} hosts{} -> {}",
            data.flows,
            data.flagged.len() + data.flagged_not_listed,
            data.hosts.len(),
            if bad > 0 {
                format!(", {bad} rows skipped")
            } else {
                String::new()
            },
            args.output.display()
        );
    }
    write_page(&args.output, data)?;
    Ok(if bad > 0 { code.max(1) } else { code })
}
