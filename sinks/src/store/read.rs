//! Reads for the REST API: a report, a batch with its files, a vehicle's batches, a
//! diagnosis, and the stored Kafka positions.

use argus_parser::{FileStats, FileStatus};
use argus_pipeline::report::{BatchReport, FileEntry};
use serde::Serialize;
use sqlx::Row;

use super::{BatchState, KafkaOffset, Store, byte_order, dialect, with_pool};
use crate::diagnosis::Diagnosis;
use crate::error::{StoreError, to_u32, to_u64};

/// A batch as stored, with its files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredBatch {
    pub batch_id: String,
    pub status: BatchState,
    pub vin: Option<String>,
    pub vehicle_id: Option<String>,
    pub firmware: Option<String>,
    pub records: u64,
    pub error_events: u64,
    pub first_ts_ns: Option<u64>,
    pub last_ts_ns: Option<u64>,
    pub failure: Option<String>,
    /// Files the batch declares, once known.
    pub file_count: Option<u32>,
    /// Files parsed so far (as committed by the pipeline's progress writer).
    pub files_parsed: u32,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub files: Vec<StoredFile>,
}

/// A file row: the report's entry, and where the file was read from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFile {
    #[serde(flatten)]
    pub entry: FileEntry,
    pub uri: Option<String>,
    pub sha256: Option<String>,
}

/// One line of a vehicle's batch list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchSummary {
    pub batch_id: String,
    pub status: BatchState,
    pub records: u64,
    pub error_events: u64,
    pub first_ts_ns: Option<u64>,
    pub last_ts_ns: Option<u64>,
    pub created_at_ms: i64,
}

const BATCH_COLUMNS: &str = "batch_id, status, vin, vehicle_id, firmware, records, error_events, \
    first_ts_ns, last_ts_ns, failure, CAST(file_count AS BIGINT) AS file_count, \
    CAST(files_parsed AS BIGINT) AS files_parsed, created_at_ms, updated_at_ms";

impl Store {
    /// The report document exactly as written (the bytes the API serves), if stored.
    pub async fn get_report_json(&self, batch_id: &str) -> Result<Option<String>, StoreError> {
        let sql = dialect(
            self.backend(),
            "SELECT document::text FROM reports WHERE batch_id = $1",
            "SELECT document FROM reports WHERE batch_id = $1",
        );
        let doc =
            with_pool!(self, pool => sqlx::query_scalar(sql).bind(batch_id).fetch_optional(pool).await?);
        Ok(doc)
    }

    /// The report, parsed.
    pub async fn get_report(&self, batch_id: &str) -> Result<Option<BatchReport>, StoreError> {
        let Some(doc) = self.get_report_json(batch_id).await? else { return Ok(None) };
        let report = serde_json::from_str(&doc)
            .map_err(|e| StoreError::Corrupt(format!("report of batch {batch_id}: {e}")))?;
        Ok(Some(report))
    }

    /// The batch's status alone (cheap; what `GET /batches/{id}` polls).
    pub async fn get_status(&self, batch_id: &str) -> Result<Option<BatchState>, StoreError> {
        let sql = "SELECT status FROM batches WHERE batch_id = $1";
        let status: Option<String> =
            with_pool!(self, pool => sqlx::query_scalar(sql).bind(batch_id).fetch_optional(pool).await?);
        status.map(|s| s.parse()).transpose()
    }

