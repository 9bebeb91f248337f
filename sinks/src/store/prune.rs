//! Retention (`argus prune`): the only way a final batch leaves the store.
//!
//! A batch is pruned when it has been final for longer than the given age: its
//! `updated_at_ms`, which the database stamps when the batch becomes final and which
//! nothing changes afterwards (a final row is immutable), is older than the cutoff. The
//! completion time, not the last record's time: record timestamps are the vehicle's clock,
//! absent from batches without records, and say nothing about how long the store has held
//! the report.
//!
//! Pruning deletes the batch row; its files, codes, report, diagnosis, uploads and postings
//! go with it (ON DELETE CASCADE), and a tombstone keeps its id, which the database then
//! refuses to insert again. The database refuses these deletes outside a prune transaction
//! (migration 0006), which marks itself: Postgres sets `argus.pruning` for the transaction
//! only, SQLite holds the one row of `prune_in_progress` until it commits. The fleet
//! reports the dataflow wrote (`fleet_reports`) are left as they are (sinks/README.md,
//! "Retention").
//!
//! The uploaded files of a pruned batch live in the object store, which no transaction
//! spans: the prune transaction lists their uris in `pruned_objects` (migration 0014),
//! and `argus prune` deletes the objects after it commits and then forgets them
//! ([`Store::pruned_objects`], [`Store::forget_pruned_objects`]). An object store that
//! fails or a crash in between leaves the list for the next prune to finish.

use std::time::Duration;

use super::{Backend, Store, begin_write, dialect, with_pool};
use crate::error::StoreError;

/// How many batches one prune transaction removes: the locks and the cascade stay small
/// whatever the backlog.
const CHUNK: i64 = 500;

/// What a prune removed, or would remove on a dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    pub batches: u64,
    /// The uploaded objects of those batches, listed for deletion from the object store.
    pub objects: u64,
}

/// An uploaded object of a pruned batch, listed until deleted from the object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunedObject {
    pub pruned_at_ms: i64,
    /// The upload's uri: relative to the object store's root.
    pub uri: String,
}

/// The final batches that became final more than `$1` milliseconds ago, by the database
/// clock.
fn due_sql(backend: Backend) -> &'static str {
    dialect(
        backend,
        "FROM batches WHERE status IN ('completed', 'failed') AND updated_at_ms < argus_now_ms() - $1",
        "FROM batches WHERE status IN ('completed', 'failed') \
         AND updated_at_ms < CAST(unixepoch('subsec') * 1000 AS INTEGER) - $1",
    )
}

impl Store {
    /// Whether `argus prune` removed the batch (its id is tombstoned).
    pub async fn is_pruned(&self, batch_id: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM batch_tombstones WHERE batch_id = $1";
        let n: i64 = with_pool!(self, pool => sqlx::query_scalar(sql).bind(batch_id).fetch_one(pool).await?);
        Ok(n > 0)
    }

