//! Output: one [`FlowRecord`] per flow, written as NDJSON, CSV or Parquet.
//!
//! NDJSON is written record by record as flows end. CSV and Parquet go through `polars` in
//! batches of [`BATCH_ROWS`] rows, so memory stays bounded however many flows a run has.

mod record;
pub mod rotate;
mod writer;

pub use record::{
    FlowRecord, UnknownCounters, VerdictColumns, CORE_COLUMNS, DISSECTOR_COLUMNS, SCORE_COLUMNS,
};
pub use writer::{write_table, Format, RecordWriter, BATCH_ROWS, LIST_SEPARATOR};

/// Replaces `path` with `bytes` atomically: a temporary file beside it, written and synced, then
/// renamed over it, so a reader sees the old file or the new one, never a part. Feed files,
/// models and reports are all written this way.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
