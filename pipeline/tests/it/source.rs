//! The source's backpressure: it never opens more than `max_batches_in_flight` batches,
//! nor more than `max_bytes_in_flight` bytes plus one batch, ahead of what is written, and
//! while blocked it still takes the files of open batches.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use argus_pipeline::source::SourceConfig;
use argus_pipeline::{BatchStatus, ChannelFeed, DataflowConfig, Feed, FeedEvent, FeedState, FileReady};

use crate::common::{Capture, SESSION_NS, job, run_to_end, write_batch, write_batches};

/// The most the source ever had opened ahead of the written batches.
#[derive(Default)]
struct Ahead {
    batches: AtomicUsize,
    bytes: AtomicU64,
}

/// A feed that lists whole batches, like a replay directory, and notes in [`Ahead`] how
/// far ahead of the written batches the source ever asked it to be.
struct AheadFeed {
    batches: VecDeque<Vec<FileReady>>,
    given: (usize, u64),
    written: Arc<Mutex<Vec<argus_pipeline::FinishedBatch>>>,
    ahead: Arc<Ahead>,
}

impl AheadFeed {
    fn new(batches: VecDeque<Vec<FileReady>>, capture: &Capture) -> (Self, Arc<Ahead>) {
        let ahead = Arc::new(Ahead::default());
        (Self { batches, given: (0, 0), written: capture.batches.clone(), ahead: ahead.clone() }, ahead)
    }
}

impl Feed for AheadFeed {
    fn poll(&mut self, max: usize, out: &mut Vec<FeedEvent>) -> FeedState {
        let before = out.len();
        while out.len() - before < max {
            let Some(files) = self.batches.pop_front() else { break };
            self.given.0 += 1;
            self.given.1 += batch_bytes(&files);
            out.extend(files.into_iter().map(FeedEvent::File));
        }
        let written = self.written.lock().unwrap();
        let written_bytes: u64 = written.iter().flat_map(|b| &b.report.files).map(|f| f.stats.bytes).sum();
        self.ahead.batches.fetch_max(self.given.0 - written.len(), Ordering::SeqCst);
        self.ahead.bytes.fetch_max(self.given.1 - written_bytes, Ordering::SeqCst);
        if self.batches.is_empty() { FeedState::Finished } else { FeedState::Ready }
    }
}

fn batch_bytes(files: &[FileReady]) -> u64 {
    files.iter().map(|f| f.size.expect("the test's files have sizes")).sum()
}

/// Replays `batches` through an [`AheadFeed`]; every batch must come out completed.
fn replay_ahead(batches: &VecDeque<Vec<FileReady>>, source: SourceConfig, workers: usize) -> Arc<Ahead> {
    let capture = Capture::default();
    let (feed, ahead) = AheadFeed::new(batches.clone(), &capture);
    let config = DataflowConfig { source, ..DataflowConfig::default() };
    run_to_end(job(Box::new(feed), capture.clone(), config, workers));
    let written = capture.batches.lock().unwrap();
    assert_eq!(written.len(), batches.len(), "-w {workers}: every batch is written");
    assert!(written.iter().all(|b| b.report.status == BatchStatus::Completed));
    ahead
}

#[test]
fn a_replay_opens_no_more_batches_than_allowed_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let batches: VecDeque<Vec<FileReady>> = write_batches(dir.path(), "b", 40).into();
    for workers in [1, 2] {
        let source = SourceConfig { max_batches_in_flight: 3, ..SourceConfig::default() };
        let ahead = replay_ahead(&batches, source, workers).batches.load(Ordering::SeqCst);
        assert!(ahead <= 3, "-w {workers}: the source asked for {ahead} batches ahead of the written ones");
    }
}

/// The byte bound holds the bytes in flight below it plus one batch (the one that crossed
/// it), and batches larger than the bound still go through, one at a time.
#[test]
fn a_replay_keeps_the_bytes_in_flight_near_their_bound() {
    let dir = tempfile::tempdir().unwrap();
    let batches: VecDeque<Vec<FileReady>> = write_batches(dir.path(), "b", 40).into();
    let largest = batches.iter().map(|b| batch_bytes(b)).max().unwrap();
    let three_batches = 3 * batches.iter().map(|b| batch_bytes(b)).sum::<u64>() / 40;
    for max_bytes in [1, three_batches] {
        for workers in [1, 2] {
            let source = SourceConfig {
                max_batches_in_flight: 1000,
                max_bytes_in_flight: max_bytes,
                ..SourceConfig::default()
            };
            let ahead = replay_ahead(&batches, source, workers);
            if max_bytes == 1 {
                let batches_ahead = ahead.batches.load(Ordering::SeqCst);
                assert_eq!(batches_ahead, 1, "-w {workers}: every batch is over the bound");
            }
            let ahead = ahead.bytes.load(Ordering::SeqCst);
            assert!(
                ahead < max_bytes + largest,
                "{max_bytes} B, -w {workers}: {ahead} bytes were opened ahead of the written batches \
                 (the largest batch has {largest})"
            );
        }
    }
}

#[test]
fn a_blocked_source_still_takes_the_files_of_an_open_batch() {
    let dir = tempfile::tempdir().unwrap();
    // Seeds 1 and 0 give batches of two files and one file.
    let a = write_batch(&dir.path().join("a"), 1, SESSION_NS);
    let b = write_batch(&dir.path().join("b"), 0, SESSION_NS + 1_000_000_000);
    assert_eq!((a.len(), b.len()), (2, 1));

    // One event per activation, and a bound that one batch reaches, first by its count of
    // batches, then by the bytes of `a`'s first file; `a`'s second file comes only after
    // `b`'s. `b`, complete first, enters first and blocks the source; were the blocked
    // source to stop polling, `a` would time out incomplete.
    let bounds = [
        ("one batch", SourceConfig { max_batches_in_flight: 1, ..SourceConfig::default() }),
        (
            "a's first file's bytes",
            SourceConfig { max_bytes_in_flight: a[0].size.unwrap(), ..SourceConfig::default() },
        ),
    ];
    for (bound, source) in bounds {
        let source =
            SourceConfig { events_per_activation: 1, batch_timeout: Duration::from_secs(5), ..source };
        let config = DataflowConfig { source, ..DataflowConfig::default() };
        let (tx, rx) = mpsc::channel();
        for file in [&a[0], &b[0], &a[1]] {
            tx.send(FeedEvent::File(file.clone())).unwrap();
        }
        drop(tx);
        let capture = Capture::default();
        run_to_end(job(Box::new(ChannelFeed::new(rx)), capture.clone(), config, 2));

        let written = capture.batches.lock().unwrap();
        let ids: Vec<&str> = written.iter().map(|b| b.report.batch_id.as_str()).collect();
        assert_eq!(ids, ["b", "a"], "{bound}: a batch enters when its files are all in");
        for batch in written.iter() {
            assert_eq!(batch.report.status, BatchStatus::Completed, "{bound}: {}", batch.report.batch_id);
        }
        assert_eq!(written[1].report.files.len(), 2, "{bound}: a has both its files");
    }
}
