//! Writes: a finished batch with everything that belongs to it, in one transaction.
//!
//! Idempotence: the batch row is inserted if missing, then locked; a batch that is already
//! `completed` or `failed` is left exactly as it is (its report, diagnosis and timestamps
//! unchanged), so a second write of the same batch, or a loser of a race between two
//! writers, changes nothing. A batch found in an earlier state (created by the API at
//! `pending`, or marked `scattering` by a live pipeline) is walked through every
//! intermediate state up to its final one: the database trigger accepts each single step.

use argus_pipeline::report::FinishedBatch;
use serde::{Deserialize, Serialize};

use super::similar::similar_search;
use super::similar_pairs::PAIR_OF_BATCH_SQL;
use super::similar_vectors::vector_of_batch_sql;
use super::{BatchState, Store, begin_write, dialect, insert_and_lock_batch, to_json, tombstoned, with_pool};
use crate::diagnosis::Diagnosis;
use crate::error::{StoreError, to_i64};
use crate::vin::is_vin;

/// Upserts offsets inside the transaction `$tx`; an offset only moves forward. A row at or
/// past the given offset is not touched at all (SQLite fires the forward-only insert
/// trigger before it sees the conflict); the `GREATEST` covers a concurrent writer that
/// moved it meanwhile.
macro_rules! upsert_offsets {
    ($backend:expr, $tx:ident, $offsets:expr) => {
        for offset in $offsets {
            sqlx::query(dialect(
                $backend,
                "INSERT INTO kafka_offsets (topic, partition_id, next_offset) SELECT $1, $2, $3 \
                 WHERE NOT EXISTS (SELECT 1 FROM kafka_offsets \
                                   WHERE topic = $1 AND partition_id = $2 AND next_offset >= $3) \
                 ON CONFLICT (topic, partition_id) DO UPDATE SET \
                 next_offset = GREATEST(kafka_offsets.next_offset, excluded.next_offset), \
                 updated_at_ms = excluded.updated_at_ms",
                "INSERT INTO kafka_offsets (topic, partition_id, next_offset) SELECT $1, $2, $3 \
                 WHERE NOT EXISTS (SELECT 1 FROM kafka_offsets \
                                   WHERE topic = $1 AND partition_id = $2 AND next_offset >= $3) \
                 ON CONFLICT (topic, partition_id) DO UPDATE SET \
                 next_offset = MAX(kafka_offsets.next_offset, excluded.next_offset), \
                 updated_at_ms = excluded.updated_at_ms",
            ))
            .bind(&offset.topic)
            .bind(offset.partition)
            .bind(offset.next_offset)
            .execute(&mut *$tx)
            .await?;
        }
    };
}

/// A Kafka position covered by the reports written with it: the next offset to consume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaOffset {
    pub topic: String,
    pub partition: i32,
    pub next_offset: i64,
}

/// What a batch write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The batch was stored and is now in this (final) state.
    Written(BatchState),
    /// The batch had already been finalised (by an earlier or a concurrent write): nothing
    /// of it changed. Offsets passed along were still recorded.
    AlreadyFinal(BatchState),
    /// `argus prune` removed the batch: its id is tombstoned and nothing is stored (events
    /// of a pruned batch delivered again). Offsets passed along were still recorded.
    Pruned,
}

/// The batch row's values, converted and checked before any SQL runs.
struct BatchRow {
    target: BatchState,
    records: i64,
    error_events: i64,
    first_ts_ns: Option<i64>,
    last_ts_ns: Option<i64>,
    code_norm: f64,
    failure: Option<String>,
    codes: Vec<(String, i64)>,
}

impl BatchRow {
    fn new(batch: &FinishedBatch) -> Result<Self, StoreError> {
        let report = &batch.report;
        let invalid = |reason: String| StoreError::InvalidBatch { batch_id: report.batch_id.clone(), reason };
        let mut codes = Vec::with_capacity(batch.code_counts.len());
        let mut total = 0u64;
        let mut squares = 0f64;
        for (code, count) in &batch.code_counts {
            total = total.saturating_add(*count);
            squares += (*count as f64) * (*count as f64);
            codes.push((code.key(), to_i64(*count, "code count")?));
        }
        // The fleet report sums batch_codes; it must agree with the batch's own total.
        if total != report.error_events {
            return Err(invalid(format!(
                "code counts add up to {total}, error_events is {}",
                report.error_events
            )));
        }
        let target = BatchState::from(report.status);
        let failure = match target {
            BatchState::Failed => Some(
                batch.meta.failure.clone().unwrap_or_else(|| "batch failed (no reason given)".to_owned()),
            ),
            _ => None,
        };
        let ts = |v: Option<u64>, what| v.map(|v| to_i64(v, what)).transpose();
        Ok(Self {
            target,
            records: to_i64(report.records, "records")?,
            error_events: to_i64(report.error_events, "error_events")?,
            first_ts_ns: ts(report.first_ts_ns, "first_ts_ns")?,
            last_ts_ns: ts(report.last_ts_ns, "last_ts_ns")?,
            code_norm: squares.sqrt(),
            failure,
            codes,
        })
    }
}

