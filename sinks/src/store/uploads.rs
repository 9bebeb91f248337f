//! The upload API's side of the store: files recorded as their uploads complete, only
//! while the batch is `pending`, and `complete` that closes the batch (`pending →
//! uploaded`) and hands back its files to publish. Completing again hands them back
//! again (at-least-once publishing is the contract; the pipeline ignores repeats).
//!
//! An upload and a `complete` of the same batch serialise on the batch row (Postgres:
//! `FOR SHARE` against `FOR UPDATE`; SQLite: `BEGIN IMMEDIATE`), so a file is either in
//! the list `complete` returns or refused with [`UploadError::NotPending`]. A trigger
//! refuses uploads of a batch that is not pending whoever inserts them; another copies an
//! upload's sha256 into the report writer's `files` row.

use serde::Serialize;
use sqlx::Row;

use super::{BatchState, Store, begin_write, dialect, with_pool};
use crate::error::{StoreError, to_i64, to_u64};

/// A file to record: its bytes are complete in the object store at `uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload<'a> {
    pub batch_id: &'a str,
    pub file_id: &'a str,
    pub name: &'a str,
    pub bytes: u64,
    /// 64 lowercase hex digits.
    pub sha256: &'a str,
    pub uri: &'a str,
}

/// A recorded upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upload {
    pub file_id: String,
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
    pub uri: String,
    pub uploaded_at_ms: i64,
}

/// A batch closed for uploads, with what its file-ready events need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The status before this call: `pending` the first time, later states on a repeat.
    pub was: BatchState,
    pub vin: Option<String>,
    pub vehicle_id: Option<String>,
    pub uploads: Vec<Upload>,
}

/// Why an upload or a completion was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("no batch {0}")]
    UnknownBatch(String),
    #[error("batch {batch_id} is {status}: it takes no more files")]
    NotPending { batch_id: String, status: BatchState },
    #[error("batch {batch_id} already has a file {file_id}")]
    FileExists { batch_id: String, file_id: String },
    #[error("batch {0} has no files")]
    EmptyBatch(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for UploadError {
    fn from(e: sqlx::Error) -> Self {
        UploadError::Store(StoreError::Database(e))
    }
}

const UPLOAD_COLUMNS: &str = "file_id, name, bytes, sha256, uri, uploaded_at_ms";

/// Reads the batch's status inside `$tx`, locked against a concurrent `complete`
/// (`$lock`: the Postgres row lock; SQLite's write lock is already held).
macro_rules! locked_status {
    ($backend:expr, $tx:ident, $id:expr, $lock:literal) => {{
        let sql = dialect(
            $backend,
            concat!("SELECT status, vin, vehicle_id FROM batches WHERE batch_id = $1 ", $lock),
            "SELECT status, vin, vehicle_id FROM batches WHERE batch_id = $1",
        );
        let row: Option<(String, Option<String>, Option<String>)> =
            sqlx::query_as(sql).bind($id).fetch_optional(&mut *$tx).await?;
        match row {
            None => return Err(UploadError::UnknownBatch($id.to_owned())),
            Some((status, vin, vehicle_id)) => (status.parse::<BatchState>()?, vin, vehicle_id),
        }
    }};
}

impl Store {
    /// Records a completed upload of a pending batch.
    pub async fn record_upload(&self, upload: &NewUpload<'_>) -> Result<Upload, UploadError> {
        let backend = self.backend();
        let bytes = to_i64(upload.bytes, "bytes")?;
        let insert = format!(
            "INSERT INTO uploads (batch_id, file_id, name, bytes, sha256, uri) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (batch_id, file_id) DO NOTHING RETURNING {UPLOAD_COLUMNS}"
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin_write(backend)).await?;
            let (status, _, _) = locked_status!(backend, tx, upload.batch_id, "FOR SHARE");
            if status != BatchState::Pending {
                return Err(UploadError::NotPending { batch_id: upload.batch_id.to_owned(), status });
            }
            let row = sqlx::query(&insert)
                .bind(upload.batch_id)
                .bind(upload.file_id)
                .bind(upload.name)
                .bind(bytes)
                .bind(upload.sha256)
                .bind(upload.uri)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                return Err(UploadError::FileExists {
                    batch_id: upload.batch_id.to_owned(),
                    file_id: upload.file_id.to_owned(),
                });
            };
            let recorded = upload_from_row(&row)?;
            tx.commit().await?;
            Ok(recorded)
        })
    }

    /// The batch's recorded uploads, by file id (byte order).
    pub async fn list_uploads(&self, batch_id: &str) -> Result<Vec<Upload>, StoreError> {
        let sql = list_sql(self.backend());
        with_pool!(self, pool => {
            let rows = sqlx::query(&sql).bind(batch_id).fetch_all(pool).await?;
            rows.iter().map(upload_from_row).collect()
        })
    }

    /// Whether the batch already has a file of this id.
    pub async fn has_upload(&self, batch_id: &str, file_id: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM uploads WHERE batch_id = $1 AND file_id = $2";
        let n: i64 = with_pool!(self, pool => sqlx::query_scalar(sql).bind(batch_id).bind(file_id).fetch_one(pool).await?);
        Ok(n > 0)
    }

    /// Closes a batch for uploads: `pending → uploaded`, its `file_count` set to its
    /// uploads. A batch already past `pending` is left as it is and its uploads are handed
    /// back again, so the caller can re-publish. A batch without files is refused.
    pub async fn complete_batch(&self, batch_id: &str) -> Result<Completion, UploadError> {
        let backend = self.backend();
        let list = list_sql(backend);
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin_write(backend)).await?;
            let (was, vin, vehicle_id) = locked_status!(backend, tx, batch_id, "FOR UPDATE");
            let rows = sqlx::query(&list).bind(batch_id).fetch_all(&mut *tx).await?;
            let uploads = rows.iter().map(upload_from_row).collect::<Result<Vec<_>, _>>()?;
            if uploads.is_empty() {
                return Err(UploadError::EmptyBatch(batch_id.to_owned()));
            }
            if was == BatchState::Pending {
                sqlx::query("UPDATE batches SET status = 'uploaded', file_count = $2 WHERE batch_id = $1")
                    .bind(batch_id)
                    .bind(i64::try_from(uploads.len()).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Completion { was, vin, vehicle_id, uploads })
        })
    }

    /// A cheap query: whether the store answers (the API's readiness probe).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }
}

fn list_sql(backend: super::Backend) -> String {
    format!(
        "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE batch_id = $1 ORDER BY file_id{}",
        super::byte_order(backend)
    )
}

fn upload_from_row<R: Row>(row: &R) -> Result<Upload, StoreError>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Upload {
        file_id: row.try_get("file_id")?,
        name: row.try_get("name")?,
        bytes: to_u64(row.try_get("bytes")?, "bytes")?,
        sha256: row.try_get("sha256")?,
        uri: row.try_get("uri")?,
        uploaded_at_ms: row.try_get("uploaded_at_ms")?,
    })
}
