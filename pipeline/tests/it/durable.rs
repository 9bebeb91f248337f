//! Durable means durable: a batch's time passes the durable probe only after every writer
//! acknowledged the batch, acks may come late and from other threads, and a run ends only
//! once everything is acknowledged. The probe is watched through the feed's
//! `durable_before`, as a Kafka feed would commit its offsets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argus_pipeline::source::SourceConfig;
use argus_pipeline::{
    BatchAck, ChannelFeed, ClusterConfig, DataflowConfig, Feed, FeedEvent, FeedState, FinishedBatch,
    FleetReport, Job, LocalResolver, Metrics, ReportWriter, RunError, SinkError, VecFeed,
};

use crate::common::{SESSION_NS, wait_until, write_batch, write_batches};

/// A channel feed that remembers the latest `durable_before` the source told it.
struct WatchedFeed {
    inner: ChannelFeed,
    durable_before: Arc<AtomicU64>,
}

impl Feed for WatchedFeed {
    fn poll(&mut self, max: usize, out: &mut Vec<FeedEvent>) -> FeedState {
        self.inner.poll(max, out)
    }

    fn durable_before(&mut self, time: u64) {
        self.durable_before.store(time, Ordering::SeqCst);
    }
}

/// Keeps every ack for the test to complete (or fail) when it likes.
#[derive(Clone, Default)]
struct Holding {
    acks: Arc<Mutex<Vec<(String, BatchAck)>>>,
}

impl Holding {
    fn held(&self) -> Vec<String> {
        self.acks.lock().unwrap().iter().map(|(id, _)| id.clone()).collect()
    }

    fn take(&self, batch_id: &str) -> BatchAck {
        let mut acks = self.acks.lock().unwrap();
        let at = acks.iter().position(|(id, _)| id == batch_id).expect("the batch was handed over");
        acks.remove(at).1
    }
}

impl ReportWriter for Holding {
    fn write_batch(&mut self, batch: Arc<FinishedBatch>, ack: BatchAck) {
        self.acks.lock().unwrap().push((batch.report.batch_id.clone(), ack));
    }

    fn write_fleet(&mut self, _fleet: &FleetReport) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Acknowledges each batch from a thread of its own, a little later.
#[derive(Clone, Default)]
struct LateAcker {
    acked: Arc<AtomicU64>,
}

impl ReportWriter for LateAcker {
    fn write_batch(&mut self, _batch: Arc<FinishedBatch>, ack: BatchAck) {
        let acked = self.acked.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            acked.fetch_add(1, Ordering::SeqCst);
            ack.durable();
        });
    }

    fn write_fleet(&mut self, _fleet: &FleetReport) -> Result<(), SinkError> {
        Ok(())
    }
}

fn job_with<W: ReportWriter + Clone + Send + 'static>(
    feed: Box<dyn Feed + Send>,
    writer: W,
    source: SourceConfig,
    workers: usize,
    metrics: Arc<Metrics>,
) -> Job {
    let feed = Mutex::new(Some(feed));
    let writer = Mutex::new(writer);
    Job {
        dataflow: DataflowConfig { source, ..DataflowConfig::default() },
        cluster: ClusterConfig::single(workers),
        feeds: Arc::new(move |index, _| {
            if index == 0 { feed.lock().unwrap().take().map(|f| f as Box<dyn Feed>) } else { None }
        }),
        writers: Arc::new(move |_| {
            Ok(vec![Box::new(writer.lock().unwrap().clone()) as Box<dyn ReportWriter>])
        }),
        resolver: Arc::new(LocalResolver),
        metrics,
        fleet_seed: Vec::new(),
    }
}

/// A run on its own thread, and where its result arrives.
fn start(job: Job) -> Receiver<Result<(), RunError>> {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || done.send(argus_pipeline::run(job)));
    result
}

/// A live feed with a manual clock at `now`; the source opens a batch at the clock's time.
fn live_feed(
    now: &Arc<AtomicU64>,
) -> (Sender<FeedEvent>, Box<dyn Feed + Send>, Arc<AtomicU64>, SourceConfig) {
    let (tx, rx) = mpsc::channel();
    let durable_before = Arc::new(AtomicU64::new(0));
    let feed = WatchedFeed { inner: ChannelFeed::new(rx), durable_before: durable_before.clone() };
    let clock = now.clone();
    let source = SourceConfig {
        clock: Arc::new(move || clock.load(Ordering::SeqCst)),
        idle_tick: Duration::from_millis(5),
        ..SourceConfig::default()
    };
    (tx, Box::new(feed), durable_before, source)
}

