//! The fleet Top-K inside one running dataflow: incremental updates give the same report
//! as a run over everything at once, and the windowed view retracts expired batches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use argus_pipeline::{ChannelFeed, DataflowConfig, FeedEvent, FleetReport, VecFeed};

use crate::common::{Capture, SESSION_NS, job, run_to_end, wait_until, write_batch, write_batches};

#[test]
fn one_more_batch_updates_the_fleet_like_a_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let batches = write_batches(dir.path(), "batch", 101);

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
    run_to_end(job(Box::new(VecFeed::new(events)), all.clone(), DataflowConfig::default(), 1));
    let at_once = all.fleet.lock().unwrap().clone().unwrap();

    assert_eq!(incremental, at_once);
    assert_ne!(after_100, incremental, "the 101st batch must change the fleet report");
    // And both equal the fleet computed directly from the batch reports.
    let reference = FleetReport::from_batches(all.batches.lock().unwrap().iter(), 10);
    assert_eq!(at_once, reference);
    assert_eq!(at_once.top_errors.len(), 10);
    // Seven VINs across 101 batches: distinct VINs and batches per code must differ.
    assert!(at_once.top_errors.iter().all(|e| e.vins <= 7 && e.vins < e.batches), "{at_once:?}");
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
