//! The streaming deployment end to end: the release `argus pipeline` binary reading a real
//! Kafka broker and writing a real PostgreSQL store, each figure next to a baseline from
//! the same run.
//!
//! ```text
//! cargo build --release && cargo bench --bench streaming
//! ARGUS_BENCH_QUICK=1 cargo bench --bench streaming     # small inputs, about a minute
//! ARGUS_BENCH_ONLY=throughput|latency|rss cargo bench --bench streaming
//! ```
//!
//! 1. **Throughput**: one generated fleet, published beforehand, through `argus pipeline
//!    -w 2` (spawn → the last batch final in the store) against `argus replay
//!    --database-url … -w 2` of the same root (spawn → exit), each into a fresh, migrated
//!    database. Goal: pipeline ≥ 0.8 of replay.
//! 2. **Latency**: 10 MiB batches produced one at a time at half the rate the same
//!    pipeline sustains on a backlog of them (measured just before); latency = the batch's
//!    `updated_at_ms` when stored `completed` − the moment its event was produced. Goal:
//!    p99 < 1 s. Baselines: the latency of a lone batch on an idle pipeline, and `argus
//!    replay` of a one-batch root.
//! 3. **RSS**: 10,000 small batches through one pipeline; `VmRSS` sampled every 100 ms;
//!    the mean of the first and last 10 % of the working span. Goal: last within 10 % of
//!    first.
//!
//! Services: `scripts/postgres.sh` (the machine's PostgreSQL), `scripts/tools.sh` and
//! `scripts/kafka.sh` (one KRaft broker per section, on free 127.0.0.1 ports). Every
//! process, broker, database and temporary directory this benchmark makes is owned by a
//! guard that removes it on drop, panics included; children also get `PR_SET_PDEATHSIG`
//! so that a killed benchmark leaves none behind.

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argus_ingest::kafka::{FileReadyEvent, idempotent_producer, publish_event};
use common::{data_dir, env_or, loadavg, print_table, quick};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::FutureProducer;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tempfile::TempDir;

const TOPIC: &str = "argus.files.ready";
const DLQ: &str = "argus.files.dlq";
const WORKERS: usize = 2;
/// The longest any single step may take before the benchmark fails instead of hanging.
const STEP_TIMEOUT: Duration = Duration::from_secs(600);

fn main() {
    let only = std::env::var("ARGUS_BENCH_ONLY").unwrap_or_default();
    let env = Env::discover();
    println!("streaming benchmark, {}; load average at start: {}", utc_now(), loadavg());
    println!("argus: {}", env.argus.display());
    if only.is_empty() || only == "throughput" {
        throughput(&env);
    }
    if only.is_empty() || only == "latency" {
        latency(&env);
    }
    if only.is_empty() || only == "rss" {
        rss(&env);
    }
    println!("\nload average at end: {}", loadavg());
}

// ---------------------------------------------------------------------------------------
// 1. Throughput
// ---------------------------------------------------------------------------------------

/// The same fleet through the pipeline and through replay, alternately, `ARGUS_BENCH_ITERS`
/// times (default 2), each into a fresh database.
fn throughput(env: &Env) {
    let batches = env_or("ARGUS_BENCH_BATCHES", if quick() { 40 } else { 1000 });
    let size = std::env::var("ARGUS_BENCH_SIZE").unwrap_or_else(|_| "2MiB".into());
    let fleet = env.fleet(batches, 2, &size, 11, None);
    let iters = env_or("ARGUS_BENCH_ITERS", 2usize);
    println!("\n## 1. Throughput: {batches} batches x 2 files x {size} ({}), -w {WORKERS}", mib(fleet.bytes));

    let broker = Broker::start(env);
    let published = Instant::now();
    env.run_ok(env.argus().arg("publish").arg(&fleet.root).args([
        "--brokers",
        &broker.bootstrap,
        "--topic",
        TOPIC,
    ]));
    println!("published {} events in {:.1} s", fleet.files, published.elapsed().as_secs_f64());

    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    for iter in 0..iters {
        let replay = replay_run(env, &fleet);
        let pipeline = pipeline_backlog_run(env, &broker, &fleet);
        let ratio = replay.wall / pipeline.wall;
        ratios.push(ratio);
        for run in [&replay, &pipeline] {
            rows.push(vec![
                format!("{}", iter + 1),
                run.what.to_string(),
                format!("{:.2} s", run.wall),
                format!("{:.2} s", run.first_seen),
                format!("{:.2} s", run.span),
                format!("{:.0}", fleet.batches as f64 / run.wall),
                format!("{:.0}", fleet.bytes as f64 / run.wall / 1e6),
                format!("{:.2}", run.cpu / run.wall),
                format!("{}", run.failed),
            ]);
        }
        rows.push(vec![format!("{}", iter + 1), "pipeline / replay".into(), format!("**{ratio:.2}**")]);
    }
    print_table(
        &[
            "iter",
            "run",
            "spawn → last final",
            "spawn → first seen",
            "first seen → last final",
            "batches/s",
            "MB/s",
            "cores busy",
            "failed",
        ],
        &rows,
    );
    println!(
        "pipeline/replay throughput: {} (goal ≥ 0.8)",
        ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ")
    );
}

