//! Final reports in memory. A report is cached only once its batch is `completed` or
//! `failed`: such a document never changes, so the cache needs no invalidation, and a
//! batch still moving is always read from the store. Concurrent misses of one key are
//! coalesced (`try_get_with`): one store read answers all of them.

use std::sync::{Arc, OnceLock};

use axum::http::HeaderValue;
use bytes::Bytes;
use metrics::Counter;
use moka::future::Cache;

use crate::error::ApiError;

/// A final report as served: its body and strong ETag (a header value made once, not
/// per response).
#[derive(Debug)]
pub struct FinalReport {
    pub body: Bytes,
    pub etag: HeaderValue,
}

/// Final reports by batch id.
#[derive(Clone)]
pub struct ReportCache {
    cache: Cache<String, Arc<FinalReport>>,
    /// The hit and miss counters, each registered on its first use and kept: every read
    /// bumps one, and `counter!` looks its key up in the recorder's registry on each call.
    hits: Arc<OnceLock<Counter>>,
    misses: Arc<OnceLock<Counter>>,
}

impl std::fmt::Debug for ReportCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportCache").field("entries", &self.cache.entry_count()).finish()
    }
}

impl ReportCache {
    pub fn new(capacity: u64) -> Self {
        Self {
            cache: Cache::builder().max_capacity(capacity).build(),
            hits: Arc::default(),
            misses: Arc::default(),
        }
    }

    /// The cached report, or the one `load` finds (cached when `load` succeeds; `load`
    /// must fail for anything not final). Concurrent callers share one `load`.
    pub async fn get_or_load<F>(&self, batch_id: &str, load: F) -> Result<Arc<FinalReport>, Arc<ApiError>>
    where
        F: Future<Output = Result<Arc<FinalReport>, ApiError>>,
    {
        if let Some(hit) = self.cache.get(batch_id).await {
            self.hits.get_or_init(|| metrics::counter!("argus_api_report_cache_hits_total")).increment(1);
            return Ok(hit);
        }
        self.misses.get_or_init(|| metrics::counter!("argus_api_report_cache_misses_total")).increment(1);
        self.cache.try_get_with_by_ref(batch_id, load).await
    }
}
