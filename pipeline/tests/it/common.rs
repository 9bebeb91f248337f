//! What the pipeline's tests share: a capturing report writer, small batches (from
//! `argus-datasets`), a job around a feed, and a bounded wait.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_datasets::SmallBatch;
use argus_pipeline::{
    BatchAck, ClusterConfig, DataflowConfig, FileReady, FinishedBatch, FleetReport, Job, LocalResolver,
    Metrics, ReportWriter, SinkError,
};

/// Captures what the dataflow writes, acknowledging each batch at once.
#[derive(Clone, Default)]
pub struct Capture {
    pub batches: Arc<Mutex<Vec<FinishedBatch>>>,
    pub fleet: Arc<Mutex<Option<FleetReport>>>,
    pub window: Arc<Mutex<Option<FleetReport>>>,
    /// Every progress call: (batch id, files parsed, file count).
    pub progress: Arc<Mutex<Vec<(String, u32, u32)>>>,
}

impl ReportWriter for Capture {
    fn write_batch(&mut self, batch: Arc<FinishedBatch>, ack: BatchAck) {
        self.batches.lock().unwrap().push(FinishedBatch::clone(&batch));
        ack.durable();
    }
    fn write_fleet(&mut self, fleet: &FleetReport) -> Result<(), SinkError> {
        *self.fleet.lock().unwrap() = Some(fleet.clone());
        Ok(())
    }
    fn write_fleet_window(&mut self, fleet: &FleetReport) -> Result<(), SinkError> {
        *self.window.lock().unwrap() = Some(fleet.clone());
        Ok(())
    }
    fn file_parsed(&mut self, batch_id: &str, files_parsed: u32, file_count: u32) {
        self.progress.lock().unwrap().push((batch_id.to_owned(), files_parsed, file_count));
    }
}

/// Writes one batch directory: 1 to 3 files (by seed) of 50–150 records over a skewed mix
/// of 12 codes, from one of 7 vehicles, so that codes recur across batches and VINs.
pub fn write_batch(dir: &Path, seed: u64, session_start_ns: u64) -> Vec<FileReady> {
    let batch = SmallBatch {
        seed,
        files: 1 + (seed % 3) as u32,
        records: 50..150,
        codes: 12,
        vehicles: 7,
        session_start_ns,
        record_gap_ns: 1_000_000,
        chunk_bytes: 2048,
    };
    let files = batch.write(dir).unwrap();
    let batch_id = dir.file_name().unwrap().to_string_lossy().into_owned();
    let file_count = files.len() as u32;
    files
        .into_iter()
        .map(|file| FileReady {
            batch_id: batch_id.clone(),
            file_id: file.file_id,
            location: file.path.to_string_lossy().into_owned(),
            file_count,
            size: Some(file.bytes),
            position: None,
        })
        .collect()
}

/// Writes `count` batches `{prefix}-{i:03}` under `dir`, one second of session apart.
pub fn write_batches(dir: &Path, prefix: &str, count: u64) -> Vec<Vec<FileReady>> {
    (0..count)
        .map(|i| write_batch(&dir.join(format!("{prefix}-{i:03}")), i, SESSION_NS + i * 1_000_000_000))
        .collect()
}

pub fn job(
    feed: Box<dyn argus_pipeline::Feed + Send>,
    capture: Capture,
    config: DataflowConfig,
    workers: usize,
) -> Job {
    let feed = Mutex::new(Some(feed));
    Job {
        dataflow: config,
        cluster: ClusterConfig::single(workers),
        feeds: Arc::new(move |index, _| {
            if index == 0 {
                feed.lock().unwrap().take().map(|f| f as Box<dyn argus_pipeline::Feed>)
            } else {
                None
            }
        }),
        writers: Arc::new(move |_| Ok(vec![Box::new(capture.clone()) as Box<dyn ReportWriter>])),
        resolver: Arc::new(LocalResolver),
        metrics: Arc::new(Metrics::default()),
        fleet_seed: Vec::new(),
    }
}

/// Runs a job to its end, failing the test rather than hanging it when the dataflow does
/// not finish (a source that never unblocks, say) within two minutes.
pub fn run_to_end(job: Job) {
    use std::sync::mpsc::RecvTimeoutError;
    let (done, finished) = std::sync::mpsc::channel();
    let run = std::thread::spawn(move || done.send(argus_pipeline::run(job)));
    match finished.recv_timeout(Duration::from_secs(120)) {
        Ok(result) => result.expect("the dataflow runs"),
        Err(RecvTimeoutError::Timeout) => panic!("the dataflow did not finish within 120 s"),
        // The run panicked before it could answer: pass its panic on.
        Err(RecvTimeoutError::Disconnected) => match run.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(_) => unreachable!("a run that returned has sent its result"),
        },
    }
}

pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub use argus_datasets::small_batch::SESSION_NS;