/// What one run through the store took, in seconds.
struct StoreRun {
    what: &'static str,
    /// Spawn → the last batch final (pipeline) or the process's exit (replay).
    wall: f64,
    /// Spawn → the first batch's `created_at_ms`.
    first_seen: f64,
    /// The first batch's `created_at_ms` → the last `updated_at_ms`.
    span: f64,
    /// CPU seconds (user + system) the process used.
    cpu: f64,
    failed: usize,
}

/// `argus replay ROOT --database-url URL -w 2` into a fresh database: spawn → exit.
fn replay_run(env: &Env, fleet: &Fleet) -> StoreRun {
    let db = env.database();
    let dir = temp_dir("argus-bench-replay-");
    let started = unix_ms();
    let cpu_before = children_cpu();
    let mut replay = Proc::spawn(
        "argus replay",
        env.argus().arg("replay").arg(&fleet.root).args([
            "--database-url",
            &db.url,
            "-w",
            &WORKERS.to_string(),
        ]),
        Some(&dir.path().join("replay.log")),
    );
    replay.wait_ok(STEP_TIMEOUT);
    let wall = (unix_ms() - started) / 1e3;
    let cpu = children_cpu() - cpu_before;
    let rows = db.batches();
    assert_eq!(rows.len(), fleet.batches, "replay stored every batch");
    StoreRun { what: "replay", wall, cpu, ..span_of(&rows, started) }
}

/// `argus pipeline -w 2` over a topic that already holds the fleet's events, into a fresh
/// database: spawn → the last batch's `updated_at_ms`.
fn pipeline_backlog_run(env: &Env, broker: &Broker, fleet: &Fleet) -> StoreRun {
    let db = env.database();
    let dir = temp_dir("argus-bench-pipeline-");
    let started = unix_ms();
    let mut pipeline = Pipeline::start(env, broker, &db, &fleet.root, dir.path());
    db.wait_final(fleet.batches, STEP_TIMEOUT, &pipeline);
    let cpu = pipeline.proc.cpu_seconds();
    pipeline.stop();
    let rows = db.batches();
    let run = span_of(&rows, started);
    StoreRun { what: "pipeline", wall: run.first_seen + run.span, cpu, ..run }
}

/// Times from the store's rows: spawn → first `created_at_ms`, and first created → last
/// `updated_at_ms`.
fn span_of(rows: &[BatchRow], started_ms: f64) -> StoreRun {
    let first = rows.iter().map(|r| r.created_ms).min().expect("batches stored") as f64;
    let last = rows.iter().map(|r| r.updated_ms).max().expect("batches stored") as f64;
    StoreRun {
        what: "",
        wall: 0.0,
        first_seen: (first - started_ms) / 1e3,
        span: (last - first) / 1e3,
        cpu: 0.0,
        failed: rows.iter().filter(|r| r.status == "failed").count(),
    }
}

// ---------------------------------------------------------------------------------------
// 2. Latency
// ---------------------------------------------------------------------------------------

