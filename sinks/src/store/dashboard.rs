//! What the fleet dashboard shows beside the fleet report: how many batches are in each
//! status, and the latest batches with the risk their diagnosis gave them.

use serde::Serialize;
use sqlx::Row;

use super::{BatchState, Store, byte_order, with_pool};
use crate::diagnosis::RiskLevel;
use crate::error::{StoreError, to_u64};

/// One line of the latest batches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentBatch {
    pub batch_id: String,
    pub status: BatchState,
    pub vin: Option<String>,
    pub vehicle_id: Option<String>,
    pub error_events: u64,
    /// The diagnosis' risk, once the batch is diagnosed.
    pub risk: Option<RiskLevel>,
    pub created_at_ms: i64,
}

impl Store {
    /// The number of batches in each status that has any, in the state machine's order.
    pub async fn count_batches_by_status(&self) -> Result<Vec<(BatchState, u64)>, StoreError> {
        let sql = "SELECT status, COUNT(*) FROM batches GROUP BY status";
        let rows: Vec<(String, i64)> = with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        let mut counts = rows
            .into_iter()
            .map(|(status, count)| Ok((status.parse::<BatchState>()?, to_u64(count, "count")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        counts.sort_by_key(|(status, _)| BatchState::ALL.iter().position(|s| s == status));
        Ok(counts)
    }

    /// The `limit` batches created last, newest first, with their diagnosis' risk.
    pub async fn latest_batches(&self, limit: u32) -> Result<Vec<RecentBatch>, StoreError> {
        let order = byte_order(self.backend());
        let sql = format!(
            "SELECT b.batch_id, b.status, b.vin, b.vehicle_id, b.error_events, b.created_at_ms, d.risk \
             FROM batches b LEFT JOIN diagnoses d ON d.batch_id = b.batch_id \
             ORDER BY b.created_at_ms DESC, b.batch_id{order} DESC LIMIT $1"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(&sql).bind(i64::from(limit)).fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok(RecentBatch {
                        batch_id: row.try_get("batch_id")?,
                        status: row.try_get::<String, _>("status")?.parse()?,
                        vin: row.try_get("vin")?,
                        vehicle_id: row.try_get("vehicle_id")?,
                        error_events: to_u64(row.try_get("error_events")?, "error_events")?,
                        risk: row.try_get::<Option<String>, _>("risk")?.as_deref().map(risk_from_str).transpose()?,
                        created_at_ms: row.try_get("created_at_ms")?,
                    })
                })
                .collect()
        })
    }
}

fn risk_from_str(s: &str) -> Result<RiskLevel, StoreError> {
    [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High, RiskLevel::Critical]
        .into_iter()
        .find(|risk| risk.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown risk {s:?}")))
}
