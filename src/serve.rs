//! `argus serve`: the whole system in one process. With no flags: a SQLite store and a
//! local-directory object store under `--data-dir`, the in-process queue, the dataflow
//! and the HTTP API on `--addr`, a newcomer's whole system in one command.
//! `--database-url`, `--object-store` and `--brokers` switch to Postgres, S3 and Kafka;
//! with Kafka, `--no-pipeline` serves the API alone for `argus pipeline` processes
//! elsewhere.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use argus_api::{ApiConfig, AppState, Objects, Tokens};
use argus_ingest::kafka::{KafkaIngest, ObjectRoot, Placement};
use argus_ingest::queue::{EventQueue, QueueIngest};
use argus_ingest::{KafkaPublisher, Publish, TaskFeed};
use argus_pipeline::{ClusterConfig, Metrics};
use argus_sinks::Store;
use tokio::runtime::Runtime;

use crate::args::parse_duration;
use crate::live::{self, StreamingJob};
use crate::pipeline::{StoreLedger, TopicArgs, telemetry};

/// Arguments of `argus serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Where to listen. A non-loopback address needs tokens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Where the embedded store (`argus.db`) and object store (`objects/`) live, unless
    /// `--database-url` and `--object-store` say otherwise.
    #[arg(long, default_value = "argus-data")]
    pub data_dir: PathBuf,
    /// The store: `postgres://…` or `sqlite://path?mode=rwc` (migrated on start).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Where uploads go and the pipeline reads: a directory, or `s3://bucket/prefix`.
    #[arg(long)]
    pub object_store: Option<String>,
    /// Kafka brokers (`host:port,…`): file-ready events go to Kafka instead of the
    /// in-process queue.
    #[arg(long)]
    pub brokers: Option<String>,
    #[command(flatten)]
    pub topics: TopicArgs,
    /// Serve the API only; `argus pipeline` processes elsewhere read the topic.
    #[arg(long, requires = "brokers")]
    pub no_pipeline: bool,
    /// Bearer tokens: JSON `[{"role","token"}]` or `role:token` lines. Default:
    /// `ARGUS_API_TOKENS` (`role:token,…`), else none (loopback only).
    #[arg(long)]
    pub tokens_file: Option<PathBuf>,
    /// Largest file an upload may carry.
    #[arg(long, default_value = "8GiB", value_parser = crate::args::parse_size)]
    pub max_file_size: u64,
    /// Timely workers of the dataflow.
    #[arg(short, long, default_value_t = 2)]
    pub workers: usize,
    /// Entries in `top_errors`.
    #[arg(short, long, default_value_t = argus_pipeline::DEFAULT_K)]
    pub k: usize,
    /// A batch still missing files this long after its first event is stored failed.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub batch_timeout: Duration,
    /// On SIGTERM or SIGINT: finish uploads in progress and the batches whose files are
    /// all in, within this long.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.k > 0, "-k must be at least 1");
    anyhow::ensure!(args.workers > 0, "-w must be at least 1");
    let tokens = match &args.tokens_file {
        Some(path) => Tokens::from_file(path)?,
        None => Tokens::from_env()?,
    };
    let config = ApiConfig { tokens, max_file_size: args.max_file_size, ..ApiConfig::default() };
    config.validate(args.addr)?;
    let runtime = crate::runtime::start()?;

    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", args.data_dir.join("argus.db").display()));
    let (store, diagnoser) = live::open_store(&database_url, &runtime)?;
    let object_store = match &args.object_store {
        Some(url) => url.clone(),
        None => {
            let dir = args.data_dir.join("objects");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.canonicalize()?.to_string_lossy().into_owned()
        }
    };
    let objects =
        Objects::open(&object_store).map_err(|e| anyhow::anyhow!("object store {object_store}: {e}"))?;

    // The API's recorder is the process's: the dataflow's counters are copied into it.
    let state_metrics = argus_api::metrics::install_recorder();
    let metrics = Arc::new(Metrics::default());
    telemetry::copy_counters_every_second(metrics.clone(), runtime.handle());

    let (publisher, mut ingest) = start_ingest(&args, &object_store, &store, &runtime)?;
    let dataflow = match ingest.take_feeds(args.workers) {
        Some(feeds) => {
            let job = StreamingJob {
                k: args.k,
                batch_timeout: args.batch_timeout,
                cluster: ClusterConfig::single(args.workers),
                store: store.clone(),
                diagnoser,
                runtime: runtime.handle().clone(),
                metrics,
                feeds,
            }
            .build(&runtime)?;
            Some(live::spawn_dataflow(job)?)
        }
        None => None,
    };
    if let Live::Queue(queue, _) = &ingest {
        runtime.spawn(requeue_unfinished(store.clone(), queue.clone()));
    }

    let state = AppState::new(config, store.clone(), objects, publisher, Some(state_metrics));
    let outcome = runtime.block_on(serve_until_stopped(&args, state, dataflow))?;
    tracing::info!("finishing the batches whose files are all in");
    let stopped =
        runtime.block_on(async { tokio::time::timeout(args.shutdown_timeout, ingest.stop()).await });
    if stopped.is_err() {
        tracing::warn!(timeout = ?args.shutdown_timeout, "shutdown timed out; unfinished batches are read again at the next start");
    }
    runtime.block_on(store.close());
    outcome
}

