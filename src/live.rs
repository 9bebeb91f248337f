//! What the live services (`argus pipeline`, `argus serve`) share: the store opened and
//! migrated, the fleet re-seeded from it, the streaming job around their feeds, the
//! dataflow on threads of its own, and the shutdown signal.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use argus_ingest::TaskFeed;
use argus_pipeline::source::SourceConfig;
use argus_pipeline::{ClusterConfig, DataflowConfig, Feed, Job, LocalResolver, Metrics, ReportWriter};
use argus_sinks::diagnosis::Diagnoser;
use argus_sinks::store::redact;
use argus_sinks::{Store, StoreWriter};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// Opens and migrates the store, and builds the diagnosis from the environment.
pub fn open_store(url: &str, runtime: &Runtime) -> anyhow::Result<(Store, Arc<Diagnoser>)> {
    let shown = redact(url);
    let store = runtime.block_on(Store::open(url)).with_context(|| format!("opening the store {shown}"))?;
    runtime.block_on(store.migrate()).with_context(|| format!("migrating the store {shown}"))?;
    let diagnoser = Diagnoser::from_env().context("configuring the diagnosis")?;
    Ok((store, Arc::new(diagnoser)))
}

/// The dataflow of a live service: its feeds (one per local worker, `None` for a worker
/// that reads nothing), batches stored in `store` by writers that never block a worker.
pub struct StreamingJob {
    pub k: usize,
    pub batch_timeout: Duration,
    pub cluster: ClusterConfig,
    pub store: Store,
    pub diagnoser: Arc<Diagnoser>,
    pub runtime: tokio::runtime::Handle,
    pub metrics: Arc<Metrics>,
    pub feeds: Vec<Option<TaskFeed>>,
}

impl StreamingJob {
    /// Builds the job; the process of worker 0 re-seeds the fleet from the store's
    /// completed batches, so that the fleet report after a restart equals the one of a
    /// run that never stopped.
    pub fn build(self, runtime: &Runtime) -> anyhow::Result<Job> {
        let Self { k, batch_timeout, cluster, store, diagnoser, runtime: handle, metrics, feeds } = self;
        let fleet_seed = match cluster.process {
            0 => runtime.block_on(store.fleet_seed()).context("reading the fleet's completed batches")?,
            _ => Vec::new(),
        };
        tracing::info!(batches = fleet_seed.len(), "fleet re-seeded from the store");
        let first_worker = cluster.process * cluster.workers;
        let feeds = Mutex::new(feeds);
        let writer_metrics = metrics.clone();
        Ok(Job {
            dataflow: DataflowConfig {
                k,
                source: SourceConfig { batch_timeout, ..SourceConfig::default() },
                ..DataflowConfig::default()
            },
            cluster,
            feeds: Arc::new(move |index, _peers| {
                let mut feeds = feeds.lock().unwrap_or_else(|e| e.into_inner());
                let feed = feeds.get_mut(index.checked_sub(first_worker)?)?.take()?;
                Some(Box::new(feed) as Box<dyn Feed>)
            }),
            writers: Arc::new(move |_| {
                let writer = StoreWriter::new(
                    store.clone(),
                    diagnoser.clone(),
                    handle.clone(),
                    writer_metrics.clone(),
                );
                Ok(vec![Box::new(writer) as Box<dyn ReportWriter>])
            }),
            resolver: Arc::new(LocalResolver),
            metrics,
            fleet_seed,
        })
    }
}

/// Runs the dataflow on threads of its own; the receiver gets its result.
pub fn spawn_dataflow(job: Job) -> anyhow::Result<oneshot::Receiver<anyhow::Result<()>>> {
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("dataflow".into())
        .spawn(move || {
            let _ = done_tx.send(argus_pipeline::run(job).map_err(anyhow::Error::from));
        })
        .context("starting the dataflow")?;
    Ok(done_rx)
}

/// Resolves when SIGTERM or SIGINT arrives, naming it.
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        std::future::pending::<()>().await;
        unreachable!("pending never resolves");
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
