//! Output: one [`FlowRecord`] per flow, written as NDJSON, CSV or Parquet.
//!
//! NDJSON is written record by record as flows end. CSV and Parquet go through `polars` in
//! batches of [`BATCH_ROWS`] rows, so memory stays bounded however many flows a run has.

mod record;
mod writer;

pub use record::{FlowRecord, CORE_COLUMNS, DISSECTOR_COLUMNS};
pub use writer::{Format, RecordWriter, BATCH_ROWS};
