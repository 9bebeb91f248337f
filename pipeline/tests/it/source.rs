//! The source's backpressure: it never opens more than `max_batches_in_flight` batches
//! ahead of what is written, and while blocked it still takes the files of open batches.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use argus_pipeline::source::SourceConfig;
use argus_pipeline::{BatchStatus, ChannelFeed, DataflowConfig, Feed, FeedEvent, FeedState, FileReady};

use crate::common::{Capture, SESSION_NS, job, write_batch, write_batches};

/// A feed that lists whole batches, like a replay directory, and notes how far ahead of
/// the written batches the source ever asked it to be.
struct AheadFeed {
    batches: VecDeque<Vec<FileReady>>,
    given: usize,
    written: Arc<Mutex<Vec<argus_pipeline::FinishedBatch>>>,
    max_ahead: Arc<AtomicUsize>,
}

impl Feed for AheadFeed {
    fn poll(&mut self, max: usize, out: &mut Vec<FeedEvent>) -> FeedState {
        let before = out.len();
        while out.len() - before < max {
            let Some(files) = self.batches.pop_front() else { break };
            out.extend(files.into_iter().map(FeedEvent::File));
            self.given += 1;
        }
        let ahead = self.given - self.written.lock().unwrap().len();
        self.max_ahead.fetch_max(ahead, Ordering::SeqCst);
        if self.batches.is_empty() { FeedState::Finished } else { FeedState::Ready }
    }
}

#[test]
fn a_replay_opens_no_more_batches_than_allowed_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let batches: VecDeque<Vec<FileReady>> = write_batches(dir.path(), "b", 40).into();
    for workers in [1, 2] {
        let capture = Capture::default();
        let max_ahead = Arc::new(AtomicUsize::new(0));
        let feed = AheadFeed {
            batches: batches.clone(),
            given: 0,
            written: capture.batches.clone(),
            max_ahead: max_ahead.clone(),
        };
        let config = DataflowConfig {
            source: SourceConfig { max_batches_in_flight: 3, ..SourceConfig::default() },
            ..DataflowConfig::default()
        };
        argus_pipeline::run(job(Box::new(feed), capture.clone(), config, workers)).unwrap();

        let written = capture.batches.lock().unwrap();
        assert_eq!(written.len(), 40, "-w {workers}: every batch is written");
        assert!(written.iter().all(|b| b.report.status == BatchStatus::Completed));
        let ahead = max_ahead.load(Ordering::SeqCst);
        assert!(ahead <= 3, "-w {workers}: the source asked for {ahead} batches ahead of the written ones");
    }
}

#[test]
fn a_blocked_source_still_takes_the_files_of_an_open_batch() {
    let dir = tempfile::tempdir().unwrap();
    // Seeds 1 and 0 give batches of two files and one file.
    let a = write_batch(&dir.path().join("a"), 1, SESSION_NS);
    let b = write_batch(&dir.path().join("b"), 0, SESSION_NS + 1_000_000_000);
    assert_eq!((a.len(), b.len()), (2, 1));

    // One batch in flight, one event per activation: `a` opens and blocks the source, and
    // its second file comes only after `b`'s, which must wait. Were the source to stop
    // polling, `a` would time out incomplete.
    let config = DataflowConfig {
        source: SourceConfig {
            max_batches_in_flight: 1,
            events_per_activation: 1,
            batch_timeout: Duration::from_secs(5),
            ..SourceConfig::default()
        },
        ..DataflowConfig::default()
    };
    let (tx, rx) = mpsc::channel();
    for file in [&a[0], &b[0], &a[1]] {
        tx.send(FeedEvent::File(file.clone())).unwrap();
    }
    drop(tx);
    let capture = Capture::default();
    argus_pipeline::run(job(Box::new(ChannelFeed::new(rx)), capture.clone(), config, 2)).unwrap();

    let written = capture.batches.lock().unwrap();
    let ids: Vec<&str> = written.iter().map(|b| b.report.batch_id.as_str()).collect();
    assert_eq!(ids, ["a", "b"], "`b` waits until `a` is written");
    for batch in written.iter() {
        assert_eq!(batch.report.status, BatchStatus::Completed, "{}", batch.report.batch_id);
    }
    assert_eq!(written[0].report.files.len(), 2);
}