/// Lone batches on an idle pipeline (baseline), a backlog to find the sustainable rate,
/// then batches produced steadily at half that rate.
fn latency(env: &Env) {
    let (lone, burst, steady) =
        if quick() { (3, 10, 20) } else { (5, 30, env_or("ARGUS_BENCH_STEADY", 120)) };
    let size = std::env::var("ARGUS_BENCH_LATENCY_SIZE").unwrap_or_else(|_| "10MiB".into());
    let fleet = env.fleet(lone + burst + steady, 1, &size, 23, None);
    println!("\n## 2. Latency: batches of 1 file x {size}, -w {WORKERS}");
    let all = fleet.listing();
    let (lone_batches, rest) = all.split_at(lone);
    let (burst_batches, steady_batches) = rest.split_at(burst);

    // Baseline without Kafka or a store: `argus replay` of a one-batch root.
    let replay_one = replay_one_batch(env, &fleet.root, &lone_batches[0]);

    let broker = Broker::start(env);
    let producer = Producer::new(&broker);
    let db = env.database();
    let dir = temp_dir("argus-bench-pipeline-");
    let mut pipeline = Pipeline::start(env, &broker, &db, &fleet.root, dir.path());

    // Lone batches: each produced on an idle pipeline and waited for.
    let mut sent = BTreeMap::new();
    for batch in lone_batches {
        sent.insert(batch.id.clone(), producer.send(batch));
        db.wait_final(sent.len(), Duration::from_secs(60), &pipeline);
        std::thread::sleep(Duration::from_millis(300));
    }
    let lone_ms = latencies(&db.batches(), &sent);

    // A backlog produced at once: the rate the pipeline sustains for this batch shape.
    let burst_start = unix_ms();
    for batch in burst_batches {
        sent.insert(batch.id.clone(), producer.send(batch));
    }
    db.wait_final(sent.len(), STEP_TIMEOUT, &pipeline);
    let burst_end = db.batches().iter().map(|r| r.updated_ms).max().unwrap() as f64;
    let rate = burst as f64 / ((burst_end - burst_start) / 1e3);
    let interval = Duration::from_secs_f64(2.0 / rate);
    std::thread::sleep(Duration::from_millis(500));

    // Steady arrivals at half that rate, on a fixed schedule (not paced by completions).
    let cpu_before = pipeline.proc.cpu_seconds();
    let steady_start = Instant::now();
    let mut steady_sent = BTreeMap::new();
    for (i, batch) in steady_batches.iter().enumerate() {
        sleep_until(steady_start + interval * i as u32);
        steady_sent.insert(batch.id.clone(), producer.send(batch));
    }
    let slip = steady_start.elapsed().as_secs_f64() - interval.as_secs_f64() * (steady - 1) as f64;
    db.wait_final(sent.len() + steady_sent.len(), STEP_TIMEOUT, &pipeline);
    let busy = (pipeline.proc.cpu_seconds() - cpu_before) / steady_start.elapsed().as_secs_f64();
    pipeline.stop();
    let rows = db.batches();
    let steady_ms = latencies(&rows, &steady_sent);
    let (intake_ms, rest_ms) = split_latencies(&rows, &steady_sent);
    let failed = rows.iter().filter(|r| r.status != "completed").count();

    println!(
        "sustainable rate on a backlog of {burst}: {rate:.1} batches/s ({:.0} MB/s); steady interval {:.1} ms \
         ({:.1} batches/s); schedule slip at the end {:.1} ms; pipeline cores busy while steady {busy:.2}",
        rate * fleet.bytes as f64 / fleet.batches as f64 / 1e6,
        interval.as_secs_f64() * 1e3,
        1.0 / interval.as_secs_f64(),
        slip * 1e3
    );
    let row = |what: String, v: &[f64]| {
        vec![
            what,
            format!("{}", v.len()),
            format!("{:.0} ms", percentile(v, 50.0)),
            format!("{:.0} ms", percentile(v, 99.0)),
            format!("{:.0} ms", v.iter().copied().fold(0.0, f64::max)),
            format!("{:.0} ms", v.iter().copied().fold(f64::INFINITY, f64::min)),
        ]
    };
    print_table(
        &["what", "batches", "p50", "p99", "max", "min"],
        &[
            row("steady arrivals at half the sustainable rate".into(), &steady_ms),
            row("  of which event → first seen (created_at_ms: `scattering` committed)".into(), &intake_ms),
            row("  of which first seen → completed".into(), &rest_ms),
            row("lone batch on an idle pipeline (baseline)".into(), &lone_ms),
            row("argus replay of a one-batch root, spawn → exit (baseline)".into(), &[replay_one]),
        ],
    );
    println!(
        "steady p99 {:.0} ms (goal < 1000 ms); p50 / lone-batch p50 {:.2}; p99 / lone-batch p50 {:.2}; \
         lone batches in order: {}; batches not completed: {failed}",
        percentile(&steady_ms, 99.0),
        percentile(&steady_ms, 50.0) / percentile(&lone_ms, 50.0),
        percentile(&steady_ms, 99.0) / percentile(&lone_ms, 50.0),
        lone_ms.iter().map(|v| format!("{v:.0}")).collect::<Vec<_>>().join(", ")
    );
}