/// What feeds the dataflow in this process.
enum Live {
    /// The in-process queue; the API publishes to it.
    Queue(EventQueue, QueueIngest),
    /// Kafka, read by this process's workers.
    Kafka(KafkaIngest),
    /// Kafka, read by `argus pipeline` elsewhere.
    Elsewhere,
}

impl Live {
    /// One feed per worker, or `None` when no dataflow runs here.
    fn take_feeds(&mut self, workers: usize) -> Option<Vec<Option<TaskFeed>>> {
        match self {
            Live::Queue(_, ingest) => {
                let mut feeds: Vec<Option<TaskFeed>> = (0..workers).map(|_| None).collect();
                feeds[0] = ingest.feed.take();
                Some(feeds)
            }
            Live::Kafka(ingest) => Some(std::mem::take(&mut ingest.feeds)),
            Live::Elsewhere => None,
        }
    }

    async fn stop(self) {
        match self {
            Live::Queue(_, ingest) => {
                ingest.shut_down();
                ingest.stopped().await;
            }
            Live::Kafka(ingest) => {
                ingest.shut_down();
                ingest.stopped().await;
            }
            Live::Elsewhere => {}
        }
    }
}

fn start_ingest(
    args: &ServeArgs,
    object_store: &str,
    store: &Store,
    runtime: &Runtime,
) -> anyhow::Result<(Arc<dyn Publish>, Live)> {
    let spool = args.data_dir.join("spool");
    let root = ObjectRoot::open(object_store, &spool).map_err(anyhow::Error::msg)?;
    let ledger = Arc::new(StoreLedger(store.clone()));
    let Some(brokers) = &args.brokers else {
        let (queue, ingest) = QueueIngest::start(ledger, root, runtime.handle());
        return Ok((Arc::new(queue.clone()), Live::Queue(queue, ingest)));
    };
    let publisher = Arc::new(KafkaPublisher::connect(brokers, &args.topics.topic)?);
    if args.no_pipeline {
        return Ok((publisher, Live::Elsewhere));
    }
    let kafka = args.topics.kafka_config(brokers);
    let placement = Placement { process: 0, processes: 1, workers: args.workers };
    let ingest = KafkaIngest::start(&kafka, placement, ledger, root, runtime.handle())
        .context("starting the kafka feed")?;
    Ok((publisher, Live::Kafka(ingest)))
}

/// Serves the API until a signal arrives or the dataflow ends; returns the exit code
/// (the API has finished its requests in progress by then).
async fn serve_until_stopped(
    args: &ServeArgs,
    state: AppState,
    dataflow: Option<tokio::sync::oneshot::Receiver<anyhow::Result<()>>>,
) -> anyhow::Result<anyhow::Result<ExitCode>> {
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    tracing::info!(addr = %listener.local_addr()?, "argus serve listening");
    let (stop, stopping) = tokio::sync::oneshot::channel::<()>();
    let shutdown = state.shutdown_on(async {
        let _ = stopping.await;
    });
    let server = tokio::spawn(argus_api::serve(listener, argus_api::router(state), shutdown));
    let dataflow_ended = async {
        match dataflow {
            Some(done) => done.await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        signal = live::shutdown_signal() => {
            tracing::info!(signal, "shutting down: finishing uploads in progress");
            Ok(ExitCode::SUCCESS)
        }
        ended = dataflow_ended => match ended {
            Ok(Ok(())) => Ok(ExitCode::SUCCESS),
            Ok(Err(error)) => Err(error.context("the dataflow failed")),
            Err(_) => Err(anyhow::anyhow!("the dataflow thread ended without a result")),
        },
    };
    let _ = stop.send(());
    server.await.context("the api task")?.context("serving the api")?;
    Ok(outcome)
}

/// Queues again the events of every uploaded batch that is not final: the embedded
/// queue lives in memory, the store is what survives a restart (repeats change nothing).
async fn requeue_unfinished(store: Store, queue: EventQueue) {
    let batches = match store.unfinished_uploaded_batches().await {
        Ok(batches) => batches,
        Err(error) => return tracing::error!(%error, "unfinished batches not read; complete them again"),
    };
    let mut queued = 0;
    for batch_id in batches {
        let completion = match store.complete_batch(&batch_id).await {
            Ok(completion) => completion,
            Err(error) => {
                tracing::warn!(%batch_id, %error, "unfinished batch not queued again");
                continue;
            }
        };
        if queue.push(argus_api::file_ready_events(&batch_id, &completion)).is_err() {
            return; // stopping
        }
        queued += 1;
    }
    if queued > 0 {
        tracing::info!(batches = queued, "unfinished batches queued again");
    }
}
