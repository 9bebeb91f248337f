//! Running the dataflow on a timely cluster until its feed is finished.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::{ClusterConfig, ClusterError};
use crate::dataflow::{DataflowConfig, WorkerParts, build};
use crate::feed::Feed;
use crate::metrics::Metrics;
use crate::resolve::{FileResolver, MapCache};
use crate::sink::{ReportWriter, SinkError};
use crate::write::ErrorSlot;

/// Makes the feed of a worker, given its index and the number of workers; `None` for
/// workers that read no input.
pub type FeedFactory = Arc<dyn Fn(usize, usize) -> Option<Box<dyn Feed>> + Send + Sync>;

/// Makes the report writers of a worker, given its index.
pub type WriterFactory = Arc<dyn Fn(usize) -> Result<Vec<Box<dyn ReportWriter>>, SinkError> + Send + Sync>;

/// A job: the dataflow, its inputs and outputs, and the cluster it runs on.
pub struct Job {
    pub dataflow: DataflowConfig,
    pub cluster: ClusterConfig,
    pub feeds: FeedFactory,
    pub writers: WriterFactory,
    pub resolver: Arc<dyn FileResolver>,
    /// Counters of this process, readable while the job runs.
    pub metrics: Arc<Metrics>,
    /// Completed batches a restart counts into the fleet before anything new (read from
    /// the store); empty for a replay.
    pub fleet_seed: Vec<crate::fleet::FleetEntry>,
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("starting timely: {0}")]
    Timely(String),
    #[error("creating report writers: {0}")]
    Writers(String),
    #[error("{0}")]
    Write(String),
    #[error("a worker failed: {0}")]
    Worker(String),
}

/// Runs the job until the feed is finished and everything is durably written (every
/// batch acknowledged), or until a write fails for good.
pub fn run(job: Job) -> Result<(), RunError> {
    let config = job.cluster.timely_config()?;
    let cache = MapCache::new(job.resolver.clone());
    let errors = ErrorSlot::default();
    let worker_errors = errors.clone();
    let Job { dataflow, feeds, writers, metrics, fleet_seed, .. } = job;
    // The seed goes to the first worker of the cluster (process 0 reads it from the store).
    let fleet_seed = std::sync::Mutex::new(Some(fleet_seed));
    let guards = timely::execute(config, move |worker| -> Result<(), RunError> {
        let (index, peers) = (worker.index(), worker.peers());
        let writers: Vec<Box<dyn ReportWriter>> = match writers(index) {
            Ok(w) => w,
            Err(error) => {
                // Still build the dataflow: every worker must build the same operators, or
                // the others would wait for this one forever.
                worker_errors.set(format!("creating report writers: {error}"));
                Vec::new()
            }
        };
        let parts = WorkerParts {
            feed: feeds(index, peers),
            cache: cache.clone(),
            writers: Rc::new(RefCell::new(writers)),
            errors: worker_errors.clone(),
            metrics: metrics.clone(),
            fleet_seed: if index == 0 {
                fleet_seed.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default()
            } else {
                Vec::new()
            },
        };
        let durable = worker.dataflow::<crate::items::Time, _, _>(|scope| build(scope, &dataflow, parts));
        // Done only when every time is durable: every batch acknowledged by every writer,
        // wherever its write runs. Parking is safe: an ack unparks the worker through the
        // sink's activator; the timeout bounds how late an error of another worker is seen.
        while !durable.done() {
            if let Some(error) = worker_errors.get() {
                // A batch that failed for good holds its time forever, so the dataflow
                // would never finish: drop it, or timely would keep stepping it after
                // this closure returns. Every worker of the process sees the error.
                for dataflow in worker.installed_dataflows() {
                    worker.drop_dataflow(dataflow);
                }
                return Err(RunError::Write(error));
            }
            worker.step_or_park(Some(Duration::from_millis(50)));
        }
        match worker_errors.get() {
            Some(error) => Err(RunError::Write(error)),
            None => Ok(()),
        }
    })
    .map_err(RunError::Timely)?;
    let mut first_error = None;
    for result in guards.join() {
        let outcome = result.map_err(RunError::Worker).and_then(|r| r);
        if let Err(error) = outcome {
            first_error.get_or_insert(error);
        }
    }
    if let Some(error) = errors.get() {
        return Err(RunError::Write(error));
    }
    first_error.map_or(Ok(()), Err)
}
