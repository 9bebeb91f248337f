//! `argus pipeline`: the streaming deployment. File-ready events from Kafka enter the same
//! dataflow as a replay; every batch's report and diagnosis land in the store exactly
//! once, and commit points are recorded there once the batches below them are durable.

mod ledger;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use argus_ingest::kafka::{KafkaConfig, KafkaIngest, ObjectRoot, Placement, TaskFeed};
use argus_pipeline::source::SourceConfig;
use argus_pipeline::{DataflowConfig, Feed, Job, LocalResolver, Metrics, ReportWriter};
use argus_sinks::StoreWriter;
use argus_sinks::diagnosis::Diagnoser;
use argus_sinks::store::redact;

pub use ledger::StoreLedger;

use crate::args::parse_duration;
use crate::replay::ClusterArgs;

/// Arguments of `argus pipeline`.
#[derive(Debug, clap::Args)]
pub struct PipelineArgs {
    /// Kafka bootstrap servers, `host:port[,…]`.
    #[arg(long)]
    pub brokers: String,
    #[arg(long, default_value = "argus.files.ready")]
    pub topic: String,
    #[arg(long, default_value = "argus.files.dlq")]
    pub dlq_topic: String,
    /// The consumer group; it only stores offsets for monitoring (the store is the truth).
    #[arg(long, default_value = "argus-pipeline")]
    pub group: String,
    /// The report store: `postgres://…` or `sqlite://path?mode=rwc` (migrated at start).
    #[arg(long)]
    pub database_url: String,
    /// Where event `uri`s point: a local directory or `s3://bucket/prefix`.
    #[arg(long)]
    pub object_store: String,
    /// Where objects from an object store are spooled before they are mapped.
    #[arg(long)]
    pub spool: Option<PathBuf>,
    /// A batch still missing files this long after its first event is stored failed.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub batch_timeout: Duration,
    /// On SIGTERM or SIGINT: stop reading, finish the batches whose files are all in,
    /// record commit points, and exit within this long.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// Serve Prometheus metrics at `http://ADDR/metrics` (e.g. 127.0.0.1:9464).
    #[arg(long)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Entries in `top_errors`.
    #[arg(short, long, default_value_t = argus_pipeline::DEFAULT_K)]
    pub k: usize,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

pub fn run(args: PipelineArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.k > 0, "-k must be at least 1");
    let runtime = crate::runtime::start()?;
    // Served first, so that every metric recorded from here on is exported.
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = args.metrics_addr {
        telemetry::serve(addr, metrics.clone(), &runtime)?;
    }
    let shown = redact(&args.database_url);
    let store = runtime
        .block_on(argus_sinks::Store::open(&args.database_url))
        .with_context(|| format!("opening the store {shown}"))?;
    runtime.block_on(store.migrate()).with_context(|| format!("migrating the store {shown}"))?;
    let diagnoser = Arc::new(Diagnoser::from_env().context("configuring the diagnosis")?);
    // What the store holds re-seeds the fleet (read by the process of worker 0 only): the
    // fleet report after a restart equals the one of a run that never stopped.
    let fleet_seed = match args.cluster.process {
        0 => runtime.block_on(store.fleet_seed()).context("reading the fleet's completed batches")?,
        _ => Vec::new(),
    };
    tracing::info!(batches = fleet_seed.len(), "fleet re-seeded from the store");

    let spool = args
        .spool
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("argus-pipeline-spool-{}", std::process::id())));
    let root = ObjectRoot::open(&args.object_store, &spool).map_err(anyhow::Error::msg)?;
    let kafka = KafkaConfig {
        topic: args.topic.clone(),
        dlq_topic: args.dlq_topic.clone(),
        group: args.group.clone(),
        ..KafkaConfig::new(&args.brokers)
    };
    let cluster = args.cluster.config();
    let placement =
        Placement { process: cluster.process, processes: cluster.processes, workers: cluster.workers };
    let mut ingest =
        KafkaIngest::start(&kafka, placement, Arc::new(StoreLedger(store.clone())), root, runtime.handle())
            .context("starting the kafka feed")?;
    let feeds: Arc<Mutex<Vec<Option<TaskFeed>>>> = Arc::new(Mutex::new(std::mem::take(&mut ingest.feeds)));
    let first_worker = cluster.process * cluster.workers;

    let handle = runtime.handle().clone();
    let writer_metrics = metrics.clone();
    let job = Job {
        dataflow: DataflowConfig {
            k: args.k,
            source: SourceConfig { batch_timeout: args.batch_timeout, ..SourceConfig::default() },
            ..DataflowConfig::default()
        },
        cluster,
        feeds: Arc::new(move |index, _peers| {
            let mut feeds = feeds.lock().unwrap_or_else(|e| e.into_inner());
            let feed = feeds.get_mut(index.checked_sub(first_worker)?)?.take()?;
            Some(Box::new(feed) as Box<dyn Feed>)
        }),
        writers: Arc::new(move |_| {
            let writer =
                StoreWriter::new(store.clone(), diagnoser.clone(), handle.clone(), writer_metrics.clone());
            Ok(vec![Box::new(writer) as Box<dyn ReportWriter>])
        }),
        resolver: Arc::new(LocalResolver),
        metrics: metrics.clone(),
        fleet_seed,
    };

    // The dataflow runs on its own threads; this one waits for it or for a signal.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("dataflow".into())
        .spawn(move || {
            let _ = done_tx.send(argus_pipeline::run(job));
        })
        .context("starting the dataflow")?;
    let outcome = runtime.block_on(async {
        tokio::select! {
            signal = shutdown_signal() => Err(signal),
            result = done_rx => Ok(result),
        }
    });
    match outcome {
        Err(signal) => {
            tracing::info!(signal, "shutting down: finishing complete batches");
            ingest.shut_down();
            let stopped = runtime
                .block_on(async { tokio::time::timeout(args.shutdown_timeout, ingest.stopped()).await });
            if stopped.is_err() {
                tracing::warn!(timeout = ?args.shutdown_timeout, "shutdown timed out; unfinished batches will be read again");
            }
            // Batches still waiting for files stay below the commit points: the next start
            // reads them again. The dataflow's threads end with the process.
            Ok(ExitCode::SUCCESS)
        }
        Ok(Ok(Ok(()))) => Ok(ExitCode::SUCCESS),
        Ok(Ok(Err(error))) => Err(error).context("the dataflow failed"),
        Ok(Err(_)) => anyhow::bail!("the dataflow thread ended without a result"),
    }
}

/// Resolves when SIGTERM or SIGINT arrives, naming it.
async fn shutdown_signal() -> &'static str {
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
