//! A vehicle's batches a page at a time, newest first: keyset paging on
//! `(created_at_ms, batch_id)`, so a page costs the same however deep it is and batches
//! created meanwhile neither shift nor repeat the following pages.

use sqlx::Row;

use super::{BatchSummary, Store, byte_order, with_pool};
use crate::error::{StoreError, to_u64};

/// Where a page ends: the last batch of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchCursor {
    pub created_at_ms: i64,
    pub batch_id: String,
}

impl Store {
    /// Up to `limit` batches of a VIN, newest first, strictly after `after` when given.
    pub async fn list_batches_for_vin_page(
        &self,
        vin: &str,
        limit: u32,
        after: Option<&BatchCursor>,
    ) -> Result<Vec<BatchSummary>, StoreError> {
        let order = byte_order(self.backend());
        let sql = format!(
            "SELECT batch_id, status, records, error_events, first_ts_ns, last_ts_ns, created_at_ms \
             FROM batches WHERE vin = $1 AND ($2 IS NULL OR created_at_ms < $2 \
             OR (created_at_ms = $2 AND batch_id{order} < $3)) \
             ORDER BY created_at_ms DESC, batch_id{order} DESC LIMIT $4"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(&sql)
                .bind(vin)
                .bind(after.map(|c| c.created_at_ms))
                .bind(after.map(|c| c.batch_id.as_str()))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    let ts = |v: Option<i64>| v.map(|v| to_u64(v, "timestamp")).transpose();
                    Ok(BatchSummary {
                        batch_id: row.try_get("batch_id")?,
                        status: row.try_get::<String, _>("status")?.parse()?,
                        records: to_u64(row.try_get("records")?, "records")?,
                        error_events: to_u64(row.try_get("error_events")?, "error_events")?,
                        first_ts_ns: ts(row.try_get("first_ts_ns")?)?,
                        last_ts_ns: ts(row.try_get("last_ts_ns")?)?,
                        created_at_ms: row.try_get("created_at_ms")?,
                    })
                })
                .collect()
        })
    }
}
