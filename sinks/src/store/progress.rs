//! Files-parsed progress of batches being gathered, committed as it moves so that readers
//! (the API, its event stream) can follow a big batch. Best effort and forward only: a
//! figure lower than the stored one, or for a batch already final, changes nothing.

use super::{Store, with_pool};
use crate::error::StoreError;

impl Store {
    /// Records that `files_parsed` of the batch's `file_count` files are parsed. Returns
    /// whether the row changed (false for an unknown or final batch, or no news).
    pub async fn record_progress(
        &self,
        batch_id: &str,
        files_parsed: u32,
        file_count: u32,
    ) -> Result<bool, StoreError> {
        debug_assert!(files_parsed <= file_count, "{batch_id}: {files_parsed} of {file_count} files parsed");
        let sql = "UPDATE batches SET files_parsed = $2, file_count = $3 \
                   WHERE batch_id = $1 AND files_parsed < $2 \
                   AND status IN ('uploaded', 'scattering', 'gathering', 'diagnosing')";
        let changed = with_pool!(self, pool => {
            sqlx::query(sql)
                .bind(batch_id)
                .bind(i64::from(files_parsed))
                .bind(i64::from(file_count))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(changed == 1)
    }
}