/// For each produced batch, its `updated_at_ms` as stored `completed` minus the moment its
/// event was produced, in the order produced. A batch not completed is a failure.
fn latencies(rows: &[BatchRow], sent: &BTreeMap<String, f64>) -> Vec<f64> {
    let by_id: BTreeMap<&str, &BatchRow> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut order: Vec<(&String, &f64)> = sent.iter().collect();
    order.sort_by(|a, b| a.1.total_cmp(b.1));
    order
        .into_iter()
        .map(|(id, at)| {
            let row = by_id.get(id.as_str()).unwrap_or_else(|| panic!("batch {id} not in the store"));
            assert_eq!(row.status, "completed", "batch {id}");
            row.updated_ms as f64 - at
        })
        .collect()
}

/// The two parts of each steady latency, in the order produced: event produced → the
/// batch's `created_at_ms` (the consumer committed `scattering`), and `created_at_ms` →
/// `updated_at_ms` (parse, gather, diagnosis and the final transaction).
fn split_latencies(rows: &[BatchRow], sent: &BTreeMap<String, f64>) -> (Vec<f64>, Vec<f64>) {
    let by_id: BTreeMap<&str, &BatchRow> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    sent.iter()
        .map(|(id, at)| {
            let row = by_id[id.as_str()];
            (row.created_ms as f64 - at, (row.updated_ms - row.created_ms) as f64)
        })
        .unzip()
}

/// `argus replay` of a root holding only `batch` (linked from the fleet), spawn → exit, in
/// ms: the best of three.
fn replay_one_batch(env: &Env, root: &Path, batch: &Batch) -> f64 {
    let dir = temp_dir("argus-bench-one-");
    let one = dir.path().join("root");
    std::fs::create_dir_all(one.join(&batch.id)).unwrap();
    for file in &batch.files {
        std::fs::hard_link(root.join(&batch.id).join(&file.0), one.join(&batch.id).join(&file.0))
            .or_else(|_| {
                std::fs::copy(root.join(&batch.id).join(&file.0), one.join(&batch.id).join(&file.0))
                    .map(|_| ())
            })
            .unwrap();
    }
    let out = dir.path().join("out");
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let mut replay = Proc::spawn(
                "argus replay (one batch)",
                env.argus().arg("replay").arg(&one).arg("--out").arg(&out).args(["-w", &WORKERS.to_string()]),
                Some(&dir.path().join("replay.log")),
            );
            replay.wait_ok(Duration::from_secs(60));
            started.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

// ---------------------------------------------------------------------------------------
// 3. RSS over a long run
// ---------------------------------------------------------------------------------------

fn rss(env: &Env) {
    let batches = env_or("ARGUS_BENCH_RSS_BATCHES", if quick() { 500 } else { 10_000 });
    // A fleet that keeps uploading: batches from a fixed set of vehicles, so that the
    // fleet's own state (which grows with every new VIN) levels off and what remains is the
    // pipeline's. ARGUS_BENCH_RSS_VEHICLES=0: a new vehicle per batch.
    let vehicles = env_or("ARGUS_BENCH_RSS_VEHICLES", 100);
    let vehicles = u32::try_from(vehicles).ok().filter(|n| *n > 0);
    let fleet = env.fleet(batches, 1, "8KiB", 31, vehicles);
    println!(
        "\n## 3. RSS: {batches} batches x 1 file x 8 KiB from {} vehicles, -w {WORKERS}, VmRSS every 100 ms",
        vehicles.map_or("as many".to_owned(), |n| n.to_string())
    );
    let broker = Broker::start(env);
    env.run_ok(env.argus().arg("publish").arg(&fleet.root).args([
        "--brokers",
        &broker.bootstrap,
        "--topic",
        TOPIC,
    ]));
    let db = env.database();
    let dir = temp_dir("argus-bench-pipeline-");
    let mut pipeline = Pipeline::start(env, &broker, &db, &fleet.root, dir.path());
    let sampler = Sampler::start(pipeline.proc.child.id());
    db.wait_final(batches, STEP_TIMEOUT, &pipeline);
    let samples = sampler.stop();
    let cpu = pipeline.proc.cpu_seconds();
    pipeline.stop();

    let rows = db.batches();
    let first = rows.iter().map(|r| r.created_ms).min().unwrap() as f64;
    let last = rows.iter().map(|r| r.updated_ms).max().unwrap() as f64;
    let working: Vec<&Sample> = samples.iter().filter(|s| s.at_ms >= first && s.at_ms <= last).collect();
    assert!(working.len() >= 10, "only {} samples while the pipeline worked", working.len());
    let tenth = (working.len() / 10).max(1);
    let mean = |s: &[&Sample], f: fn(&Sample) -> u64| {
        s.iter().map(|x| f(x) as f64).sum::<f64>() / s.len() as f64 / 1024.0
    };
    let (head, tail) = (&working[..tenth], &working[working.len() - tenth..]);
    let peak = |f: fn(&Sample) -> u64| samples.iter().map(f).max().unwrap_or(0) as f64 / 1024.0;
    print_table(
        &["figure", "VmRSS", "RssAnon"],
        &[
            vec![
                "mean, first 10 % of the working span".into(),
                format!("{:.1} MiB", mean(head, |s| s.rss_kb)),
                format!("{:.1} MiB", mean(head, |s| s.anon_kb)),
            ],
            vec![
                "mean, last 10 %".into(),
                format!("{:.1} MiB", mean(tail, |s| s.rss_kb)),
                format!("{:.1} MiB", mean(tail, |s| s.anon_kb)),
            ],
            vec![
                "last / first (goal ≤ 1.10)".into(),
                format!("**{:.3}**", mean(tail, |s| s.rss_kb) / mean(head, |s| s.rss_kb)),
                format!("{:.3}", mean(tail, |s| s.anon_kb) / mean(head, |s| s.anon_kb)),
            ],
            vec![
                "peak (whole run, from spawn)".into(),
                format!("{:.1} MiB", peak(|s| s.rss_kb)),
                format!("{:.1} MiB", peak(|s| s.anon_kb)),
            ],
        ],
    );
    println!(
        "{} samples in the working span of {:.1} s ({:.0} batches/s, {} failed), {tenth} per tenth; cores busy {:.2}",
        working.len(),
        (last - first) / 1e3,
        batches as f64 / ((last - first) / 1e3),
        rows.iter().filter(|r| r.status == "failed").count(),
        cpu / ((last - first) / 1e3)
    );
}

/// One reading of /proc/PID/status.
struct Sample {
    at_ms: f64,
    rss_kb: u64,
    anon_kb: u64,
}

/// Reads a process's VmRSS and RssAnon every 100 ms on its own thread.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Sample>>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            let start = Instant::now();
            for tick in 1u32.. {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { break };
                let kb = |key: &str| {
                    status
                        .lines()
                        .find_map(|l| l.strip_prefix(key))
                        .and_then(|r| r.split_whitespace().next()?.parse().ok())
                };
                samples.push(Sample {
                    at_ms: unix_ms(),
                    rss_kb: kb("VmRSS:").unwrap_or(0),
                    anon_kb: kb("RssAnon:").unwrap_or(0),
                });
                sleep_until(start + Duration::from_millis(100) * tick);
            }
            samples
        });
        Sampler { stop, thread }
    }

    fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the sampler thread")
    }
}

