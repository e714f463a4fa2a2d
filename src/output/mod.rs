//! Output: one [`FlowRecord`] per flow, written as NDJSON, CSV or Parquet.
//!
//! NDJSON is written record by record as flows end. CSV and Parquet go through `polars` in
//! batches of [`BATCH_ROWS`] rows, so memory stays bounded however many flows a run has.

mod record;
mod writer;

pub use record::{FlowRecord, VerdictColumns, CORE_COLUMNS, DISSECTOR_COLUMNS, SCORE_COLUMNS};
pub use writer::{write_table, Format, RecordWriter, BATCH_ROWS, LIST_SEPARATOR};
