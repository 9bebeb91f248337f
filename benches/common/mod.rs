//! Shared by the benchmark binaries (each includes it with `#[path = "common/mod.rs"]`):
//! quick mode, the data directory, load average, statistics, report writers and jobs.

#![allow(dead_code)]

pub mod accept_all;

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_pipeline::{
    BatchAck, ClusterConfig, DataflowConfig, Feed, FinishedBatch, FleetReport, Job, LocalResolver, Metrics,
    ReportWriter, SinkError,
};

/// `ARGUS_BENCH_QUICK=1`: small inputs, so that a benchmark runs in seconds.
pub fn quick() -> bool {
    std::env::var("ARGUS_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Where generated inputs live (and are reused): `<workspace>/target/bench-data/`.
pub fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-data");
    std::fs::create_dir_all(&dir).expect("creating target/bench-data");
    dir
}

/// The 1-minute load average (from /proc/loadavg), or NaN where there is none.
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// The full /proc/loadavg triple, for the report.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

/// Waits (up to `ARGUS_BENCH_WAIT_LOAD` seconds, default 0) for the 1-minute load to drop
/// below 0.5, then prints the load measured under.
pub fn note_load(what: &str) {
    let wait: u64 = std::env::var("ARGUS_BENCH_WAIT_LOAD").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(wait);
    while load1() >= 0.5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(5));
    }
    eprintln!("[{what}] load average: {}", loadavg());
}

/// CPU time of every thread of this process so far (sum of /proc/self/task/*/schedstat
/// run times), in nanoseconds; 0 where there is no such file.
pub fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU time (user + system) of this process so far, threads that have exited included,
/// from /proc/self/stat (clock ticks, assumed 100 per second: 10 ms resolution).
pub fn process_cpu_total() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces) close with ')'.
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

pub fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Bytes per second in MB/s (10^6).
pub fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64() / 1e6
}

/// Human size in MiB/GiB.
pub fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

/// An environment override of a number, e.g. `ARGUS_BENCH_ITERS=5`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Counts what the dataflow writes and forwards each fleet snapshot's batch count, with
/// the instant it was written, and each batch report's instant, to channels (the
/// fleet-update benchmark times on them).
#[derive(Clone, Default)]
pub struct Capture {
    pub batches: Arc<Mutex<u64>>,
    pub fleet: Arc<Mutex<Option<FleetReport>>>,
    pub fleet_tx: Option<Sender<(u64, Instant)>>,
    /// Receives the instant each batch report was written.
    pub batch_tx: Option<Sender<Instant>>,
}

impl ReportWriter for Capture {
    fn write_batch(&mut self, _batch: Arc<FinishedBatch>, ack: BatchAck) {
        let at = Instant::now();
        if let Some(tx) = &self.batch_tx {
            let _ = tx.send(at);
        }
        *self.batches.lock().unwrap() += 1;
        ack.durable();
    }

    fn write_fleet(&mut self, fleet: &FleetReport) -> Result<(), SinkError> {
        let at = Instant::now();
        if let Some(tx) = &self.fleet_tx {
            let _ = tx.send((fleet.batches, at));
        }
        *self.fleet.lock().unwrap() = Some(fleet.clone());
        Ok(())
    }
}

/// A job over one feed (read by worker 0), writing to `writer`, as `argus replay` builds it.
pub fn job(
    feed: Box<dyn Feed + Send>,
    writer: Capture,
    dataflow: DataflowConfig,
    workers: usize,
    metrics: Arc<Metrics>,
) -> Job {
    let feed = Mutex::new(Some(feed));
    Job {
        dataflow,
        cluster: ClusterConfig::single(workers),
        feeds: Arc::new(move |index, _| {
            if index == 0 { feed.lock().unwrap().take().map(|f| f as Box<dyn Feed>) } else { None }
        }),
        writers: Arc::new(move |_| Ok(vec![Box::new(writer.clone()) as Box<dyn ReportWriter>])),
        resolver: Arc::new(LocalResolver),
        metrics,
        fleet_seed: Vec::new(),
    }
}

/// Prints a table: a header row and rows of cells, columns padded.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("| {} |", padded.join(" | "));
    };
    line(header.iter().map(|h| h.to_string()).collect());
    println!("|{}|", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|"));
    for row in rows {
        line(row.clone());
    }
}
