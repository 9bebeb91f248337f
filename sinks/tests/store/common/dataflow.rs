//! The dataflow around a [`StoreWriter`]: rec files for small batches, a live feed that
//! shows the durable frontier, and a job that stores through the writer.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argus_parser::{Compression, KIND_DTC, RecWriter, Record, WriterConfig};
use argus_pipeline::source::SourceConfig;
use argus_pipeline::{
    ChannelFeed, ClusterConfig, DataflowConfig, Feed, FeedEvent, FeedState, FileReady, Job, LocalResolver,
    Metrics, Position, ReportWriter,
};
use argus_sinks::StoreWriter;

pub const SESSION_NS: u64 = 1_767_225_600_000_000_000;

/// One batch of one file under `dir/batch_id`: `records` failed DTCs of two codes.
pub fn rec_batch(dir: &Path, batch_id: &str, records: u64) -> Vec<FeedEvent> {
    let dir = dir.join(batch_id);
    std::fs::create_dir_all(&dir).expect("batch dir");
    let path = dir.join("seg-00.rec");
    let config = WriterConfig { chunk_bytes: 2048, compression: Compression::None, zstd_level: 1 };
    let out = std::fs::File::create(&path).expect("rec file");
    let vin = b"WVWST0RE000000001";
    let mut writer = RecWriter::new(out, vin, SESSION_NS, "fw-1.0", config).expect("writer");
    for i in 0..records {
        let record = Record {
            kind: KIND_DTC,
            severity: 3,
            ecu: 0x07E0,
            ts_ns: SESSION_NS + i * 1_000_000,
            code: if i % 3 == 0 { 0x03_0200 } else { 0x03_0100 },
            dtc_status: 0x09,
            message: b"m",
        };
        writer.push(&record).expect("record");
    }
    writer.finish().expect("finish");
    vec![FeedEvent::File(FileReady {
        batch_id: batch_id.to_owned(),
        file_id: "seg-00.rec".into(),
        location: path.to_string_lossy().into_owned(),
        file_count: 1,
        size: Some(std::fs::metadata(&path).expect("size").len()),
        position: None,
    })]
}

/// A channel feed that numbers the file events it passes on (offsets 0, 1, … of one
/// partition) and remembers the latest commit point the source told it: an event is
/// durable once the point is past its offset.
pub struct WatchedFeed {
    inner: ChannelFeed,
    next_offset: i64,
    committed: Arc<AtomicU64>,
}

impl Feed for WatchedFeed {
    fn poll(&mut self, max: usize, out: &mut Vec<FeedEvent>) -> FeedState {
        let from = out.len();
        let state = self.inner.poll(max, out);
        for event in &mut out[from..] {
            if let FeedEvent::File(file) = event {
                file.position = Some(Position { partition: 0, offset: self.next_offset });
                self.next_offset += 1;
            }
        }
        state
    }

    fn commit(&mut self, points: &[Position]) {
        for point in points {
            self.committed.fetch_max(u64::try_from(point.offset).unwrap_or(0), Ordering::SeqCst);
        }
    }
}

/// A live feed with a clock stopped at `now`: a batch sent enters at `now`, and the
/// returned counter shows the commit point (the first event sent is durable once it is
/// above 0).
pub fn live_feed(now: u64) -> (Sender<FeedEvent>, Box<dyn Feed + Send>, Arc<AtomicU64>, SourceConfig) {
    let (tx, rx) = mpsc::channel();
    let committed = Arc::new(AtomicU64::new(0));
    let feed = WatchedFeed { inner: ChannelFeed::new(rx), next_offset: 0, committed: committed.clone() };
    let source = SourceConfig {
        clock: Arc::new(move || now),
        idle_tick: Duration::from_millis(5),
        ..SourceConfig::default()
    };
    (tx, Box::new(feed), committed, source)
}

/// A one-worker job reading `feed` and storing through `writer`.
pub fn store_job(
    feed: Box<dyn Feed + Send>,
    writer: StoreWriter,
    source: SourceConfig,
    metrics: Arc<Metrics>,
) -> Job {
    let feed = Mutex::new(Some(feed));
    Job {
        dataflow: DataflowConfig { source, ..DataflowConfig::default() },
        cluster: ClusterConfig::single(1),
        feeds: Arc::new(move |index, _| {
            if index == 0 { feed.lock().unwrap().take().map(|f| f as Box<dyn Feed>) } else { None }
        }),
        writers: Arc::new(move |_| Ok(vec![Box::new(writer.clone()) as Box<dyn ReportWriter>])),
        resolver: Arc::new(LocalResolver),
        metrics,
        fleet_seed: Vec::new(),
    }
}

/// Polls `done` every few milliseconds until it holds; fails the test after `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
