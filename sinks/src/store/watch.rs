//! What a live view of one batch polls: its status and progress, from the batch row alone
//! (cheap whatever the number of files).

use serde::Serialize;

use super::{BatchState, Store, with_pool};
use crate::error::{StoreError, to_u32};

/// A batch's status and progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchProgress {
    pub batch_id: String,
    pub status: BatchState,
    pub file_count: Option<u32>,
    pub files_parsed: u32,
    pub failure: Option<String>,
}

type Row = (String, String, Option<i64>, i64, Option<String>);

impl Store {
    /// The batch's status and progress, if it exists.
    pub async fn get_batch_progress(&self, batch_id: &str) -> Result<Option<BatchProgress>, StoreError> {
        let sql = "SELECT batch_id, status, CAST(file_count AS BIGINT), CAST(files_parsed AS BIGINT), failure \
                   FROM batches WHERE batch_id = $1";
        let row: Option<Row> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(batch_id).fetch_optional(pool).await?);
        let Some((batch_id, status, file_count, files_parsed, failure)) = row else { return Ok(None) };
        Ok(Some(BatchProgress {
            batch_id,
            status: status.parse()?,
            file_count: file_count.map(|v| to_u32(v, "file_count")).transpose()?,
            files_parsed: to_u32(files_parsed, "files_parsed")?,
            failure,
        }))
    }
}
