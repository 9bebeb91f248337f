//! The pipeline's report writer over a [`Store`]: commit `diagnosing`, diagnose, then
//! write everything of the batch in one transaction, on the store's tokio runtime, never
//! on the timely worker.

use std::sync::Arc;

use argus_pipeline::report::{FinishedBatch, FleetReport};
use argus_pipeline::sink::{ReportWriter, SinkError};
use argus_pipeline::{BatchAck, Metrics};
use tokio::runtime::Handle;

use crate::diagnosis::Diagnoser;
use crate::error::StoreError;
use crate::fleet_writer::FleetRowWriter;
use crate::progress_writer::ProgressWriter;
use crate::retry::{Backoff, GaveUp, retrying};
use crate::store::{BatchState, FleetView, KafkaOffset, Store, WriteOutcome};

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
    if let Some(outcome) = begin_diagnosis(store, id).await? {
        if !offsets.is_empty() {
            store.commit_offsets(offsets).await?;
        }
        return Ok(outcome);
    }
    let diagnosis = diagnoser.diagnose(store, batch).await;
    // A concurrent writer may have finished the batch meanwhile: the transaction sees it
    // and leaves the batch alone.
    store.write_batch_with_offsets(batch, &diagnosis, offsets).await
}

/// Commits `diagnosing` for a batch about to be diagnosed, so that readers see the step
/// while the (possibly slow) diagnosis runs. Returns the outcome instead when the batch is
/// already final or was pruned: then there is nothing to diagnose.
async fn begin_diagnosis(store: &Store, batch_id: &str) -> Result<Option<WriteOutcome>, StoreError> {
    match store.get_status(batch_id).await? {
        Some(status) if status.is_terminal() => {
            tracing::debug!(batch_id, status = %status, "batch already stored");
            return Ok(Some(WriteOutcome::AlreadyFinal(status)));
        }
        None if store.is_pruned(batch_id).await? => {
            tracing::info!(batch_id, "batch was pruned: not stored again");
            return Ok(Some(WriteOutcome::Pruned));
        }
        _ => {}
    }
    store.advance_status(batch_id, BatchState::Diagnosing).await?;
    Ok(None)
}

/// A [`ReportWriter`] that stores batches in a [`Store`]. `write_batch` only spawns the
/// batch's work on `handle` (a runtime that outlives the run: the one the store was opened
/// on) and returns, so the timely worker goes on parsing while an LLM call or a store that
/// is down holds one batch; batches are stored concurrently, each acknowledged when its
/// transaction committed. Transient store failures are retried with `backoff` (each retry
/// counted in `Metrics::store_write_retries`) for as long as the run waits; a batch the
/// store refuses (invalid, a constraint) fails its ack, which stops the run.
#[derive(Debug, Clone)]
pub struct StoreWriter {
    store: Store,
    diagnoser: Arc<Diagnoser>,
    handle: Handle,
    metrics: Arc<Metrics>,
    backoff: Backoff,
    fleet: FleetRowWriter,
    fleet_window: FleetRowWriter,
    progress: ProgressWriter,
}

impl StoreWriter {
    pub fn new(store: Store, diagnoser: Arc<Diagnoser>, handle: Handle, metrics: Arc<Metrics>) -> Self {
        Self::with_parts(store, diagnoser, handle, metrics, Backoff::default())
    }

    /// Waits between retries of a failed store call.
    pub fn with_backoff(self, backoff: Backoff) -> Self {
        Self::with_parts(self.store, self.diagnoser, self.handle, self.metrics, backoff)
    }

    fn with_parts(
        store: Store,
        diagnoser: Arc<Diagnoser>,
        handle: Handle,
        metrics: Arc<Metrics>,
        backoff: Backoff,
    ) -> Self {
        let fleet_row = |view| FleetRowWriter::new(store.clone(), view, handle.clone(), backoff);
        let (fleet, fleet_window) = (fleet_row(FleetView::AllTime), fleet_row(FleetView::Window));
        let progress = ProgressWriter::new(store.clone(), &handle);
        Self { store, diagnoser, handle, metrics, backoff, fleet, fleet_window, progress }
    }

    /// Stores one batch, retrying transient failures; diagnoses it at most once.
    async fn store_batch(&self, batch: &FinishedBatch, ack: &BatchAck) -> Result<WriteOutcome, GaveUp> {
        let id = batch.report.batch_id.as_str();
        let (backoff, retries) = (self.backoff, &self.metrics.store_write_retries);
        let awaited = || ack.is_awaited();
        let begun =
            retrying("diagnosing step", id, backoff, retries, awaited, || begin_diagnosis(&self.store, id));
        if let Some(outcome) = begun.await? {
            return Ok(outcome);
        }
        let diagnosis = self.diagnoser.diagnose(&self.store, batch).await;
        retrying("batch write", id, backoff, retries, awaited, || self.store.write_batch(batch, &diagnosis))
            .await
    }
}

impl ReportWriter for StoreWriter {
    fn write_batch(&mut self, batch: Arc<FinishedBatch>, ack: BatchAck) {
        let writer = self.clone();
        self.handle.spawn(async move {
            let id = batch.report.batch_id.as_str();
            match writer.store_batch(&batch, &ack).await {
                Ok(outcome) => {
                    tracing::debug!(batch_id = id, outcome = ?outcome, "batch stored");
                    if let Some(first_event_ms) = batch.meta.first_event_ms {
                        let latency_ms = argus_pipeline::now_ms().saturating_sub(first_event_ms);
                        metrics::histogram!("argus_batch_latency_seconds").record(latency_ms as f64 / 1000.0);
                    }
                    ack.durable();
                }
                Err(GaveUp::Refused(error)) => {
                    tracing::error!(batch_id = id, %error, "the store refused the batch");
                    ack.fail(Box::new(error) as SinkError);
                }
                // The run is over: nobody reads the ack; dropping it says so.
                Err(GaveUp::Abandoned) => drop(ack),
            }
        });
    }

    /// Hands the report to the latest-wins writer of the store's fleet rows (the API
    /// serves them; filtered fleet queries run over `batch_codes`). Returns at once: the
    /// rows are derived state, rebuilt from the stored batches after a restart.
    fn write_fleet(&mut self, fleet: &FleetReport) -> Result<(), SinkError> {
        self.fleet.write(fleet);
        Ok(())
    }

    fn file_parsed(&mut self, batch_id: &str, files_parsed: u32, file_count: u32) {
        self.progress.file_parsed(batch_id, files_parsed, file_count);
    }

    fn write_fleet_window(&mut self, fleet: &FleetReport) -> Result<(), SinkError> {
        self.fleet_window.write(fleet);
        Ok(())
    }
}
