//! The embedded queue: events the API queues reach the dataflow's feed through the same
//! intake as Kafka's (repeats and final batches passed over, missing objects rejected,
//! status steps committed), and a shutdown finishes the feed.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_ingest::TaskFeed;
use argus_ingest::event::FileReadyEvent;
use argus_ingest::ledger::{BatchStep, Ledger, LedgerError};
use argus_ingest::objects::ObjectRoot;
use argus_ingest::queue::QueueIngest;
use argus_pipeline::{Feed, FeedEvent, FeedState, Position};

/// A ledger in memory: which batches are final, and the steps committed.
#[derive(Debug, Default)]
struct MemoryLedger {
    finals: HashSet<String>,
    steps: Mutex<Vec<(String, BatchStep)>>,
}

impl Ledger for MemoryLedger {
    async fn stored_offsets(&self, _topic: &str) -> Result<Vec<Position>, LedgerError> {
        Ok(Vec::new())
    }
    async fn is_final(&self, batch_id: &str) -> Result<bool, LedgerError> {
        Ok(self.finals.contains(batch_id))
    }
    async fn record_offsets(&self, _topic: &str, _points: &[Position]) -> Result<(), LedgerError> {
        Ok(())
    }
    async fn batch_step(
        &self,
        batch_id: &str,
        step: BatchStep,
        _vin: Option<&str>,
    ) -> Result<(), LedgerError> {
        self.steps.lock().unwrap().push((batch_id.to_owned(), step));
        Ok(())
    }
}

fn event(batch_id: &str, file_id: &str, size: u64, file_count: u32) -> FileReadyEvent {
    FileReadyEvent {
        batch_id: batch_id.into(),
        file_id: file_id.into(),
        uri: format!("batches/{batch_id}/{file_id}"),
        size,
        file_count,
        vin: None,
        vehicle_id: None,
        uploaded_at: None,
    }
}

fn poll_until(
    feed: &mut TaskFeed,
    what: &str,
    mut done: impl FnMut(&[FeedEvent], FeedState) -> bool,
) -> Vec<FeedEvent> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut events = Vec::new();
    loop {
        let state = feed.poll(64, &mut events);
        if done(&events, state) {
            return events;
        }
        assert!(Instant::now() < deadline, "{what}: got {events:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn queued_events_pass_the_intake_and_a_shutdown_finishes_the_feed() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let root = tempfile::tempdir().unwrap();
    for (batch, file) in [("b1", "x.rec"), ("b1", "y.rec"), ("done", "z.rec")] {
        std::fs::create_dir_all(root.path().join("batches").join(batch)).unwrap();
        std::fs::write(root.path().join("batches").join(batch).join(file), b"12345").unwrap();
    }
    let ledger =
        Arc::new(MemoryLedger { finals: HashSet::from(["done".to_owned()]), ..MemoryLedger::default() });
    let objects = ObjectRoot::open(&root.path().to_string_lossy(), &root.path().join("spool")).unwrap();
    let (queue, mut ingest) = QueueIngest::start(ledger.clone(), objects, runtime.handle());
    let mut feed = ingest.feed.take().unwrap();

    queue.push(vec![event("b1", "x.rec", 5, 2), event("done", "z.rec", 5, 1)]).unwrap();
    queue
        .push(vec![event("b1", "x.rec", 5, 2), event("b1", "gone.rec", 5, 2), event("b1", "y.rec", 5, 2)])
        .unwrap();
    let events = poll_until(&mut feed, "five events", |e, _| e.len() == 5);
    let files: Vec<(&str, i64)> = events
        .iter()
        .filter_map(|e| match e {
            FeedEvent::File(f) => Some((f.file_id.as_str(), f.position.unwrap().offset)),
            _ => None,
        })
        .collect();
    assert_eq!(
        files,
        [("x.rec", 0), ("y.rec", 4)],
        "the repeat, the final batch and the missing object pass"
    );
    let passed: Vec<&FeedEvent> = events.iter().filter(|e| matches!(e, FeedEvent::Passed(_))).collect();
    assert_eq!(passed.len(), 3);
    let deadline = Instant::now() + Duration::from_secs(10);
    while ledger.steps.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "steps not committed");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Each step is committed by a task of its own, so they may land in either order: the
    // store walks a batch through every step up to the one asked, whatever came first.
    let mut steps = ledger.steps.lock().unwrap().clone();
    steps.sort_by_key(|(batch, step)| (batch.clone(), *step == BatchStep::Gathering));
    let wanted = [("b1".to_owned(), BatchStep::Scattering), ("b1".to_owned(), BatchStep::Gathering)];
    assert_eq!(steps, wanted);

    ingest.shut_down();
    poll_until(&mut feed, "the feed finishes", |_, state| state == FeedState::Finished);
    feed.drained();
    runtime.block_on(ingest.stopped());
    assert!(queue.push(vec![event("b2", "x.rec", 5, 1)]).is_err(), "a stopped queue refuses events");
}
