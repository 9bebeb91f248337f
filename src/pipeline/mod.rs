//! `argus pipeline`: the streaming deployment. File-ready events from Kafka enter the same
//! dataflow as a replay; every batch's report and diagnosis land in the store exactly
//! once, and commit points are recorded there once the batches below them are durable.

mod ledger;
pub(crate) mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use argus_ingest::kafka::{KafkaConfig, KafkaIngest, ObjectRoot, Placement};
use argus_pipeline::Metrics;

pub use ledger::StoreLedger;

use crate::args::parse_duration;
use crate::live::{self, StreamingJob};
use crate::replay::ClusterArgs;

/// Arguments of `argus pipeline`.
/// The topics the live services use, and the consumer group (shared by `argus pipeline`
/// and `argus serve`).
#[derive(Debug, clap::Args)]
pub struct TopicArgs {
    #[arg(long, default_value = "argus.files.ready")]
    pub topic: String,
    #[arg(long, default_value = "argus.files.dlq")]
    pub dlq_topic: String,
    /// The consumer group; it only stores offsets for monitoring (the store is the truth).
    #[arg(long, default_value = "argus-pipeline")]
    pub group: String,
}

impl TopicArgs {
    /// The Kafka feed's configuration for `brokers`.
    pub fn kafka_config(&self, brokers: &str) -> KafkaConfig {
        KafkaConfig {
            topic: self.topic.clone(),
            dlq_topic: self.dlq_topic.clone(),
            group: self.group.clone(),
            ..KafkaConfig::new(brokers)
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct PipelineArgs {
    /// Kafka bootstrap servers, `host:port[,…]`.
    #[arg(long)]
    pub brokers: String,
    #[command(flatten)]
    pub topics: TopicArgs,
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
    let (store, diagnoser) = live::open_store(&args.database_url, &runtime)?;

    let spool = args
        .spool
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("argus-pipeline-spool-{}", std::process::id())));
    let root = ObjectRoot::open(&args.object_store, &spool).map_err(anyhow::Error::msg)?;
    let kafka = args.topics.kafka_config(&args.brokers);
    let cluster = args.cluster.config();
    let placement =
        Placement { process: cluster.process, processes: cluster.processes, workers: cluster.workers };
    let mut ingest =
        KafkaIngest::start(&kafka, placement, Arc::new(StoreLedger(store.clone())), root, runtime.handle())
            .context("starting the kafka feed")?;
    let job = StreamingJob {
        k: args.k,
        batch_timeout: args.batch_timeout,
        cluster,
        store,
        diagnoser,
        runtime: runtime.handle().clone(),
        metrics,
        feeds: std::mem::take(&mut ingest.feeds),
    }
    .build(&runtime)?;

    // The dataflow runs on its own threads; this one waits for it or for a signal.
    let done = live::spawn_dataflow(job)?;
    let outcome = runtime.block_on(async {
        tokio::select! {
            signal = live::shutdown_signal() => Err(signal),
            result = done => Ok(result),
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