impl Store {
    /// Stores a finished batch and its diagnosis (see the module comment); equivalent to
    /// [`Store::write_batch_with_offsets`] with no offsets.
    pub async fn write_batch(
        &self,
        batch: &FinishedBatch,
        diagnosis: &Diagnosis,
    ) -> Result<WriteOutcome, StoreError> {
        self.write_batch_with_offsets(batch, diagnosis, &[]).await
    }

    /// Stores a finished batch: status, files, report, code counts and diagnosis (with its
    /// similar batches, searched inside the transaction), and advances the Kafka offsets
    /// it covers, all in one transaction. Offsets never move backwards.
    pub async fn write_batch_with_offsets(
        &self,
        batch: &FinishedBatch,
        diagnosis: &Diagnosis,
        offsets: &[KafkaOffset],
    ) -> Result<WriteOutcome, StoreError> {
        let row = BatchRow::new(batch)?;
        let report = &batch.report;
        let id = report.batch_id.as_str();
        let document = to_json(report)?;
        let top_errors = to_json(&report.top_errors)?;
        let k = i32::try_from(report.k).map_err(|_| StoreError::OutOfRange(format!("k = {}", report.k)))?;
        // The batch row holds an ISO 3779 VIN or none (the database refuses others); a
        // file header may carry any 17 ASCII bytes (rec-format.md), which the report keeps.
        let vin = report.vin.as_deref().filter(|vin| is_vin(vin));
        if vin.is_none() && report.vin.is_some() {
            tracing::debug!(batch_id = id, vin = ?report.vin, "not an ISO 3779 VIN: the batch row keeps none");
        }
        let backend = self.backend();
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin_write(backend)).await?;
            if tombstoned!(tx, id) {
                upsert_offsets!(backend, tx, offsets);
                tx.commit().await?;
                tracing::info!(batch_id = id, "batch was pruned, write skipped");
                return Ok(WriteOutcome::Pruned);
            }
            let (_, current) = insert_and_lock_batch!(backend, tx, id, vin);
            if current.is_terminal() {
                upsert_offsets!(backend, tx, offsets);
                tx.commit().await?;
                tracing::debug!(batch_id = id, status = %current, "batch already final, write skipped");
                return Ok(WriteOutcome::AlreadyFinal(current));
            }
            let Some(path) = current.path_to(row.target) else {
                return Err(StoreError::InvalidBatch {
                    batch_id: id.to_owned(),
                    reason: format!("no legal path from {current} to {}", row.target),
                });
            };