// ---------------------------------------------------------------------------------------
// The environment: the binary, the services, generated fleets
// ---------------------------------------------------------------------------------------

/// What every section needs: the `argus` binary, the tools cache and the admin URL.
struct Env {
    argus: PathBuf,
    repo: PathBuf,
    tools: String,
    admin_url: String,
}

impl Env {
    fn discover() -> Env {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // `cargo bench` runs this binary from <target>/release/deps/, beside the release
        // `argus`; CARGO_TARGET_DIR, when set, names the target directory directly.
        let beside_us =
            std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.join("argus")));
        let argus = match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
            Some(target) if target.is_absolute() => target.join("release/argus"),
            Some(target) => repo.join(target).join("release/argus"),
            None => beside_us.filter(|p| p.is_file()).unwrap_or_else(|| repo.join("target/release/argus")),
        };
        assert!(
            argus.is_file(),
            "{} is missing: run `cargo build --release` (with the same CARGO_TARGET_DIR) before this benchmark",
            argus.display()
        );
        let mut env = Env { argus, repo, tools: String::new(), admin_url: String::new() };
        env.admin_url =
            last_line(&env.run_ok(Command::new("bash").arg(env.repo.join("scripts/postgres.sh"))));
        env.tools = last_line(&env.run_ok(Command::new("bash").arg(env.repo.join("scripts/tools.sh"))));
        env
    }

    /// The `argus` binary, with no LLM configured (the rule diagnosis only, no network).
    fn argus(&self) -> Command {
        let mut command = Command::new(&self.argus);
        for var in ["ARGUS_LLM_BASE_URL", "ARGUS_LLM_MODEL", "ARGUS_LLM_API_KEY", "RUST_LOG"] {
            command.env_remove(var);
        }
        command
    }

    /// Runs a short command to its end (bounded), failing with its stderr; returns stdout.
    fn run_ok(&self, command: &mut Command) -> String {
        let mut proc = Proc::spawn("command", command.stdout(Stdio::piped()).stderr(Stdio::piped()), None);
        let what = format!("{:?}", command);
        let stdout = proc.child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
        let stderr = proc.child.stderr.take().unwrap();
        let err_reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
        let ok = proc.wait(STEP_TIMEOUT).is_some_and(|s| s.success());
        let (out, err) = (reader.join().unwrap(), err_reader.join().unwrap());
        assert!(ok, "{what} failed:\n{err}");
        out
    }

    /// A fresh, migrated PostgreSQL database, dropped with the guard.
    fn database(&self) -> Database {
        let db = Database::create(&self.admin_url);
        self.run_ok(self.argus().args(["migrate", "--database-url", &db.url]));
        db
    }

    /// A fleet from `argus gen`, generated once under target/bench-data/ and reused.
    /// `vehicles`: the batches come from that many vehicles (`argus gen --vehicles`).
    fn fleet(&self, batches: usize, files: usize, size: &str, seed: u64, vehicles: Option<u32>) -> Fleet {
        let fleet_of = vehicles.map_or(String::new(), |n| format!("-v{n}"));
        let root = data_dir().join(format!("streaming-{batches}x{files}x{size}-s{seed}{fleet_of}"));
        let marker = root.with_extension("complete");
        if !marker.exists() {
            let _ = std::fs::remove_dir_all(&root);
            let started = Instant::now();
            self.run_ok(
                self.argus()
                    .arg("gen")
                    .arg(&root)
                    .args([
                        "--batches",
                        &batches.to_string(),
                        "--files-per-batch",
                        &files.to_string(),
                        "--size",
                        size,
                        "--seed",
                        &seed.to_string(),
                    ])
                    .args(vehicles.map(|n| format!("--vehicles={n}"))),
            );
            println!("generated {} in {:.1} s", root.display(), started.elapsed().as_secs_f64());
            std::fs::write(&marker, format!("{batches} {files} {size} {seed}\n")).unwrap();
        }
        let fleet = Fleet { root, batches: 0, files: 0, bytes: 0 };
        let listing = fleet.listing();
        Fleet {
            batches: listing.len(),
            files: listing.iter().map(|b| b.files.len()).sum(),
            bytes: listing.iter().flat_map(|b| &b.files).map(|f| f.1).sum(),
            ..fleet
        }
    }
}