#[test]
fn a_batch_time_is_durable_only_after_its_ack_and_the_run_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(1_000));
    let (tx, feed, durable_before, source) = live_feed(&now);
    let writer = Holding::default();
    let run = start(job_with(feed, writer.clone(), source, 2, Arc::new(Metrics::default())));

    // Batch a opens at 1000 and is handed over; without its ack the probe stays at 1000.
    for file in write_batch(&dir.path().join("a"), 1, SESSION_NS) {
        tx.send(FeedEvent::File(file)).unwrap();
    }
    wait_until("batch a handed to the writer", || writer.held() == ["a"]);
    std::thread::sleep(Duration::from_millis(300));
    let before = durable_before.load(Ordering::SeqCst);
    assert!(before <= 1_000, "time 1000 looks durable ({before}) before batch a was acknowledged");

    writer.take("a").durable();
    wait_until("time 1000 durable after the ack", || durable_before.load(Ordering::SeqCst) > 1_000);

    // Batch b at 2000; the feed finishes, but the run waits for b's ack.
    now.store(2_000, Ordering::SeqCst);
    for file in write_batch(&dir.path().join("b"), 2, SESSION_NS + 1_000_000_000) {
        tx.send(FeedEvent::File(file)).unwrap();
    }
    wait_until("batch b handed to the writer", || writer.held() == ["b"]);
    std::thread::sleep(Duration::from_millis(300));
    let before = durable_before.load(Ordering::SeqCst);
    assert!(before <= 2_000, "time 2000 looks durable ({before}) before batch b was acknowledged");
    drop(tx);
    match run.recv_timeout(Duration::from_millis(500)) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("the run ended before batch b was acknowledged: {other:?}"),
    }
    writer.take("b").durable();
    run.recv_timeout(Duration::from_secs(30)).expect("the run ends once b is acknowledged").expect("run");
}

#[test]
fn a_failed_write_stops_the_run_and_never_becomes_durable() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(1_000));
    let (tx, feed, durable_before, source) = live_feed(&now);
    let writer = Holding::default();
    let run = start(job_with(feed, writer.clone(), source, 1, Arc::new(Metrics::default())));
    for file in write_batch(&dir.path().join("bad"), 3, SESSION_NS) {
        tx.send(FeedEvent::File(file)).unwrap();
    }
    wait_until("batch handed to the writer", || writer.held() == ["bad"]);
    writer.take("bad").fail("the store refused it".into());
    let result = run.recv_timeout(Duration::from_secs(30)).expect("the run stops");
    match result {
        Err(RunError::Write(message)) => assert!(message.contains("the store refused it"), "{message}"),
        other => panic!("expected a write error, got {other:?}"),
    }
    let last = durable_before.load(Ordering::SeqCst);
    assert!(last <= 1_000, "the failed batch's time looked durable ({last})");
}

#[test]
fn acks_from_other_threads_end_the_run_only_when_all_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<FeedEvent> =
        write_batches(dir.path(), "late", 12).into_iter().flatten().map(FeedEvent::File).collect();
    for workers in [1, 2] {
        let writer = LateAcker::default();
        let metrics = Arc::new(Metrics::default());
        let feed = Box::new(VecFeed::new(events.clone()));
        let run = start(job_with(feed, writer.clone(), SourceConfig::default(), workers, metrics.clone()));
        run.recv_timeout(Duration::from_secs(60)).expect("the run ends").expect("run");
        assert_eq!(writer.acked.load(Ordering::SeqCst), 12, "-w {workers}: the run ended before every ack");
        assert_eq!(Metrics::get(&metrics.batches_finished), 12, "-w {workers}");
    }
}

/// The batch sink alone, stepped by hand: a batch whose write failed for good keeps its
/// time before the probe even while the dataflow goes on running (as it would until the
/// run notices the error), so nothing downstream can take it for written.
#[test]
fn a_failed_ack_holds_the_probe_for_good() {
    use std::cell::RefCell;
    use std::rc::Rc;

    use argus_pipeline::write::{ErrorSlot, Writers, batch_sink};
    use timely::dataflow::operators::Probe;
    use timely::dataflow::operators::vec::Input;

    timely::execute(timely::Config::thread(), |worker| {
        let holding = Holding::default();
        let writers: Writers =
            Rc::new(RefCell::new(vec![Box::new(holding.clone()) as Box<dyn ReportWriter>]));
        let errors = ErrorSlot::default();
        let metrics = Arc::new(Metrics::default());
        let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, finished) = scope.new_input::<(u64, FinishedBatch)>();
            let (probe, _) = batch_sink(finished, writers, errors.clone(), metrics).probe();
            (input, probe)
        });
        for (time, id) in [(5, "refused"), (6, "stored")] {
            input.advance_to(time);
            input.send((time, argus_pipeline::assemble_batch(id, 10, Vec::new())));
        }
        input.advance_to(7);
        worker.step_while(|| holding.held().len() < 2);
        holding.take("refused").fail("the store refused it".into());
        holding.take("stored").durable();
        for _ in 0..100 {
            worker.step();
        }
        assert!(errors.get().is_some_and(|e| e.contains("the store refused it")));
        assert!(probe.less_equal(&5), "the refused batch's time passed the probe");
        // The held time would keep the dataflow, and this worker, alive for ever.
        for dataflow in worker.installed_dataflows() {
            worker.drop_dataflow(dataflow);
        }
    })
    .expect("timely");
}
