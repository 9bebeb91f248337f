//! The Argus dataflow (timely 0.32 + differential 0.26).
//!
//! ```text
//! source ─▶ split ─▶ parse ─▶ gather ─▶ batch sink ──────────────┐
//!   │         └───────────────▶ ▲  └──▶ facts ─▶ fleet Top-K ─▶ fleet sink ─▶ durable probe
//!   └─────────────────────────────┘
//! ```
//!
//! A [`Feed`] gives the source file-ready events; the source holds a capability per open
//! batch until all its files are in. Files are split into chunk ranges that every worker
//! shares; ranges are parsed zero-copy and pre-aggregated per (file, code); the gather
//! emits each batch's report exactly once, when the frontier passes the batch's time;
//! differential keeps the fleet's Top-K incrementally (and a windowed one that retracts
//! expired batches); sinks hand reports to [`ReportWriter`]s without waiting for them and
//! hold each batch's time until its [`BatchAck`]s say it is stored, and a probe after them
//! tells the source which times are durably written.

pub mod ack;
pub mod cluster;
pub mod commit;
pub mod dataflow;
pub mod feed;
pub mod fleet;
pub mod gather;
pub mod items;
pub mod json;
pub mod metrics;
pub mod parse;
pub mod report;
pub mod resolve;
pub mod run;
pub mod sink;
pub mod source;
pub mod split;
pub mod write;

use std::sync::Arc;

pub use ack::{AckWatch, BatchAck};
pub use cluster::ClusterConfig;
pub use dataflow::DataflowConfig;
pub use feed::{ChannelFeed, Feed, FeedEvent, FeedState, VecFeed};
pub use items::{FileReady, Position};
pub use json::JsonDirWriter;
pub use metrics::Metrics;
pub use report::{
    BatchMeta, BatchReport, BatchStatus, DEFAULT_K, FileEntry, FileOutcome, FileOutline, FinishedBatch,
    FleetReport, FleetTopError, TopError, assemble_batch,
};
pub use resolve::{FileResolver, LocalResolver};
pub use run::{FeedFactory, Job, RunError, WriterFactory, run};
pub use sink::{ReportWriter, SinkError};

/// The ingest clock: milliseconds since the Unix epoch. Tests pass a manual one.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(now_ms)
}

/// Milliseconds since the Unix epoch, by the system clock (the ingest clock's unit).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