/// A generated root: every sub-directory a batch.
struct Fleet {
    root: PathBuf,
    batches: usize,
    files: usize,
    bytes: u64,
}

/// One batch of a root: its id and its files (name, size).
struct Batch {
    id: String,
    files: Vec<(String, u64)>,
}

impl Fleet {
    /// The batches in name order, as `argus publish` would announce them.
    fn listing(&self) -> Vec<Batch> {
        let mut batches: Vec<Batch> = std::fs::read_dir(&self.root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .map(|dir| {
                let mut files: Vec<(String, u64)> = std::fs::read_dir(&dir)
                    .unwrap()
                    .map(|e| e.unwrap())
                    .filter(|e| e.file_type().unwrap().is_file())
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len()))
                    .collect();
                files.sort();
                Batch { id: dir.file_name().unwrap().to_string_lossy().into_owned(), files }
            })
            .filter(|b| !b.files.is_empty())
            .collect();
        batches.sort_by(|a, b| a.id.cmp(&b.id));
        batches
    }
}

// ---------------------------------------------------------------------------------------
// Guards: processes, the broker, databases
// ---------------------------------------------------------------------------------------

/// A child process, SIGTERMed (then SIGKILLed) when dropped. It also dies with this
/// process (`PR_SET_PDEATHSIG`), so an interrupted benchmark leaves nothing running.
struct Proc {
    child: Child,
    name: String,
    log: Option<PathBuf>,
}

impl Proc {
    fn spawn(name: &str, command: &mut Command, log: Option<&Path>) -> Proc {
        if let Some(log) = log {
            command.stdout(Stdio::null()).stderr(std::fs::File::create(log).unwrap());
        }
        // SAFETY: prctl(2) only sets a flag of the new process; it allocates nothing.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Proc { child, name: name.to_owned(), log: log.map(Path::to_owned) }
    }

