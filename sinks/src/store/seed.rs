//! What a restart counts into the fleet before anything new: every completed batch's
//! fleet entry, read back from the rows its write stored.

use std::collections::HashMap;

use argus_parser::ErrorCode;
use argus_pipeline::fleet::FleetEntry;

use super::{Store, with_pool};
use crate::error::StoreError;

/// A completed batch's row: id, VIN, records, error events, first and last timestamps.
type BatchRow = (String, Option<String>, i64, i64, Option<i64>, Option<i64>);

impl Store {
    /// The fleet entries of every completed batch (failed batches count for nothing),
    /// in batch-id order. They re-seed the dataflow's fleet Top-K after a restart, so
    /// that its fleet report equals the one of a run that never stopped.
    pub async fn fleet_seed(&self) -> Result<Vec<FleetEntry>, StoreError> {
        let batches_sql = "SELECT batch_id, vin, records, error_events, first_ts_ns, last_ts_ns \
                           FROM batches WHERE status = 'completed' ORDER BY batch_id";
        let codes_sql = "SELECT c.batch_id, c.code, c.events FROM batch_codes c \
                         JOIN batches b ON b.batch_id = c.batch_id WHERE b.status = 'completed'";
        let (batches, codes): (Vec<BatchRow>, Vec<(String, String, i64)>) = with_pool!(self, pool => {
            (sqlx::query_as(batches_sql).fetch_all(pool).await?, sqlx::query_as(codes_sql).fetch_all(pool).await?)
        });
        let mut by_batch: HashMap<String, Vec<(ErrorCode, u64)>> = HashMap::new();
        for (batch_id, code, events) in codes {
            let parsed =
                code.parse::<ErrorCode>().map_err(|_| corrupt(&batch_id, &format!("code {code:?}")))?;
            by_batch.entry(batch_id).or_default().push((parsed, unsigned(events, "events")?));
        }
        batches
            .into_iter()
            .map(|(batch_id, vin, records, error_events, first, last)| {
                let mut code_counts = by_batch.remove(&batch_id).unwrap_or_default();
                code_counts.sort_unstable();
                Ok(FleetEntry {
                    vin,
                    records: unsigned(records, "records")?,
                    error_events: unsigned(error_events, "error_events")?,
                    first_ts_ns: first.map(|t| unsigned(t, "first_ts_ns")).transpose()?,
                    last_ts_ns: last.map(|t| unsigned(t, "last_ts_ns")).transpose()?,
                    code_counts,
                })
            })
            .collect()
    }
}

fn unsigned(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what}: {value}")))
}

fn corrupt(batch_id: &str, what: &str) -> StoreError {
    StoreError::Corrupt(format!("batch {batch_id}: unreadable {what}"))
}
