//! Fleet update cost: the time to add ONE batch to a running dataflow whose fleet already
//! holds 10,000 batches, against adding one batch to an empty fleet (goal: ≤ 2×).
//!
//! ```text
//! cargo bench --bench fleet_update                        # 10,000 batches
//! ARGUS_BENCH_QUICK=1 cargo bench --bench fleet_update    # 500 batches, seconds
//! ```
//!
//! Both are driven through `argus_pipeline::run` with a `ChannelFeed` and a capturing
//! writer. A measurement is the wall time from sending the new batch's file event on the
//! channel to the fleet sink handing the writer a fleet report that counts it.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use argus_datasets::SmallBatch;
use argus_datasets::small_batch::SESSION_NS;
use argus_pipeline::source::SourceConfig;
use argus_pipeline::{ChannelFeed, DataflowConfig, FeedEvent, FileReady, Metrics};
use common::{Capture, env_or, median, print_table};

/// One batch of the fleet: `SmallBatch`'s defaults (1 file of 100–300 records, about 70 %
/// failed DTCs over 400 codes with a cubic skew, 2,000 vehicles), its session `seed`
/// seconds after the first.
fn small_batch(seed: u64) -> SmallBatch {
    SmallBatch { seed, session_start_ns: SESSION_NS + seed * 1_000_000_000, ..SmallBatch::default() }
}

/// The events of `n` batches under `root`, written once and reused (a marker records it).
fn fleet_batches(root: &Path, prefix: &str, n: u64, seed_base: u64) -> Vec<Vec<FeedEvent>> {
    let marker = root.join(format!("{prefix}.complete"));
    let marked = format!("{n} small batches\n");
    let done = std::fs::read_to_string(&marker).is_ok_and(|m| m == marked);
    if !done {
        eprintln!("writing {n} small batches under {} ...", root.display());
    }
    let batches: Vec<Vec<FeedEvent>> = (0..n)
        .map(|i| {
            let batch_id = format!("{prefix}-{i:06}");
            let dir = root.join(&batch_id);
            if !done {
                small_batch(seed_base + i).write(&dir).expect("writing a small batch");
            }
            vec![FeedEvent::File(FileReady {
                batch_id,
                file_id: "seg-00.rec".into(),
                location: dir.join("seg-00.rec").to_string_lossy().into_owned(),
                file_count: 1,
                size: None,
                position: None,
            })]
        })
        .collect();
    if !done {
        std::fs::write(&marker, marked).unwrap();
    }
    batches
}

/// A dataflow running on its own thread, fed through a channel.
struct Running {
    tx: Sender<FeedEvent>,
    fleet_rx: Receiver<(u64, Instant)>,
    batch_rx: Receiver<Instant>,
    handle: std::thread::JoinHandle<Result<(), argus_pipeline::RunError>>,
}

impl Running {
    fn start(workers: usize) -> Self {
        let (tx, rx) = mpsc::channel();
        let (fleet_tx, fleet_rx) = mpsc::channel();
        let (batch_tx, batch_rx) = mpsc::channel();
        let capture = Capture { fleet_tx: Some(fleet_tx), batch_tx: Some(batch_tx), ..Capture::default() };
        let dataflow = DataflowConfig {
            source: SourceConfig { idle_tick: Duration::from_millis(1), ..SourceConfig::default() },
            ..DataflowConfig::default()
        };
        let job = common::job(
            Box::new(ChannelFeed::new(rx)),
            capture,
            dataflow,
            workers,
            Arc::new(Metrics::default()),
        );
        let handle = std::thread::spawn(move || argus_pipeline::run(job));
        Self { tx, fleet_rx, batch_rx, handle }
    }

    fn send(&self, events: &[FeedEvent]) {
        for event in events {
            self.tx.send(event.clone()).unwrap();
        }
    }

    /// Waits for the first fleet report counting `batches`; returns when it was written.
    fn wait_fleet(&self, batches: u64, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.fleet_rx.recv_timeout(left) {
                Ok((n, at)) if n >= batches => return at,
                Ok(_) => {}
                Err(error) => panic!("waiting for a fleet of {batches} batches: {error}"),
            }
        }
    }

    fn drain(&self) {
        while self.fleet_rx.try_recv().is_ok() {}
        while self.batch_rx.try_recv().is_ok() {}
    }

    fn stop(self) {
        drop(self.tx);
        self.handle.join().unwrap().unwrap();
    }
}

/// One batch, timed (ms): from the send to its batch report and to its fleet report, and
/// the CPU time all threads of the process used meanwhile.
#[derive(Debug, Clone, Copy)]
struct Timing {
    batch: f64,
    fleet: f64,
    cpu: f64,
}

fn time_one(running: &Running, events: &[FeedEvent], expect: u64) -> Timing {
    // Let the dataflow settle (idle merging, the previous batch's sinks) before timing.
    std::thread::sleep(Duration::from_millis(30));
    running.drain();
    let cpu = common::process_cpu_ns();
    let sent = Instant::now();
    running.send(events);
    let fleet = running.wait_fleet(expect, Duration::from_secs(60)) - sent;
    let cpu = common::process_cpu_ns() - cpu;
    let batch = running.batch_rx.recv_timeout(Duration::from_secs(1)).expect("the batch report") - sent;
    Timing { batch: batch.as_secs_f64() * 1e3, fleet: fleet.as_secs_f64() * 1e3, cpu: cpu as f64 / 1e6 }
}

