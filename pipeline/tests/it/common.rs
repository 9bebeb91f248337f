//! What the pipeline's tests share: a capturing report writer, a batch generator, a job
//! around a feed, and a bounded wait.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_parser::{Compression, KIND_DTC, KIND_LOG, RecWriter, Record, WriterConfig};
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

const CODES: [u32; 12] = [
    0x03_0100, 0x03_0200, 0x01_7100, 0x04_2000, 0xC1_0087, 0xC1_4000, 0x40_5610, 0x91_2300, 0x7F_FF1A,
    0x00_0111, 0x02_9900, 0x06_0000,
];

/// Writes one batch directory with a skewed, seed-dependent mix of codes.
pub fn write_batch(dir: &Path, seed: u64, session_start_ns: u64) -> Vec<FileReady> {
    std::fs::create_dir_all(dir).unwrap();
    let vin = format!("VIN{:014}", seed % 7);
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        state >> 33
    };
    let files = 1 + (seed % 3) as usize;
    let batch_id = dir.file_name().unwrap().to_string_lossy().into_owned();
    (0..files)
        .map(|f| {
            let path = dir.join(format!("seg-{f:02}.rec"));
            let config = WriterConfig { chunk_bytes: 2048, compression: Compression::None, zstd_level: 1 };
            let out = std::fs::File::create(&path).unwrap();
            let mut writer =
                RecWriter::new(out, vin.as_bytes().try_into().unwrap(), session_start_ns, "fw", config)
                    .unwrap();
            for i in 0..(50 + next() % 100) {
                let pick = (next() % 64) as usize;
                let code = CODES[(pick * pick / 400).min(CODES.len() - 1)];
                let log = next() % 4 == 0;
                let record = Record {
                    kind: if log { KIND_LOG } else { KIND_DTC },
                    severity: (next() % 6) as u8,
                    ecu: 0x07E0 + (next() % 3) as u16,
                    ts_ns: session_start_ns + i * 1_000_000,
                    code: if log { (next() % 3) as u32 * 100 } else { code },
                    dtc_status: (next() % 16) as u8,
                    message: b"m",
                };
                writer.push(&record).unwrap();
            }
            writer.finish().unwrap();
            FileReady {
                batch_id: batch_id.clone(),
                file_id: format!("seg-{f:02}.rec"),
                location: path.to_string_lossy().into_owned(),
                file_count: files as u32,
                size: Some(std::fs::metadata(&path).unwrap().len()),
                position: None,
            }
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

pub const SESSION_NS: u64 = 1_767_225_600_000_000_000;
