//! Where finished reports go. The dataflow hands every finished batch, and the fleet
//! report after every completed time, to the [`ReportWriter`]s it was built with (JSON
//! files, a database store); the sink operators report a time as durable only after every
//! writer acknowledged every batch of it, and every fleet write of it succeeded.

use std::sync::Arc;

use crate::ack::BatchAck;
use crate::report::{FinishedBatch, FleetReport};

/// An error from a report writer.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Receives finished reports. Each worker has its own writers; `write_batch` is called on
/// the worker that gathered the batch, `write_fleet` on worker 0 only, both on the timely
/// worker thread: they must not block it for long (a slow store would stall every batch
/// behind it), so a writer with slow I/O starts the write elsewhere and acknowledges
/// later.
///
/// Writes must be idempotent: after a crash the same batch may be written again.
pub trait ReportWriter {
    /// Starts storing one finished batch (its report, files and meta) and returns at once.
    /// The writer completes `ack` when the batch is durably stored, from any thread; it
    /// retries transient failures itself (the batch's time stays open meanwhile) and fails
    /// the ack only when the batch can never be stored. The batch is shared by every
    /// writer of the worker.
    fn write_batch(&mut self, batch: Arc<FinishedBatch>, ack: BatchAck);

    /// Stores the fleet report as of the latest completed time. Synchronous: the time is
    /// durable only once this returned `Ok`; an error stops the run.
    fn write_fleet(&mut self, fleet: &FleetReport) -> Result<(), SinkError>;

    /// Stores the windowed fleet report (batches whose sessions ended within the configured
    /// window) as of the latest completed time. Only called when a window is configured.
    fn write_fleet_window(&mut self, _fleet: &FleetReport) -> Result<(), SinkError> {
        Ok(())
    }

    /// Progress while a batch is gathered: `files_parsed` of its `file_count` files are
    /// parsed. Called on the gathering worker, in no guaranteed order across batches;
    /// best effort (the report's write records the final figure). Default: ignored.
    fn file_parsed(&mut self, _batch_id: &str, _files_parsed: u32, _file_count: u32) {}
}
