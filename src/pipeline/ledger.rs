//! The Kafka feed's [`Ledger`] over the report store.

use argus_ingest::kafka::{BatchStep, Ledger, LedgerError};
use argus_pipeline::Position;
use argus_sinks::Store;
use argus_sinks::store::{BatchState, KafkaOffset};

/// The report store as the feed's ledger of commit points and batch states.
#[derive(Debug, Clone)]
pub struct StoreLedger(pub Store);

impl Ledger for StoreLedger {
    async fn stored_offsets(&self, topic: &str) -> Result<Vec<Position>, LedgerError> {
        let offsets = self.0.kafka_offsets(topic).await?;
        Ok(offsets.into_iter().map(|o| Position { partition: o.partition, offset: o.next_offset }).collect())
    }

    async fn is_final(&self, batch_id: &str) -> Result<bool, LedgerError> {
        Ok(self.0.get_status(batch_id).await?.is_some_and(BatchState::is_terminal))
    }

    async fn record_offsets(&self, topic: &str, points: &[Position]) -> Result<(), LedgerError> {
        let offsets: Vec<KafkaOffset> = points
            .iter()
            .map(|p| KafkaOffset { topic: topic.to_owned(), partition: p.partition, next_offset: p.offset })
            .collect();
        Ok(self.0.commit_offsets(&offsets).await?)
    }

    async fn batch_step(
        &self,
        batch_id: &str,
        step: BatchStep,
        _vin: Option<&str>,
    ) -> Result<(), LedgerError> {
        let to = match step {
            BatchStep::Scattering => BatchState::Scattering,
            BatchStep::Gathering => BatchState::Gathering,
        };
        self.0.advance_status(batch_id, to).await?;
        Ok(())
    }
}