    /// Waits for the exit, at most `within`; None if it is still running then.
    fn wait(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn wait_ok(&mut self, within: Duration) {
        let status = self.wait(within);
        assert!(
            status.is_some_and(|s| s.success()),
            "{} ended with {status:?} (None: still running after {within:?}){}",
            self.name,
            self.log_tail()
        );
    }

    /// SIGTERM, then SIGKILL after 15 s.
    fn terminate(&mut self) {
        if self.child.try_wait().unwrap().is_some() {
            return;
        }
        // SAFETY: kill(2) on a child this guard spawned and has not reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        if self.wait(Duration::from_secs(15)).is_none() {
            eprintln!("{} ignored SIGTERM for 15 s; killing it", self.name);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// CPU seconds (user + system) the process has used so far, from /proc/PID/stat.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        // SAFETY: sysconf only reads a constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (ticks(11) + ticks(12)) / hz
    }

    /// The last lines of the log, for a failure message.
    fn log_tail(&self) -> String {
        let Some(log) = &self.log else { return String::new() };
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "\n--- last lines of {} ---\n{}",
            log.display(),
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A running `argus pipeline -w 2`, logging at info level into its directory.
struct Pipeline {
    proc: Proc,
}

impl Pipeline {
    fn start(env: &Env, broker: &Broker, db: &Database, root: &Path, dir: &Path) -> Pipeline {
        let log = dir.join("pipeline.log");
        let mut command = env.argus();
        command
            .env("RUST_LOG", std::env::var("ARGUS_BENCH_RUST_LOG").unwrap_or_else(|_| "info".into()))
            .arg("pipeline")
            .args(["--brokers", &broker.bootstrap, "--topic", TOPIC, "--dlq-topic", DLQ])
            .args(["--database-url", &db.url, "--object-store"])
            .arg(root)
            .arg("--spool")
            .arg(dir.join("spool"))
            .args(["-w", &WORKERS.to_string()]);
        Pipeline { proc: Proc::spawn("argus pipeline", &mut command, Some(&log)) }
    }

    /// SIGTERM (the pipeline drains and exits); keeps the log if `ARGUS_BENCH_KEEP_LOGS`
    /// names a directory.
    fn stop(&mut self) {
        self.proc.terminate();
        if let (Ok(keep), Some(log)) = (std::env::var("ARGUS_BENCH_KEEP_LOGS"), &self.proc.log) {
            let _ = std::fs::create_dir_all(&keep);
            let to = Path::new(&keep).join(format!("pipeline-{}.log", self.proc.child.id()));
            let _ = std::fs::copy(log, &to);
            println!("(pipeline log kept in {})", to.display());
        }
    }
}

/// A single-node Kafka broker from `scripts/kafka.sh` in a temporary directory, with the
/// two topics; stopped (then its process group killed) when dropped.
struct Broker {
    dir: TempDir,
    bootstrap: String,
    pid: i32,
    script: PathBuf,
    tools: String,
}

impl Broker {
    fn start(env: &Env) -> Broker {
        let dir = temp_dir("argus-bench-kafka-");
        let script = env.repo.join("scripts/kafka.sh");
        let started = Instant::now();
        let out = env.run_ok(
            Command::new("bash")
                .arg(&script)
                .arg("start")
                .arg(dir.path())
                .env("ARGUS_TOOLS", &env.tools)
                .env("ARGUS_KAFKA_OWNER", std::process::id().to_string()),
        );
        let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap().trim().parse().unwrap();
        let broker = Broker { dir, bootstrap: last_line(&out), pid, script, tools: env.tools.clone() };
        broker.create_topic(TOPIC, 4);
        broker.create_topic(DLQ, 1);
        println!("broker {} ready in {:.1} s", broker.bootstrap, started.elapsed().as_secs_f64());
        broker
    }

    fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("log_level", "3")
            .create()
            .unwrap();
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = rt()
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(60), admin.create_topics([&topic], &options)).await
            })
            .unwrap_or_else(|_| panic!("creating topic {name}: no answer within 60 s"))
            .unwrap_or_else(|e| panic!("creating topic {name}: {e}"));
        for result in results {
            if let Err((topic, code)) = result {
                panic!("creating topic {topic}: {code}");
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("stop")
            .arg(self.dir.path())
            .env("ARGUS_TOOLS", &self.tools)
            .stdout(Stdio::null())
            .status();
        // SAFETY: kill(2) on the broker's process group (it runs in its own session); a
        // no-op when the stop above already ended it.
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
    }
}

/// Produces file-ready events as `argus publish` does (the project's idempotent producer,
/// keyed by batch id), one batch at a time, at the moment the caller chooses.
struct Producer {
    producer: FutureProducer,
}

impl Producer {
    fn new(broker: &Broker) -> Producer {
        Producer { producer: idempotent_producer(&broker.bootstrap).expect("a producer") }
    }