            // What belongs to an open batch goes in first: its counts, files and codes.
            // The database refuses them once the batch is final (migration 0006).
            sqlx::query(
                "UPDATE batches SET vin = COALESCE($2, vin), firmware = $3, records = $4, \
                 error_events = $5, first_ts_ns = $6, last_ts_ns = $7, code_norm = $8, files_parsed = $9, \
                 file_count = CASE WHEN file_count IS NULL OR file_count < $9 THEN $9 ELSE file_count END \
                 WHERE batch_id = $1",
            )
            .bind(id)
            .bind(vin)
            .bind(batch.meta.firmware.as_deref())
            .bind(row.records)
            .bind(row.error_events)
            .bind(row.first_ts_ns)
            .bind(row.last_ts_ns)
            .bind(row.code_norm)
            .bind(i64::try_from(report.files.len()).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
            for file in &report.files {
                sqlx::query(
                    "INSERT INTO files (batch_id, file_id, bytes, status, error, records, error_events, \
                     chunks_good, chunks_corrupt, bytes_skipped, truncated, uri) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (batch_id, file_id) DO UPDATE SET bytes = excluded.bytes, \
                     status = excluded.status, error = excluded.error, records = excluded.records, \
                     error_events = excluded.error_events, chunks_good = excluded.chunks_good, \
                     chunks_corrupt = excluded.chunks_corrupt, bytes_skipped = excluded.bytes_skipped, \
                     truncated = excluded.truncated, uri = excluded.uri",
                )
                .bind(id)
                .bind(&file.file_id)
                .bind(to_i64(file.stats.bytes, "bytes")?)
                .bind(super::read::file_status_str(file.stats.status))
                .bind(file.stats.error.as_deref())
                .bind(to_i64(file.stats.records, "records")?)
                .bind(to_i64(file.stats.error_events, "error_events")?)
                .bind(to_i64(file.stats.chunks_good, "chunks_good")?)
                .bind(to_i64(file.stats.chunks_corrupt, "chunks_corrupt")?)
                .bind(to_i64(file.stats.bytes_skipped, "bytes_skipped")?)
                .bind(file.stats.truncated)
                .bind(batch.meta.locations.get(&file.file_id).map(String::as_str))
                .execute(&mut *tx)
                .await?;
            }
            for (code, events) in &row.codes {
                sqlx::query(
                    "INSERT INTO batch_codes (batch_id, code, events) VALUES ($1, $2, $3) \
                     ON CONFLICT (batch_id, code) DO UPDATE SET events = excluded.events",
                )
                .bind(id)
                .bind(code)
                .bind(events)
                .execute(&mut *tx)
                .await?;
            }

            // Then the status walk: only the final step may set the failure reason (a
            // CHECK ties it to `failed`).
            for (i, step) in path.iter().enumerate() {
                let last = i + 1 == path.len();
                sqlx::query("UPDATE batches SET status = $2, failure = $3 WHERE batch_id = $1")
                    .bind(id)
                    .bind(step.as_str())
                    .bind(if last { row.failure.as_deref() } else { None })
                    .execute(&mut *tx)
                    .await?;
            }

            // What only a final batch has comes last: the report, the postings of a
            // completed batch, the diagnosis. Each is written once.
            sqlx::query(dialect(
                backend,
                "INSERT INTO reports (batch_id, k, document, top_errors) VALUES ($1, $2, $3::json, $4::jsonb)",
                "INSERT INTO reports (batch_id, k, document, top_errors) VALUES ($1, $2, $3, $4)",
            ))
            .bind(id)
            .bind(k)
            .bind(&document)
            .bind(&top_errors)
            .execute(&mut *tx)
            .await?;

            // Similar batches are searched before this batch's own postings go in, among
            // the batches completed before it: the search sees exactly the committed fleet.
            // The postings, the pair index row and the vector (completed batches only)
            // feed the similar search and the filtered fleet query (similar.rs, fleet.rs).
            let mut diagnosis = diagnosis.clone();
            diagnosis.similar_batches = if row.target == BatchState::Completed && row.code_norm > 0.0 {
                let similar = similar_search!(tx, id, &row.codes, row.code_norm);
                sqlx::query(
                    "INSERT INTO completed_codes (batch_id, code, events, weight, vin, firmware, last_ts_ns) \
                     SELECT c.batch_id, c.code, c.events, c.events / b.code_norm, b.vin, b.firmware, b.last_ts_ns \
                     FROM batch_codes c JOIN batches b ON b.batch_id = c.batch_id WHERE c.batch_id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(&PAIR_OF_BATCH_SQL).bind(id).execute(&mut *tx).await?;
                sqlx::query(vector_of_batch_sql(backend)).bind(id).execute(&mut *tx).await?;
                similar
            } else {
                Vec::new()
            };
            let diagnosis_json = to_json(&diagnosis)?;
            sqlx::query(dialect(
                backend,
                "INSERT INTO diagnoses (batch_id, source, fallback_reason, risk, model, document) \
                 VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
                "INSERT INTO diagnoses (batch_id, source, fallback_reason, risk, model, document) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            ))
            .bind(id)
            .bind(diagnosis.source.as_str())
            .bind(diagnosis.fallback_reason.as_deref())
            .bind(diagnosis.risk.as_str())
            .bind(diagnosis.model.as_deref())
            .bind(&diagnosis_json)
            .execute(&mut *tx)
            .await?;
            upsert_offsets!(backend, tx, offsets);
            tx.commit().await?;
            tracing::debug!(batch_id = id, status = %row.target, from = %current, "batch written");
            Ok(WriteOutcome::Written(row.target))
        })
    }

    /// Records Kafka positions on their own (when a time closes without batches to write).
    pub async fn commit_offsets(&self, offsets: &[KafkaOffset]) -> Result<(), StoreError> {
        let backend = self.backend();
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin_write(backend)).await?;
            upsert_offsets!(backend, tx, offsets);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Creates a batch at `pending` (the API's `POST /batches`). Returns false, changing
    /// nothing, when the batch already exists.
    pub async fn create_batch(
        &self,
        batch_id: &str,
        vehicle_id: Option<&str>,
        vin: Option<&str>,
    ) -> Result<bool, StoreError> {
        // An existing id is skipped before the insert: SQLite's guard against `INSERT OR
        // REPLACE` refuses any insert of a final batch's id, DO NOTHING or not.
        let sql = "INSERT INTO batches (batch_id, status, vehicle_id, vin) SELECT $1, 'pending', $2, $3 \
                   WHERE NOT EXISTS (SELECT 1 FROM batches WHERE batch_id = $1) \
                   ON CONFLICT (batch_id) DO NOTHING";
        let done = with_pool!(self, pool => {
            sqlx::query(sql).bind(batch_id).bind(vehicle_id).bind(vin).execute(pool).await?.rows_affected()
        });
        Ok(done == 1)
    }

    /// Moves a batch one step (`uploaded → scattering`, …). The database refuses an illegal
    /// move; a batch that does not exist is an error too.
    pub async fn move_status(
        &self,
        batch_id: &str,
        to: BatchState,
        failure: Option<&str>,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE batches SET status = $2, failure = $3 WHERE batch_id = $1";
        let done = with_pool!(self, pool => {
            sqlx::query(sql).bind(batch_id).bind(to.as_str()).bind(failure).execute(pool).await?.rows_affected()
        });
        if done == 0 {
            return Err(StoreError::InvalidBatch {
                batch_id: batch_id.to_owned(),
                reason: "no such batch".into(),
            });
        }
        Ok(())
    }
}
