//! The Argus dataflow (timely 0.32 + differential 0.26).
//!
//! Sources produce file-ready items at a timestamp per batch; files are split into chunk
//! ranges that every worker shares; ranges are parsed zero-copy and pre-aggregated; a
//! frontier-driven gather emits each batch's report exactly once when its time is
//! complete; differential keeps the fleet's Top-K incrementally; sinks hand reports to
//! writers and expose, through a probe, what is durably written.

pub mod report;
pub mod sink;

pub use report::{
    BatchMeta, BatchReport, BatchStatus, DEFAULT_K, FileEntry, FileOutcome, FinishedBatch, FleetReport,
    FleetTopError, TopError, assemble_batch,
};
pub use sink::{ReportWriter, SinkError};