    /// Sends the events of one batch and waits for the broker's acknowledgements; returns
    /// the Unix time in ms (fractional) just before the first send.
    fn send(&self, batch: &Batch) -> f64 {
        let at = unix_ms();
        let events: Vec<FileReadyEvent> = batch
            .files
            .iter()
            .map(|(name, size)| FileReadyEvent {
                batch_id: batch.id.clone(),
                file_id: name.clone(),
                uri: format!("{}/{name}", batch.id),
                size: *size,
                file_count: batch.files.len() as u32,
                vin: None,
                vehicle_id: None,
                uploaded_at: None,
            })
            .collect();
        rt().block_on(async {
            let sends =
                futures::future::try_join_all(events.iter().map(|e| publish_event(&self.producer, TOPIC, e)));
            tokio::time::timeout(Duration::from_secs(60), sends).await
        })
        .expect("the broker acknowledged within 60 s")
        .expect("producing a file-ready event");
        at
    }
}

/// A fresh PostgreSQL database, dropped (`WITH (FORCE)`) with the guard.
struct Database {
    admin: PgPool,
    name: String,
    url: String,
    pool: PgPool,
}

/// One row of the store's `batches` table.
struct BatchRow {
    id: String,
    status: String,
    created_ms: i64,
    updated_ms: i64,
}

impl Database {
    fn create(admin_url: &str) -> Database {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!("argus_bench_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let url = format!("{}/{name}", &admin_url[..admin_url.rfind('/').unwrap()]);
        rt().block_on(async {
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(admin_url)
                .await
                .expect("postgres on 127.0.0.1");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
            let pool = PgPoolOptions::new().max_connections(1).connect_lazy(&url).unwrap();
            Database { admin, name, url, pool }
        })
    }

    fn batches(&self) -> Vec<BatchRow> {
        let rows: Vec<(String, String, i64, i64)> = rt()
            .block_on(
                sqlx::query_as("SELECT batch_id, status, created_at_ms, updated_at_ms FROM batches")
                    .fetch_all(&self.pool),
            )
            .unwrap();
        rows.into_iter()
            .map(|(id, status, created_ms, updated_ms)| BatchRow { id, status, created_ms, updated_ms })
            .collect()
    }

    fn final_count(&self) -> usize {
        let sql = "SELECT COUNT(*) FROM batches WHERE status IN ('completed', 'failed')";
        rt().block_on(sqlx::query_scalar::<_, i64>(sql).fetch_one(&self.pool)).unwrap() as usize
    }

    /// Waits (polling every 10 ms) until `count` batches are final; fails with the
    /// pipeline's log when they are not within `within` or the pipeline exits.
    fn wait_final(&self, count: usize, within: Duration, pipeline: &Pipeline) {
        let deadline = Instant::now() + within;
        loop {
            let done = self.final_count();
            if done >= count {
                return;
            }
            let exited = std::fs::metadata(format!("/proc/{}/stat", pipeline.proc.child.id())).is_err();
            assert!(
                Instant::now() < deadline && !exited,
                "{done} of {count} batches final after {within:?} (pipeline exited: {exited}){}",
                pipeline.proc.log_tail()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let (admin, pool) = (self.admin.clone(), self.pool.clone());
        let dropped = rt().block_on(async {
            pool.close().await;
            let result =
                tokio::time::timeout(Duration::from_secs(30), sqlx::query(&sql).execute(&admin)).await;
            admin.close().await;
            result
        });
        if !matches!(dropped, Ok(Ok(_))) {
            eprintln!("could not drop database {}: {dropped:?}", self.name);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

/// One tokio runtime for the database and Kafka client calls, which block on it.
fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
    })
}

fn temp_dir(prefix: &str) -> TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().expect("a temporary directory")
}

/// Unix time in ms, with fractions: the clock `argus_now_ms()` in the store also reads.
fn unix_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1e3
}

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        .output()
        .map(|o| last_line(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or_default()
}

fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}

/// CPU seconds used by this process's reaped children (getrusage RUSAGE_CHILDREN).
fn children_cpu() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// The nearest-rank percentile of unsorted values.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn last_line(text: &str) -> String {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_owned()
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}
