//! The report store and the diagnosis sink.
//!
//! - [`Store`]: PostgreSQL or SQLite behind one type, opened from a URL, migrated with
//!   [`Store::migrate`]; idempotent batch writes, the reads the REST API needs, the fleet
//!   query, the LLM token budget and the Kafka offset checkpoints.
//! - [`diagnosis`]: the rule engine over the DTC knowledge base, the optional LLM step
//!   with its budget and fallbacks.
//! - [`StoreWriter`]: the pipeline's [`argus_pipeline::sink::ReportWriter`] over a store:
//!   writes run on a tokio runtime and are acknowledged once committed, transient failures
//!   retried with [`Backoff`].

pub mod diagnosis;
mod error;
mod fleet_writer;
mod progress_writer;
mod retry;
pub mod store;
mod vin;
mod writer;

pub use error::StoreError;
pub use retry::Backoff;
pub use store::{
    Backend, BatchCursor, BatchState, Completion, FleetQuery, KafkaOffset, NewUpload, Store, StoreOptions,
    TimeWindow, Upload, UploadError, WriteOutcome,
};
pub use vin::is_vin;
pub use writer::{StoreWriter, write_finished_batch};