/// Feeds `fleet` into a fresh dataflow, waits until it is durable, then times each probe
/// batch; returns the timings and the seconds the feeding took.
fn with_fleet(workers: usize, fleet: &[Vec<FeedEvent>], probes: &[Vec<FeedEvent>]) -> (Vec<Timing>, f64) {
    let n = fleet.len() as u64;
    let running = Running::start(workers);
    let fed = Instant::now();
    for batch in fleet {
        running.send(batch);
    }
    running.wait_fleet(n, Duration::from_secs(1800));
    let feed_s = fed.elapsed().as_secs_f64();
    eprintln!("[w={workers}] {n} batches durable after {feed_s:.1} s; timing one more");
    std::thread::sleep(Duration::from_millis(500));
    let timings =
        probes.iter().enumerate().map(|(i, probe)| time_one(&running, probe, n + i as u64 + 1)).collect();
    running.stop();
    (timings, feed_s)
}

fn ms(d: f64) -> String {
    format!("{d:.2} ms")
}

fn main() {
    let quick = common::quick();
    let fleet_n: u64 = env_or("ARGUS_BENCH_FLEET", if quick { 500 } else { 10_000 });
    let reps: usize = env_or("ARGUS_BENCH_ITERS", if quick { 5 } else { 15 });
    let workers_list: Vec<usize> = if quick { vec![1] } else { vec![1, 2] };
    let root: PathBuf = common::data_dir().join(format!("fleet-small-{fleet_n}"));
    std::fs::create_dir_all(&root).unwrap();
    let fleet = fleet_batches(&root, "fleet", fleet_n, 0);
    let probes = fleet_batches(&root, "probe", reps as u64, 1_000_000);

    let shape = SmallBatch::default();
    println!(
        "fleet update: {fleet_n} small batches (1 file of {}-{} records, {} DTC codes",
        shape.records.start, shape.records.end, shape.codes
    );
    println!("skewed, {} vehicles) then one more; {reps} repetitions, median and min.", shape.vehicles);
    println!("timed: send of the batch's file event on the ChannelFeed -> the capturing writer's");
    println!("write_fleet with fleet.batches counting it. It includes: the source noticing the event");
    println!("(idle_tick = 1 ms, so <= 1 ms), split (map + chunk walk), parse, the gather barrier,");
    println!("the differential fleet update (2 count_total, distinct_total, 3-level Top-K)");
    println!("and the fleet sink's frontier wait; empty fleet = a fresh dataflow per repetition.");
    common::note_load("fleet_update");

    let small_n = fleet_n.min(100);
    let mut rows = Vec::new();
    for &workers in &workers_list {
        // Empty fleet: a fresh, idle dataflow each time.
        let mut empty = Vec::new();
        for probe in &probes {
            let running = Running::start(workers);
            std::thread::sleep(Duration::from_millis(100));
            empty.push(time_one(&running, probe, 1));
            running.stop();
        }
        // For context: a small fleet, to tell the cost of history from that of a first insert.
        let (small, _) = with_fleet(workers, &fleet[..small_n as usize], &probes);
        let (full, feed_s) = with_fleet(workers, &fleet, &probes);

        let cell = |what: &str, v: &[Timing]| {
            let fleet: Vec<f64> = v.iter().map(|t| t.fleet).collect();
            let batch: Vec<f64> = v.iter().map(|t| t.batch).collect();
            let cpu: Vec<f64> = v.iter().map(|t| t.cpu).collect();
            if v.len() <= 20 {
                eprintln!("[w={workers} {what}] fleet {fleet:.2?} batch {batch:.2?} cpu {cpu:.2?}");
            }
            let text = format!(
                "{} (min {}; batch report {}; cpu {})",
                ms(median(&fleet)),
                ms(common::min(&fleet)),
                ms(median(&batch)),
                ms(median(&cpu))
            );
            (median(&fleet), text)
        };
        let (e, empty) = cell("empty", &empty);
        let (s, small) = cell("small", &small);
        let (f, full) = cell("full", &full);
        rows.push(vec![
            workers.to_string(),
            empty,
            small,
            full,
            format!("{:.2}x", f / e),
            format!("{:.2}x", f / s),
            format!("{:.0} batches/s", fleet_n as f64 / feed_s),
        ]);
    }
    println!();
    print_table(
        &[
            "workers",
            "empty fleet: fleet report after (median)",
            &format!("{small_n}-batch fleet"),
            &format!("{fleet_n}-batch fleet"),
            &format!("{fleet_n}/empty (goal <= 2x)"),
            &format!("{fleet_n}/{small_n}"),
            &format!("feeding the {fleet_n}"),
        ],
        &rows,
    );
    println!("load average after: {}", common::loadavg());
}
