//! Where finished reports go. The dataflow hands every finished batch, and the fleet
//! report after every completed time, to the [`ReportWriter`]s it was built with (JSON
//! files, a database store); the sink operator reports a time as durable only after
//! every writer returned for it.

use crate::report::{FinishedBatch, FleetReport};

/// An error from a report writer.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Receives finished reports. Each worker has its own writers; `write_batch` is called on
/// the worker that gathered the batch, `write_fleet` on worker 0 only.
///
/// Writes must be idempotent: after a crash the same batch may be written again.
pub trait ReportWriter {
    /// Stores one finished batch (its report, files and meta) durably.
    fn write_batch(&mut self, batch: &FinishedBatch) -> Result<(), SinkError>;

    /// Stores the fleet report as of the latest completed time.
    fn write_fleet(&mut self, fleet: &FleetReport) -> Result<(), SinkError>;

    /// Stores the windowed fleet report (batches whose sessions ended within the configured
    /// window) as of the latest completed time. Only called when a window is configured.
    fn write_fleet_window(&mut self, _fleet: &FleetReport) -> Result<(), SinkError> {
        Ok(())
    }
}
