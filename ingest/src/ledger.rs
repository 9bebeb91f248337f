//! What the Kafka feed needs of the report store, as a trait: `ingest` does not depend on
//! `sinks` (they are siblings), so the `argus` command implements it over the store.

use std::future::Future;

use argus_pipeline::Position;

/// An error of the ledger (the store): transient unless the store says otherwise; the
/// feed retries with backoff.
pub type LedgerError = Box<dyn std::error::Error + Send + Sync>;

/// A status step the feed sees happen (spec: `scattering` at a batch's first event,
/// `gathering` when all its files are in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStep {
    Scattering,
    Gathering,
}

/// The durable record the feed consults and advances.
pub trait Ledger: Send + Sync + 'static {
    /// The commit points recorded for `topic`: where a restart resumes.
    fn stored_offsets(&self, topic: &str) -> impl Future<Output = Result<Vec<Position>, LedgerError>> + Send;

    /// Whether the batch is already final (`completed` or `failed`) in the store: its
    /// events are then passed over, neither reported nor counted again.
    fn is_final(&self, batch_id: &str) -> impl Future<Output = Result<bool, LedgerError>> + Send;

    /// Records commit points, forward only.
    fn record_offsets(
        &self,
        topic: &str,
        points: &[Position],
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// Commits a status step of a batch (forward only; a batch past it is left alone).
    fn batch_step(
        &self,
        batch_id: &str,
        step: BatchStep,
        vin: Option<&str>,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
}