    /// The batch row and its files (sorted by file id), if the batch exists.
    pub async fn get_batch(&self, batch_id: &str) -> Result<Option<StoredBatch>, StoreError> {
        let batch_sql = format!("SELECT {BATCH_COLUMNS} FROM batches WHERE batch_id = $1");
        let files_sql = format!(
            "SELECT file_id, bytes, status, error, records, error_events, chunks_good, chunks_corrupt, \
             bytes_skipped, truncated, uri, sha256 FROM files WHERE batch_id = $1 ORDER BY file_id{}",
            byte_order(self.backend())
        );
        with_pool!(self, pool => {
            let Some(row) = sqlx::query(&batch_sql).bind(batch_id).fetch_optional(pool).await? else {
                return Ok(None);
            };
            let mut batch = StoredBatch {
                batch_id: row.try_get("batch_id")?,
                status: row.try_get::<String, _>("status")?.parse()?,
                vin: row.try_get("vin")?,
                vehicle_id: row.try_get("vehicle_id")?,
                firmware: row.try_get("firmware")?,
                records: to_u64(row.try_get("records")?, "records")?,
                error_events: to_u64(row.try_get("error_events")?, "error_events")?,
                first_ts_ns: opt_u64(row.try_get("first_ts_ns")?)?,
                last_ts_ns: opt_u64(row.try_get("last_ts_ns")?)?,
                failure: row.try_get("failure")?,
                file_count: opt_u32(row.try_get("file_count")?)?,
                files_parsed: to_u32(row.try_get("files_parsed")?, "files_parsed")?,
                created_at_ms: row.try_get("created_at_ms")?,
                updated_at_ms: row.try_get("updated_at_ms")?,
                files: Vec::new(),
            };
            for row in sqlx::query(&files_sql).bind(batch_id).fetch_all(pool).await? {
                let stats = FileStats {
                    bytes: to_u64(row.try_get("bytes")?, "bytes")?,
                    status: file_status_from_str(&row.try_get::<String, _>("status")?)?,
                    error: row.try_get("error")?,
                    records: to_u64(row.try_get("records")?, "records")?,
                    error_events: to_u64(row.try_get("error_events")?, "error_events")?,
                    chunks_good: to_u64(row.try_get("chunks_good")?, "chunks_good")?,
                    chunks_corrupt: to_u64(row.try_get("chunks_corrupt")?, "chunks_corrupt")?,
                    bytes_skipped: to_u64(row.try_get("bytes_skipped")?, "bytes_skipped")?,
                    truncated: row.try_get("truncated")?,
                };
                let entry = FileEntry::new(row.try_get("file_id")?, stats);
                batch.files.push(StoredFile { entry, uri: row.try_get("uri")?, sha256: row.try_get("sha256")? });
            }
            Ok(Some(batch))
        })
    }

    /// A vehicle's batches, newest first (by creation in the store, then batch id).
    pub async fn list_batches_for_vin(&self, vin: &str, limit: u32) -> Result<Vec<BatchSummary>, StoreError> {
        self.list_batches_for_vin_page(vin, limit, None).await
    }

    /// The stored diagnosis of a batch (with its similar batches).
    pub async fn get_diagnosis(&self, batch_id: &str) -> Result<Option<Diagnosis>, StoreError> {
        let sql = dialect(
            self.backend(),
            "SELECT document::text FROM diagnoses WHERE batch_id = $1",
            "SELECT document FROM diagnoses WHERE batch_id = $1",
        );
        let doc: Option<String> =
            with_pool!(self, pool => sqlx::query_scalar(sql).bind(batch_id).fetch_optional(pool).await?);
        doc.map(|d| {
            serde_json::from_str(&d)
                .map_err(|e| StoreError::Corrupt(format!("diagnosis of batch {batch_id}: {e}")))
        })
        .transpose()
    }

    /// The stored next offsets of a topic, by partition: where a restarted source resumes.
    pub async fn kafka_offsets(&self, topic: &str) -> Result<Vec<KafkaOffset>, StoreError> {
        let sql = "SELECT topic, partition_id, next_offset FROM kafka_offsets WHERE topic = $1 ORDER BY partition_id";
        let rows: Vec<(String, i32, i64)> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(topic).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(topic, partition, next_offset)| KafkaOffset { topic, partition, next_offset })
            .collect())
    }
}

/// A file status as stored (the report's spelling).
pub(crate) fn file_status_str(status: FileStatus) -> &'static str {
    match status {
        FileStatus::Ok => "ok",
        FileStatus::Partial => "partial",
        FileStatus::Rejected => "rejected",
    }
}

fn file_status_from_str(s: &str) -> Result<FileStatus, StoreError> {
    [FileStatus::Ok, FileStatus::Partial, FileStatus::Rejected]
        .into_iter()
        .find(|status| file_status_str(*status) == s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown file status {s:?}")))
}

fn opt_u64(value: Option<i64>) -> Result<Option<u64>, StoreError> {
    value.map(|v| to_u64(v, "timestamp")).transpose()
}

fn opt_u32(value: Option<i64>) -> Result<Option<u32>, StoreError> {
    value.map(|v| to_u32(v, "file_count")).transpose()
}
