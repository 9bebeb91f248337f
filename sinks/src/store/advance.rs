//! Forward-only status steps (`scattering`, `gathering`, `diagnosing`), committed when
//! they happen so that readers see a batch move. Several parts of the system step the
//! same batch, in no agreed order (the ingest when files arrive, the writer before it
//! diagnoses, a second writer after a restart): a step never moves a batch backwards and
//! never touches a final one, and concurrent steps serialise on the batch row.

use super::{BatchState, Store, begin_write, insert_and_lock_batch, tombstoned, with_pool};
use crate::error::StoreError;

impl Store {
    /// Moves a batch forward to `to` (a working state, not `pending` and not final)
    /// through every legal single step, inserting it at `uploaded` when it is missing. A
    /// batch already at or past `to`, or final, or pruned (its id tombstoned), is left
    /// alone. Returns whether the batch changed (inserted or moved).
    pub async fn advance_status(&self, batch_id: &str, to: BatchState) -> Result<bool, StoreError> {
        if to.is_terminal() || to == BatchState::Pending {
            return Err(StoreError::InvalidBatch {
                batch_id: batch_id.to_owned(),
                reason: format!("a status step goes to a working state, not to {to}"),
            });
        }
        let backend = self.backend();
        with_pool!(self, pool => {
            // SQLite: BEGIN IMMEDIATE takes the write lock before the read, so two steppers
            // queue instead of both reading the old state. Postgres: the row lock below.
            let mut tx = pool.begin_with(begin_write(backend)).await?;
            if tombstoned!(tx, batch_id) {
                tracing::debug!(batch_id, "batch was pruned, status step skipped");
                return Ok(false);
            }
            let (inserted, current) = insert_and_lock_batch!(backend, tx, batch_id, None::<&str>);
            let path = if current.precedes(to) { current.path_to(to).unwrap_or_default() } else { Vec::new() };
            debug_assert!(!current.precedes(to) || !path.is_empty(), "{current} precedes {to} without a path");
            for step in &path {
                sqlx::query("UPDATE batches SET status = $2 WHERE batch_id = $1")
                    .bind(batch_id)
                    .bind(step.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            if !path.is_empty() {
                tracing::debug!(batch_id, from = %current, to = %to, "status advanced");
            }
            Ok(inserted || !path.is_empty())
        })
    }
}
