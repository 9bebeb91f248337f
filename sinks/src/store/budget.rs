//! The LLM's daily token budget, kept in the database so that every worker and process
//! shares it. Every call first reserves its estimate (refused if the day's charge would
//! pass the budget), then settles it with the real usage. Reservations are per call,
//! numbered per batch (`attempt`): a batch retried after a crash, and a transient error
//! retried, call the LLM again and are charged again, so the day's charge bounds what was
//! really spent. A reservation never settled (the process died during the call) stays
//! charged at its estimate, since the call may have been made.

use serde::Serialize;

use super::{Store, begin_write, dialect, with_pool};
use crate::error::{StoreError, to_i64, to_u32, to_u64};

/// What a reservation attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The estimate is now charged to the day: make the call, then settle the ticket.
    Granted(CallTicket),
    /// The day's charge plus the estimate would pass the budget.
    Refused { charged: u64, budget: u64 },
}

/// One reserved call, to be settled once with [`Store::settle_tokens`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTicket {
    pub batch_id: String,
    /// The batch's calls so far, this one included (1 for its first).
    pub attempt: u32,
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
            let previous: Option<i32> =
                sqlx::query_scalar("SELECT MAX(attempt) FROM llm_reservations WHERE batch_id = $1")
                    .bind(batch_id)
                    .fetch_one(&mut *tx)
                    .await?;
            let attempt = previous.unwrap_or(0) + 1;
            let charged = to_u64(charged, "tokens_charged")?;
            if charged.saturating_add(estimate) > budget {
                tx.commit().await?;
                return Ok(Reservation::Refused { charged, budget });
            }
            sqlx::query(
                "INSERT INTO llm_reservations (batch_id, attempt, day, tokens_estimated) VALUES ($1, $2, $3, $4)",
            )
            .bind(batch_id)
            .bind(attempt)
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
            let attempt = to_u32(i64::from(attempt), "llm call attempt")?;
            Ok(Reservation::Granted(CallTicket { batch_id: batch_id.to_owned(), attempt }))
        })
    }

    /// Replaces a call's estimate by its real usage. Returns false, changing nothing, when
    /// the call was settled before or never reserved.
    pub async fn settle_tokens(
        &self,
        ticket: &CallTicket,
        used: u64,
        outcome: &str,
    ) -> Result<bool, StoreError> {
        let CallTicket { batch_id, attempt } = ticket;
        let attempt = i32::try_from(*attempt)
            .map_err(|_| StoreError::OutOfRange(format!("llm call attempt = {attempt}")))?;
        let used = to_i64(used, "tokens used")?;
        let backend = self.backend();
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin_write(backend)).await?;
            let row: Option<(String, i64, Option<String>)> = sqlx::query_as(dialect(
                backend,
                "SELECT day, tokens_estimated, outcome FROM llm_reservations \
                 WHERE batch_id = $1 AND attempt = $2 FOR UPDATE",
                "SELECT day, tokens_estimated, outcome FROM llm_reservations WHERE batch_id = $1 AND attempt = $2",
            ))
            .bind(batch_id)
            .bind(attempt)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((day, estimated, None)) = row else {
                tx.commit().await?;
                return Ok(false);
            };
            sqlx::query(
                "UPDATE llm_reservations SET tokens_used = $3, outcome = $4 WHERE batch_id = $1 AND attempt = $2",
            )
            .bind(batch_id)
            .bind(attempt)
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
