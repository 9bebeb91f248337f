//! `argus replay ROOT --out OUT`: runs the dataflow over archived batches (a directory or
//! an object-store prefix) and writes the batch and fleet reports.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use argus_ingest::{DirFeed, SpoolConfig, StoreFeed, open_url};
use argus_pipeline::source::SourceConfig;
use argus_pipeline::{
    ClusterConfig, DataflowConfig, Feed, Job, JsonDirWriter, LocalResolver, Metrics, ReportWriter,
};
use argus_sinks::StoreWriter;

use crate::args::parse_duration;
use crate::progress::Progress;

/// Arguments of `argus replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A directory (or `file://`, `s3://bucket/prefix` URL) whose sub-directories are batches.
    pub root: String,
    /// Write the reports as OUT/batches/<batch_id>.json and OUT/fleet.json.
    #[arg(long, required_unless_present = "database_url")]
    pub out: Option<PathBuf>,
    /// Also (or instead) write each finished batch (status, files, report, diagnosis) to
    /// this store in one transaction: `postgres://…` or `sqlite://path?mode=rwc`. The
    /// schema is created or updated first. The LLM step is configured by ARGUS_LLM_*.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Entries in `top_errors`.
    #[arg(short, long, default_value_t = argus_pipeline::DEFAULT_K)]
    pub k: usize,
    /// Also write OUT/fleet-window.json over batches whose sessions ended within this
    /// window of the ingest clock (e.g. 24h, 90m).
    #[arg(long, value_parser = parse_duration)]
    pub window: Option<Duration>,
    /// Where objects from an object store are spooled before they are mapped.
    #[arg(long)]
    pub spool: Option<PathBuf>,
    /// Batches read but not yet written before reading pauses (bounds the files mapped and
    /// spooled at once); reading resumes when half of them are written.
    #[arg(long, default_value_t = default_max_batches_in_flight())]
    pub max_batches_in_flight: NonZeroUsize,
    /// Bytes of the files of the batches read but not yet written before reading pauses
    /// (e.g. 8GiB, 500MB); reading resumes when half of them are written. A batch larger
    /// than this is still read.
    #[arg(long, default_value = DEFAULT_MAX_BYTES_IN_FLIGHT, value_parser = parse_nonzero_size)]
    pub max_bytes_in_flight: u64,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `SourceConfig::default().max_bytes_in_flight`, spelled for `--help` (a test keeps them equal).
const DEFAULT_MAX_BYTES_IN_FLIGHT: &str = "8GiB";

fn parse_nonzero_size(text: &str) -> Result<u64, String> {
    match crate::args::parse_size(text)? {
        0 => Err("must be more than 0 bytes".to_owned()),
        bytes => Ok(bytes),
    }
}

fn default_max_batches_in_flight() -> NonZeroUsize {
    NonZeroUsize::new(SourceConfig::default().max_batches_in_flight).unwrap_or(NonZeroUsize::MIN)
}

/// Timely's cluster options, spelled as timely spells them.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Worker threads in this process.
    #[arg(short = 'w', long = "workers", default_value_t = 1)]
    pub workers: usize,
    /// Processes in the cluster.
    #[arg(short = 'n', long = "processes", default_value_t = 1)]
    pub processes: usize,
    /// This process's index in the cluster.
    #[arg(short = 'p', long = "process", default_value_t = 0)]
    pub process: usize,
    /// One host:port per line, in process order (default: 127.0.0.1:2101 + i).
    #[arg(long)]
    pub hostfile: Option<PathBuf>,
}

impl ClusterArgs {
    pub fn config(&self) -> ClusterConfig {
        ClusterConfig {
            workers: self.workers,
            processes: self.processes,
            process: self.process,
            hostfile: self.hostfile.clone(),
        }
    }
}

/// Where the batches come from.
pub(crate) enum Root {
    Dir(PathBuf),
    Store(argus_ingest::StoreAt),
}

pub(crate) fn root_of(root: &str) -> anyhow::Result<Root> {
    if let Some(path) = root.strip_prefix("file://") {
        return Ok(Root::Dir(PathBuf::from(path)));
    }
    if root.contains("://") {
        return Ok(Root::Store(open_url(root).with_context(|| format!("opening {root}"))?));
    }
    Ok(Root::Dir(PathBuf::from(root)))
}

pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    if args.k == 0 {
        bail!("-k must be at least 1");
    }
    let root = root_of(&args.root)?;
    if let Root::Dir(dir) = &root {
        if !dir.is_dir() {
            bail!("replay root {} is not a directory", dir.display());
        }
    }
    if let Some(out) = &args.out {
        JsonDirWriter::create(out).with_context(|| format!("cannot write reports to {}", out.display()))?;
    }

    let runtime = Arc::new(crate::runtime::start()?);
    let store = match &args.database_url {
        Some(url) => Some(crate::live::open_store(url, &runtime)?),
        None => None,
    };
    let spool = args
        .spool
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("argus-spool-{}", std::process::id())));
    let mut spool_config = SpoolConfig::new(spool.clone());
    spool_config.max_bytes_ahead = args.max_bytes_in_flight;
    let feed_source = match root {
        Root::Dir(dir) => FeedSource::Dir(dir),
        Root::Store(at) => FeedSource::Store(at, runtime.clone()),
    };
    // The feed is opened now, so that a missing root fails before the cluster starts.
    let (feed, spooling) = feed_source.open(spool_config)?;
    let first_feed = std::sync::Mutex::new(Some(feed));

    let out = args.out.clone();
    let store_handle = runtime.handle().clone();
    let metrics = Arc::new(Metrics::default());
    let writer_metrics = metrics.clone();
    let job = Job {
        dataflow: DataflowConfig {
            k: args.k,
            window: args.window,
            source: SourceConfig {
                max_batches_in_flight: args.max_batches_in_flight.get(),
                max_bytes_in_flight: args.max_bytes_in_flight,
                ..SourceConfig::default()
            },
            ..DataflowConfig::default()
        },
        cluster: args.cluster.config(),
        feeds: Arc::new(move |index, _peers| {
            if index != 0 {
                return None;
            }
            first_feed.lock().unwrap_or_else(|e| e.into_inner()).take().map(|f| f as Box<dyn Feed>)
        }),
        writers: Arc::new(move |_| {
            let mut writers: Vec<Box<dyn ReportWriter>> = Vec::new();
            if let Some(out) = &out {
                writers.push(Box::new(JsonDirWriter::create(out)?));
            }
            if let Some((store, diagnoser)) = &store {
                // Batches are stored on the runtime, acknowledged once committed; retries
                // of a store that is down count in `store_write_retries`.
                writers.push(Box::new(StoreWriter::new(
                    store.clone(),
                    diagnoser.clone(),
                    store_handle.clone(),
                    writer_metrics.clone(),
                )));
            }
            Ok(writers)
        }),
        resolver: Arc::new(LocalResolver),
        metrics: metrics.clone(),
        fleet_seed: Vec::new(),
    };
    let progress = Progress::start(metrics.clone());
    let result = argus_pipeline::run(job);
    progress.finish();
    // The spooling task removes each spooled file once its batch is durable, and what is
    // left once the dataflow dropped its feed; only a spool directory of our own making
    // goes too, never one the user named.
    if let Some(task) = spooling {
        if let Err(error) = runtime.block_on(task) {
            tracing::warn!(%error, "the spooling task failed");
        }
    }
    if args.spool.is_none() {
        let _ = std::fs::remove_dir_all(&spool);
    }
    result.context("replay failed")?;
    tracing::info!(
        batches = Metrics::get(&metrics.batches_finished),
        failed = Metrics::get(&metrics.batches_failed),
        files_rejected = Metrics::get(&metrics.files_rejected),
        files_partial = Metrics::get(&metrics.files_partial),
        bytes = Metrics::get(&metrics.bytes_parsed),
        records = Metrics::get(&metrics.records_parsed),
        store_write_retries = Metrics::get(&metrics.store_write_retries),
        "replay finished"
    );
    Ok(ExitCode::SUCCESS)
}

/// What the worker reading the input opens.
enum FeedSource {
    Dir(PathBuf),
    Store(argus_ingest::StoreAt, Arc<tokio::runtime::Runtime>),
}

/// The task that spools objects for a replay from an object store.
type Spooling = Option<tokio::task::JoinHandle<()>>;

impl FeedSource {
    fn open(self, spool: SpoolConfig) -> anyhow::Result<(Box<dyn Feed + Send>, Spooling)> {
        Ok(match self {
            FeedSource::Dir(dir) => (Box::new(DirFeed::open(Path::new(&dir))?), None),
            FeedSource::Store(at, runtime) => {
                let base = at.base.clone();
                let feed = runtime
                    .block_on(StoreFeed::open(at, spool.clone()))
                    .with_context(|| format!("listing {base}"))?;
                let (feed, task) = feed
                    .start(runtime.handle())
                    .with_context(|| format!("creating spool directory {}", spool.dir.display()))?;
                (Box::new(feed), Some(task))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_spells_the_default_byte_bound_and_zero_is_refused() {
        let default = parse_nonzero_size(DEFAULT_MAX_BYTES_IN_FLIGHT);
        assert_eq!(default, Ok(SourceConfig::default().max_bytes_in_flight));
        assert!(parse_nonzero_size("0").is_err());
        assert!(parse_nonzero_size("0GiB").is_err());
        assert_eq!(parse_nonzero_size("1B"), Ok(1));
    }
}
