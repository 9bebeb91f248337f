//! Batches uploaded through the API and not yet final: what the embedded service queues
//! again at start (its queue lives in memory; the store is what survives a restart).

use super::{Store, with_pool};
use crate::error::StoreError;

impl Store {
    /// Ids of batches past `pending`, not final, that have uploaded files, oldest first.
    pub async fn unfinished_uploaded_batches(&self) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT batch_id FROM batches b \
                   WHERE status IN ('uploaded', 'scattering', 'gathering', 'diagnosing') \
                   AND EXISTS (SELECT 1 FROM uploads u WHERE u.batch_id = b.batch_id) \
                   ORDER BY created_at_ms, batch_id";
        Ok(with_pool!(self, pool => sqlx::query_scalar(sql).fetch_all(pool).await?))
    }
}