    /// How many batches [`Store::prune`] would remove now, and how many uploaded objects
    /// it would list (a dry run).
    pub async fn prunable(&self, older_than: Duration) -> Result<Pruned, StoreError> {
        let due = due_sql(self.backend());
        let sql = format!(
            "SELECT (SELECT COUNT(*) {due}), \
             (SELECT COUNT(*) FROM uploads WHERE batch_id IN (SELECT batch_id {due}))"
        );
        let age = age_ms(older_than);
        let (batches, objects): (i64, i64) =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(age).fetch_one(pool).await?);
        let count = |n: i64| u64::try_from(n).unwrap_or_default();
        Ok(Pruned { batches: count(batches), objects: count(objects) })
    }

    /// Uploaded objects of pruned batches not yet deleted from the object store, oldest
    /// first, from the one after `after` (from the first with `None`), at most `limit`.
    pub async fn pruned_objects(
        &self,
        after: Option<&PrunedObject>,
        limit: u32,
    ) -> Result<Vec<PrunedObject>, StoreError> {
        let sql = "SELECT pruned_at_ms, uri FROM pruned_objects WHERE (pruned_at_ms, uri) > ($1, $2) \
                   ORDER BY pruned_at_ms, uri LIMIT $3";
        // Before every row: `pruned_at_ms` is a time since 1970.
        let (at, uri) = after.map_or((-1, ""), |a| (a.pruned_at_ms, a.uri.as_str()));
        let rows: Vec<(i64, String)> = with_pool!(self, pool => {
            sqlx::query_as(sql).bind(at).bind(uri).bind(i64::from(limit)).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|(pruned_at_ms, uri)| PrunedObject { pruned_at_ms, uri }).collect())
    }

    /// How many uploaded objects of pruned batches are still to delete.
    pub async fn pruned_object_count(&self) -> Result<u64, StoreError> {
        let sql = "SELECT COUNT(*) FROM pruned_objects";
        let n: i64 = with_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?);
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// Forgets objects of pruned batches once deleted from the object store.
    pub async fn forget_pruned_objects(&self, uris: &[String]) -> Result<(), StoreError> {
        let sql = dialect(
            self.backend(),
            "DELETE FROM pruned_objects WHERE uri IN (SELECT json_array_elements_text($1::json))",
            "DELETE FROM pruned_objects WHERE uri IN (SELECT value FROM json_each($1))",
        );
        let json = super::to_json(uris)?;
        with_pool!(self, pool => { sqlx::query(sql).bind(json).execute(pool).await?; });
        Ok(())
    }

    /// Removes every batch that has been final for longer than `older_than`, with
    /// everything that belongs to it, and tombstones its id; [`CHUNK`] batches per
    /// transaction, oldest first.
    pub async fn prune(&self, older_than: Duration) -> Result<Pruned, StoreError> {
        let age = age_ms(older_than);
        let mut pruned = Pruned::default();
        loop {
            let chunk = self.prune_chunk(age).await?;
            pruned.batches += chunk.batches;
            pruned.objects += chunk.objects;
            if chunk.batches < CHUNK as u64 {
                tracing::info!(batches = pruned.batches, objects = pruned.objects, "prune done");
                return Ok(pruned);
            }
        }
    }

    async fn prune_chunk(&self, age_ms: i64) -> Result<Pruned, StoreError> {
        let backend = self.backend();
        let due = format!(
            "SELECT batch_id {} ORDER BY updated_at_ms, batch_id LIMIT $2{}",
            due_sql(backend),
            dialect(backend, " FOR UPDATE", "")
        );
        let tombstone = dialect(
            backend,
            "INSERT INTO batch_tombstones (batch_id) SELECT json_array_elements_text($1::json)",
            "INSERT INTO batch_tombstones (batch_id) SELECT value FROM json_each($1)",
        );
        let list_objects = dialect(
            backend,
            "INSERT INTO pruned_objects (uri) SELECT uri FROM uploads \
             WHERE batch_id IN (SELECT json_array_elements_text($1::json)) ON CONFLICT DO NOTHING",
            "INSERT INTO pruned_objects (uri) SELECT uri FROM uploads \
             WHERE batch_id IN (SELECT value FROM json_each($1)) ON CONFLICT DO NOTHING",
        );
        let delete = dialect(
            backend,
            "DELETE FROM batches WHERE batch_id IN (SELECT json_array_elements_text($1::json))",
            "DELETE FROM batches WHERE batch_id IN (SELECT value FROM json_each($1))",
        );
        let mark = dialect(
            backend,
            "SELECT set_config('argus.pruning', 'on', true)",
            "INSERT INTO prune_in_progress (only_row) VALUES (1)",
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin_write(backend)).await?;
            sqlx::query(mark).execute(&mut *tx).await?;
            let ids: Vec<String> = sqlx::query_scalar(&due).bind(age_ms).bind(CHUNK).fetch_all(&mut *tx).await?;
            let json = serde_json::to_string(&ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query(tombstone).bind(&json).execute(&mut *tx).await?;
            let objects = sqlx::query(list_objects).bind(&json).execute(&mut *tx).await?.rows_affected();
            let removed = sqlx::query(delete).bind(&json).execute(&mut *tx).await?.rows_affected();
            if backend == Backend::Sqlite {
                sqlx::query("DELETE FROM prune_in_progress").execute(&mut *tx).await?;
            }
            tx.commit().await?;
            if removed > 0 {
                tracing::debug!(batches = removed, objects, first = %ids[0], "pruned");
            }
            Ok(Pruned { batches: removed, objects })
        })
    }
}

/// The age in milliseconds, capped so that `now - age` cannot overflow in SQL (the cap is
/// some 146 million years: nothing is that old).
fn age_ms(age: Duration) -> i64 {
    i64::try_from(age.as_millis()).unwrap_or(i64::MAX).min(i64::MAX / 2)
}
