//! The one state every handler shares.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use argus_ingest::Publish;
use argus_sinks::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

use crate::cache::ReportCache;
use crate::config::ApiConfig;
use crate::error::ApiError;
use crate::objects::Objects;

/// The API's shared state: configuration, store, object store, publisher, report cache.
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: ApiConfig,
    store: Store,
    objects: Objects,
    publisher: Arc<dyn Publish>,
    cache: ReportCache,
    prometheus: PrometheusHandle,
    /// (batch, file) uploads streaming right now: a second upload of the same file is
    /// refused while the first runs.
    uploading: Mutex<HashSet<(String, String)>>,
    /// Report documents read from the store (the coalescing test counts them).
    report_loads: AtomicU64,
    closing: watch::Sender<bool>,
}

impl AppState {
    /// `prometheus`: the handle of the process's recorder; `None` installs one
    /// ([`crate::metrics::install_recorder`]).
    pub fn new(
        config: ApiConfig,
        store: Store,
        objects: Objects,
        publisher: Arc<dyn Publish>,
        prometheus: Option<PrometheusHandle>,
    ) -> Self {
        let cache = ReportCache::new(config.report_cache_capacity);
        Self(Arc::new(Inner {
            config,
            store,
            objects,
            publisher,
            cache,
            prometheus: prometheus.unwrap_or_else(crate::metrics::install_recorder),
            uploading: Mutex::default(),
            report_loads: AtomicU64::new(0),
            closing: watch::channel(false).0,
        }))
    }

    pub fn config(&self) -> &ApiConfig {
        &self.0.config
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn objects(&self) -> &Objects {
        &self.0.objects
    }

    pub fn publisher(&self) -> &dyn Publish {
        self.0.publisher.as_ref()
    }

    pub fn cache(&self) -> &ReportCache {
        &self.0.cache
    }

    pub fn prometheus(&self) -> &PrometheusHandle {
        &self.0.prometheus
    }

    /// How many report documents were read from the store so far.
    pub fn report_loads(&self) -> u64 {
        self.0.report_loads.load(Ordering::Relaxed)
    }

    pub(crate) fn count_report_load(&self) {
        self.0.report_loads.fetch_add(1, Ordering::Relaxed);
    }

    /// Claims a (batch, file) for one upload; the claim ends when the guard drops.
    pub(crate) fn claim_upload(&self, batch_id: &str, file_id: &str) -> Result<UploadClaim, ApiError> {
        let key = (batch_id.to_owned(), file_id.to_owned());
        let mut uploading = self.0.uploading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !uploading.insert(key.clone()) {
            return Err(ApiError::FileExists { batch_id: key.0, file_id: key.1 });
        }
        Ok(UploadClaim { state: self.clone(), key })
    }

    /// Resolves with `shutdown`, after telling the event streams to close, so that a
    /// graceful shutdown ([`crate::serve`]) waits only for requests that end (uploads in
    /// progress finish; event streams would never end on their own).
    pub fn shutdown_on<F>(&self, shutdown: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let state = self.clone();
        async move {
            shutdown.await;
            state.0.closing.send_replace(true);
        }
    }

    /// Becomes true when the server shuts down.
    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.0.closing.subscribe()
    }
}

/// One upload's hold on its (batch, file).
pub(crate) struct UploadClaim {
    state: AppState,
    key: (String, String),
}

impl Drop for UploadClaim {
    fn drop(&mut self) {
        let mut uploading = self.state.0.uploading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        uploading.remove(&self.key);
    }
}
