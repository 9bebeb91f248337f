//! The fleet Top-K inside one running dataflow: incremental updates give the same report
//! as a run over everything at once, and the windowed view retracts expired batches.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_parser::{Compression, KIND_DTC, KIND_LOG, RecWriter, Record, WriterConfig};
use argus_pipeline::{
    ChannelFeed, ClusterConfig, DataflowConfig, FeedEvent, FileReady, FinishedBatch, FleetReport, Job,
    LocalResolver, Metrics, ReportWriter, SinkError, VecFeed,
};

/// Captures what the dataflow writes.
#[derive(Clone, Default)]
struct Capture {
    batches: Arc<Mutex<Vec<FinishedBatch>>>,
    fleet: Arc<Mutex<Option<FleetReport>>>,
    window: Arc<Mutex<Option<FleetReport>>>,
}

impl ReportWriter for Capture {
    fn write_batch(&mut self, batch: &FinishedBatch) -> Result<(), SinkError> {
        self.batches.lock().unwrap().push(batch.clone());
        Ok(())
    }
    fn write_fleet(&mut self, fleet: &FleetReport) -> Result<(), SinkError> {
        *self.fleet.lock().unwrap() = Some(fleet.clone());
        Ok(())
    }
    fn write_fleet_window(&mut self, fleet: &FleetReport) -> Result<(), SinkError> {
        *self.window.lock().unwrap() = Some(fleet.clone());
        Ok(())
    }
}

const CODES: [u32; 12] = [
    0x03_0100, 0x03_0200, 0x01_7100, 0x04_2000, 0xC1_0087, 0xC1_4000, 0x40_5610, 0x91_2300, 0x7F_FF1A,
    0x00_0111, 0x02_9900, 0x06_0000,
];

/// Writes one batch directory with a skewed, seed-dependent mix of codes.
fn write_batch(dir: &Path, seed: u64, session_start_ns: u64) -> Vec<FileReady> {
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
            }
        })
        .collect()
}

fn job(
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
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

const SESSION_NS: u64 = 1_767_225_600_000_000_000;

#[test]
fn one_more_batch_updates_the_fleet_like_a_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let batches: Vec<Vec<FileReady>> = (0..101u64)
        .map(|i| write_batch(&dir.path().join(format!("batch-{i:03}")), i, SESSION_NS + i * 1_000_000_000))
        .collect();

    // One running dataflow: 100 batches, then one more.
    let (tx, rx) = mpsc::channel();
    let live = Capture::default();
    let handle = {
        let job = job(Box::new(ChannelFeed::new(rx)), live.clone(), DataflowConfig::default(), 2);
        std::thread::spawn(move || argus_pipeline::run(job))
    };
    for files in &batches[..100] {
        files.iter().for_each(|f| tx.send(FeedEvent::File(f.clone())).unwrap());
    }
    wait_until("100 batches", || live.fleet.lock().unwrap().as_ref().is_some_and(|f| f.batches == 100));
    let after_100 = live.fleet.lock().unwrap().clone().unwrap();
    batches[100].iter().for_each(|f| tx.send(FeedEvent::File(f.clone())).unwrap());
    wait_until("101 batches", || live.fleet.lock().unwrap().as_ref().is_some_and(|f| f.batches == 101));
    drop(tx);
    handle.join().unwrap().unwrap();
    let incremental = live.fleet.lock().unwrap().clone().unwrap();

    // All 101 at once, in a fresh dataflow with one worker.
    let all = Capture::default();
    let events = batches.iter().flatten().cloned().map(FeedEvent::File);
    argus_pipeline::run(job(Box::new(VecFeed::new(events)), all.clone(), DataflowConfig::default(), 1))
        .unwrap();
    let at_once = all.fleet.lock().unwrap().clone().unwrap();

    assert_eq!(incremental, at_once);
    assert_ne!(after_100, incremental, "the 101st batch must change the fleet report");
    // And both equal the fleet computed directly from the batch reports.
    let reference = FleetReport::from_batches(all.batches.lock().unwrap().iter(), 10);
    assert_eq!(at_once, reference);
    assert_eq!(at_once.top_errors.len(), 10);
}

#[test]
fn the_windowed_fleet_retracts_an_expired_batch() {
    let dir = tempfile::tempdir().unwrap();
    let now_ms = Arc::new(AtomicU64::new(SESSION_NS / 1_000_000 + 3_600_000));
    let clock_ms = now_ms.clone();
    let config = DataflowConfig {
        window: Some(Duration::from_secs(3600)),
        source: argus_pipeline::source::SourceConfig {
            clock: Arc::new(move || clock_ms.load(Ordering::SeqCst)),
            idle_tick: Duration::from_millis(10),
            ..Default::default()
        },
        ..DataflowConfig::default()
    };
    // `old` ended its session 50 minutes before "now", `new` 1 minute before.
    let old = write_batch(&dir.path().join("old"), 1, SESSION_NS + 600_000_000_000);
    let new = write_batch(&dir.path().join("new"), 2, SESSION_NS + 3_540_000_000_000);

    let (tx, rx) = mpsc::channel();
    let capture = Capture::default();
    let handle = {
        let job = job(Box::new(ChannelFeed::new(rx)), capture.clone(), config, 2);
        std::thread::spawn(move || argus_pipeline::run(job))
    };
    old.iter().chain(&new).for_each(|f| tx.send(FeedEvent::File(f.clone())).unwrap());
    // The frontier passes a batch's time only once the ingest clock moves past it: tick.
    let tick = || now_ms.fetch_add(1, Ordering::SeqCst);
    wait_until("both batches in the window", || {
        tick();
        capture.window.lock().unwrap().as_ref().is_some_and(|w| w.batches == 2)
    });
    let both = capture.window.lock().unwrap().clone().unwrap();

    // Twenty minutes later `old` has left the one-hour window; `new` has not.
    now_ms.fetch_add(20 * 60_000, Ordering::SeqCst);
    wait_until("the old batch retracted", || {
        tick();
        capture.window.lock().unwrap().as_ref().is_some_and(|w| w.batches == 1)
    });
    let later = capture.window.lock().unwrap().clone().unwrap();
    drop(tx);
    handle.join().unwrap().unwrap();

    let batches = capture.batches.lock().unwrap().clone();
    let only_new: Vec<_> = batches.iter().filter(|b| b.report.batch_id == "new").cloned().collect();
    assert_eq!(later, FleetReport::from_batches(only_new.iter(), 10));
    assert_eq!(both, FleetReport::from_batches(batches.iter(), 10));
    // The all-time fleet keeps both.
    assert_eq!(capture.fleet.lock().unwrap().as_ref().unwrap().batches, 2);
}
