//! The pipeline's report writer over a [`Store`]: diagnose, then write everything of the
//! batch in one transaction.

use std::sync::Arc;

use argus_pipeline::report::{FinishedBatch, FleetReport};
use argus_pipeline::sink::{ReportWriter, SinkError};
use tokio::runtime::Handle;

use crate::diagnosis::Diagnoser;
use crate::error::StoreError;
use crate::store::{KafkaOffset, Store, WriteOutcome};

/// Diagnoses and stores a finished batch (and the Kafka offsets it covers). A batch that
/// is already final is neither diagnosed again nor charged to the LLM budget; the offsets
/// are still recorded.
pub async fn write_finished_batch(
    store: &Store,
    diagnoser: &Diagnoser,
    batch: &FinishedBatch,
    offsets: &[KafkaOffset],
) -> Result<WriteOutcome, StoreError> {
    let id = batch.report.batch_id.as_str();
    if let Some(status) = store.get_status(id).await?.filter(|s| s.is_terminal()) {
        if !offsets.is_empty() {
            store.commit_offsets(offsets).await?;
        }
        tracing::debug!(batch_id = id, status = %status, "batch already stored");
        return Ok(WriteOutcome::AlreadyFinal(status));
    }
    let diagnosis = diagnoser.diagnose(store, batch).await;
    // A concurrent writer may have finished the batch meanwhile: the transaction sees it
    // and leaves the batch alone.
    store.write_batch_with_offsets(batch, &diagnosis, offsets).await
}

/// A [`ReportWriter`] that stores batches in a [`Store`]. The pipeline calls it from timely
/// worker threads (never from async code), so it blocks on `handle`, which must belong to
/// a multi-thread tokio runtime: the one the store was opened on.
#[derive(Debug, Clone)]
pub struct StoreWriter {
    store: Store,
    diagnoser: Arc<Diagnoser>,
    handle: Handle,
}

impl StoreWriter {
    pub fn new(store: Store, diagnoser: Arc<Diagnoser>, handle: Handle) -> Self {
        Self { store, diagnoser, handle }
    }
}

impl ReportWriter for StoreWriter {
    fn write_batch(&mut self, batch: &FinishedBatch) -> Result<(), SinkError> {
        let outcome = self.handle.block_on(write_finished_batch(&self.store, &self.diagnoser, batch, &[]))?;
        tracing::debug!(batch_id = %batch.report.batch_id, outcome = ?outcome, "batch stored");
        Ok(())
    }

    /// Nothing to store: the fleet report is a query over the stored batches
    /// (`Store::fleet_top_errors`, over `batch_codes`), which covers every completed batch
    /// and, unlike a snapshot, any window, VIN or firmware filter the API asks for.
    fn write_fleet(&mut self, _fleet: &FleetReport) -> Result<(), SinkError> {
        Ok(())
    }
}
