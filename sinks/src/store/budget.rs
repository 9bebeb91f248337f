//! The LLM's daily token budget, kept in the database so that every worker and process
//! shares it. A call first reserves its estimate under the batch's id (refused if the day's
//! charge would pass the budget), then settles it with the real usage. The reservation is
//! keyed by batch id: a retried or rewritten batch finds its reservation and is not charged
//! again.

use serde::Serialize;

use super::{Store, begin_write, dialect, with_pool};
use crate::error::{StoreError, to_i64, to_u64};

/// What a reservation attempt got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The estimate is now charged to the day.
    Granted,
    /// The batch was charged before (a retry): go ahead, nothing more is charged.
    AlreadyReserved,
    /// The day's charge plus the estimate would pass the budget.
    Refused { charged: u64, budget: u64 },
}

/// One day's token accounting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenUsage {
    pub day: String,
    /// Sum of the estimates of every reservation.
    pub tokens_estimated: u64,
    /// Sum of the real usage reported by settled calls.
    pub tokens_used: u64,
    /// What counts against the budget: real usage of settled calls, estimates of open ones.
    pub tokens_charged: u64,
    /// Settled calls.
    pub calls: u64,
}

impl Store {
    /// Reserves `estimate` tokens of `day`'s `budget` for `batch_id`.
    pub async fn reserve_tokens(
        &self,
        batch_id: &str,
        day: &str,
        estimate: u64,
        budget: u64,
    ) -> Result<Reservation, StoreError> {
        let estimate_i = to_i64(estimate.max(1), "token estimate")?;
        let backend = self.backend();
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin_write(backend)).await?;
            sqlx::query("INSERT INTO token_usage (day) VALUES ($1) ON CONFLICT (day) DO NOTHING")
                .bind(day)
                .execute(&mut *tx)
                .await?;
            // Locking the day's row serialises reservations of one day across processes.
            let charged: i64 = sqlx::query_scalar(dialect(
                backend,
                "SELECT tokens_charged FROM token_usage WHERE day = $1 FOR UPDATE",
                "SELECT tokens_charged FROM token_usage WHERE day = $1",
            ))
            .bind(day)
            .fetch_one(&mut *tx)
            .await?;
            let existing: Option<String> =
                sqlx::query_scalar("SELECT batch_id FROM llm_reservations WHERE batch_id = $1")
                    .bind(batch_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if existing.is_some() {
                tx.commit().await?;
                return Ok(Reservation::AlreadyReserved);
            }
            let charged = to_u64(charged, "tokens_charged")?;
            if charged.saturating_add(estimate) > budget {
                tx.commit().await?;
                return Ok(Reservation::Refused { charged, budget });
            }
            sqlx::query("INSERT INTO llm_reservations (batch_id, day, tokens_estimated) VALUES ($1, $2, $3)")
                .bind(batch_id)
                .bind(day)
                .bind(estimate_i)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE token_usage SET tokens_estimated = tokens_estimated + $2, \
                 tokens_charged = tokens_charged + $2 WHERE day = $1",
            )
            .bind(day)
            .bind(estimate_i)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Reservation::Granted)
        })
    }

    /// Replaces a reservation's estimate by the real usage. Returns false, changing
    /// nothing, when the reservation was settled before (a retried call) or never made.
    pub async fn settle_tokens(&self, batch_id: &str, used: u64, outcome: &str) -> Result<bool, StoreError> {
        let used = to_i64(used, "tokens used")?;
        let backend = self.backend();
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin_write(backend)).await?;
            let row: Option<(String, i64, Option<String>)> = sqlx::query_as(dialect(
                backend,
                "SELECT day, tokens_estimated, outcome FROM llm_reservations WHERE batch_id = $1 FOR UPDATE",
                "SELECT day, tokens_estimated, outcome FROM llm_reservations WHERE batch_id = $1",
            ))
            .bind(batch_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((day, estimated, None)) = row else {
                tx.commit().await?;
                return Ok(false);
            };
            sqlx::query("UPDATE llm_reservations SET tokens_used = $2, outcome = $3 WHERE batch_id = $1")
                .bind(batch_id)
                .bind(used)
                .bind(outcome)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE token_usage SET tokens_used = tokens_used + $2, \
                 tokens_charged = tokens_charged - $3 + $2, calls = calls + 1 WHERE day = $1",
            )
            .bind(&day)
            .bind(used)
            .bind(estimated)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The accounting of one day (`YYYY-MM-DD`, UTC), if anything was reserved that day.
    pub async fn token_usage(&self, day: &str) -> Result<Option<TokenUsage>, StoreError> {
        let sql = "SELECT day, tokens_estimated, tokens_used, tokens_charged, calls FROM token_usage WHERE day = $1";
        let row: Option<(String, i64, i64, i64, i64)> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(day).fetch_optional(pool).await?);
        row.map(|(day, estimated, used, charged, calls)| {
            Ok(TokenUsage {
                day,
                tokens_estimated: to_u64(estimated, "tokens_estimated")?,
                tokens_used: to_u64(used, "tokens_used")?,
                tokens_charged: to_u64(charged, "tokens_charged")?,
                calls: to_u64(calls, "calls")?,
            })
        })
        .transpose()
    }
}
