//! The HTTP API end to end: a real server on 127.0.0.1:0 over a real store (SQLite file
//! or a fresh PostgreSQL database), a temp-dir (or S3) object store, and a publisher that
//! records what it is given; `reqwest` or raw TCP as the client.

mod auth;
mod errors;
mod events;
mod kafka;
mod ops;
mod reports;
mod schemathesis;
mod uploads;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use argus_api::{ApiConfig, AppState, Objects};
use argus_ingest::kafka::FileReadyEvent;
use argus_ingest::{Publish, PublishError};
use argus_sinks::Store;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::db::Db;

/// A publisher that keeps every event it is handed; `fail` makes it refuse.
#[derive(Debug, Default)]
pub struct Recorder {
    pub events: Mutex<Vec<FileReadyEvent>>,
    pub fail: AtomicBool,
}

impl Publish for Recorder {
    fn publish<'a>(&'a self, events: &'a [FileReadyEvent]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            if self.fail.load(Ordering::SeqCst) {
                return Err(PublishError::Unavailable("recorder told to fail".into()));
            }
            self.events.lock().unwrap().extend_from_slice(events);
            Ok(())
        })
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), PublishError>> {
        Box::pin(async move {
            if self.fail.load(Ordering::SeqCst) {
                Err(PublishError::Unavailable("down".into()))
            } else {
                Ok(())
            }
        })
    }
}

/// Which database a test server uses.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running API server and what it runs on.
pub struct Server {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub state: AppState,
    pub store: Store,
    pub recorder: Arc<Recorder>,
    /// The object store's local directory (when it is local).
    pub objects_dir: tempfile::TempDir,
    pub client: reqwest::Client,
    db: Option<Db>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, ApiConfig::default(), None).await
    }

    /// `objects`: another object store than the temp dir (S3).
    pub async fn start_with(backend: Backend, config: ApiConfig, objects: Option<Objects>) -> Self {
        Self::start_publishing(backend, config, objects, None).await
    }

    /// `publisher`: another queue than the recorder (Kafka).
    pub async fn start_publishing(
        backend: Backend,
        config: ApiConfig,
        objects: Option<Objects>,
        publisher: Option<Arc<dyn Publish>>,
    ) -> Self {
        let db = match backend {
            Backend::Sqlite => Db::Sqlite(tempfile::tempdir().unwrap()),
            Backend::Postgres => Db::postgres().await,
        };
        let store = Store::open(&db.url()).await.unwrap();
        store.migrate().await.unwrap();
        let objects_dir = tempfile::tempdir().unwrap();
        let objects = objects.unwrap_or_else(|| Objects::local(objects_dir.path()).unwrap());
        let recorder = Arc::new(Recorder::default());
        let publisher = publisher.unwrap_or_else(|| recorder.clone());
        let state = AppState::new(config, store.clone(), objects, publisher, None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = state.shutdown_on(async move {
            let _ = rx.await;
        });
        let task = tokio::spawn(argus_api::serve(listener, argus_api::router(state.clone()), shutdown));
        Server {
            base: format!("http://{addr}"),
            addr,
            state,
            store,
            recorder,
            objects_dir,
            client: reqwest::Client::new(),
            db: Some(db),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// The database URL (for an `argus` process on the same store).
    pub fn db_url(&self) -> String {
        self.db.as_ref().map(Db::url).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/v1/batches`; the new batch id.
    pub async fn create_batch(&self, vin: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/batches"))
            .json(&serde_json::json!({"vehicle_id": "car-17", "vin": vin}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "pending");
        body["batch_id"].as_str().unwrap().to_owned()
    }

    /// A raw-body upload; the response status and JSON body.
    pub async fn upload(&self, batch: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(&format!("/api/v1/batches/{batch}/files?name={name}")))
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str) -> (u16, Value) {
        let response = self.client.post(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Every file below the object store's directory, relative.
    pub fn objects(&self) -> Vec<String> {
        crate::util::read_tree(self.objects_dir.path()).into_keys().collect()
    }

    /// Shuts the server down gracefully: returns once the requests in progress ended.
    pub async fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// Shuts the server down gracefully and drops its database.
    pub async fn stop(mut self) {
        self.shut_down().await;
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.drop_it().await;
        }
    }
}

/// A completed one-file batch with the given code counts, as the pipeline would write it.
pub fn finished_batch(id: &str, vin: &str, codes: &[(&str, u64)]) -> argus_pipeline::report::FinishedBatch {
    use argus_parser::{ErrorCode, FileStats, FileStatus};
    use argus_pipeline::report::{
        BatchMeta, BatchReport, BatchStatus, FileEntry, FinishedBatch, TopError, rank,
    };
    let events: u64 = codes.iter().map(|(_, n)| n).sum();
    let records = events * 3 + 10;
    let mut code_counts: Vec<(ErrorCode, u64)> =
        codes.iter().map(|(c, n)| (c.parse().unwrap(), *n)).collect();
    code_counts.sort();
    let top = codes
        .iter()
        .map(|(code, count)| TopError {
            code: (*code).to_owned(),
            count: *count,
            ecus: vec!["07E0".to_owned()],
            first_ts_ns: 1_000_000_000,
            last_ts_ns: 2_000_000_000,
        })
        .collect();
    let stats = FileStats {
        bytes: 4096,
        status: FileStatus::Ok,
        error: None,
        records,
        error_events: events,
        chunks_good: 2,
        chunks_corrupt: 0,
        bytes_skipped: 0,
        truncated: false,
    };
    let file = FileEntry::new("seg-00.rec".into(), stats);
    FinishedBatch {
        report: BatchReport {
            batch_id: id.to_owned(),
            vin: Some(vin.to_owned()),
            status: BatchStatus::Completed,
            k: 10,
            records,
            error_events: events,
            first_ts_ns: Some(1_000_000_000),
            last_ts_ns: Some(3_000_000_000),
            files: vec![file],
            top_errors: rank(top, 10),
        },
        meta: BatchMeta {
            firmware: Some("fw-1.0".into()),
            locations: std::collections::BTreeMap::from([(
                "seg-00.rec".to_owned(),
                format!("batches/{id}/seg-00.rec"),
            )]),
            failure: None,
            first_event_ms: None,
        },
        code_counts,
    }
}

/// Writes a finished batch's report and diagnosis as the pipeline's writer does.
pub async fn write_report(store: &Store, batch: &argus_pipeline::report::FinishedBatch) {
    let diagnoser = argus_sinks::diagnosis::Diagnoser::rules_only();
    argus_sinks::write_finished_batch(store, &diagnoser, batch, &[]).await.unwrap();
}

/// A pending batch with one uploaded file, completed: at `uploaded`.
pub async fn uploaded_batch(server: &Server, vin: &str) -> String {
    let batch = server.create_batch(vin).await;
    assert_eq!(server.upload(&batch, "seg-00.rec", vec![7u8; 4096]).await.0, 201);
    assert_eq!(server.post(&format!("/api/v1/batches/{batch}/complete")).await.0, 202);
    batch
}

/// Runs a test body against both backends.
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(super::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body(super::Backend::Postgres).await;
            }
        }
    };
}
pub(crate) use both_backends;
