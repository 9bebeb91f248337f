//! What the streaming tests share: a broker with the two topics, a fresh Postgres
//! database, `argus pipeline` processes to start, kill and stop, and the replay's reports
//! to compare the store's with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use argus_pipeline::{BatchReport, FleetReport};
use argus_sinks::{FleetQuery, Store};

use crate::broker::KafkaBroker;
use crate::db::Db;
use crate::util::{argus, run_ok};

pub const TOPIC: &str = "argus.files.ready";
pub const DLQ: &str = "argus.files.dlq";

/// A broker with the file-ready topic (`partitions` partitions) and the dead-letter topic.
pub fn broker_with_topics(partitions: i32) -> KafkaBroker {
    let broker = KafkaBroker::start();
    broker.create_topic(TOPIC, partitions);
    broker.create_topic(DLQ, 1);
    broker
}

/// Publishes one event per file of `root` with `argus publish`.
pub fn publish(broker: &KafkaBroker, root: &Path) {
    run_ok(argus().arg("publish").arg(root).args(["--brokers", &broker.bootstrap(), "--topic", TOPIC]));
}

/// A running `argus pipeline` process; killed when dropped.
pub struct PipelineProcess {
    child: Child,
    pub log: PathBuf,
}

/// How to start `argus pipeline`.
pub struct PipelineArgs {
    pub brokers: String,
    pub database_url: String,
    pub object_store: PathBuf,
    pub log: PathBuf,
    pub extra: Vec<String>,
}

impl PipelineProcess {
    pub fn start(args: &PipelineArgs) -> Self {
        Self::spawn(argus(), args)
    }

    /// Starts it with more environment variables (an S3 server's, an LLM's).
    pub fn start_with_env(args: &PipelineArgs, env: &[(&str, String)]) -> Self {
        let mut command = argus();
        command.envs(env.iter().map(|(k, v)| (k, v)));
        Self::spawn(command, args)
    }

    /// Starts it inside a network namespace (`ip netns exec`, which execs it: the child
    /// is the pipeline itself).
    pub fn start_in_namespace(args: &PipelineArgs, namespace: &str) -> Self {
        let mut command = std::process::Command::new("ip");
        command.args(["netns", "exec", namespace, env!("CARGO_BIN_EXE_argus")]);
        Self::spawn(command, args)
    }

    fn spawn(mut command: std::process::Command, args: &PipelineArgs) -> Self {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&args.log).unwrap();
        let child = command
            .env("RUST_LOG", "info")
            .arg("pipeline")
            .args(["--brokers", &args.brokers, "--topic", TOPIC, "--dlq-topic", DLQ])
            .args(["--database-url", &args.database_url])
            .arg("--object-store")
            .arg(&args.object_store)
            .args(&args.extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("argus pipeline starts");
        Self { child, log: args.log.clone() }
    }

    /// SIGKILL: no chance to clean up, as in a crash.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit (at most `within`).
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        // SAFETY: kill(2) with a pid this test spawned and has not reaped.
        let sent = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(sent, 0, "SIGTERM sent");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {within:?} of SIGTERM; log: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the process has exited (and how).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PipelineProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Waits until `count` batches are final in the store, failing with the pipeline's log
/// when they are not within `within`.
pub async fn wait_final(store: &Store, count: usize, within: Duration, logs: &[&Path]) {
    let deadline = Instant::now() + within;
    loop {
        let done = final_batches(store).await;
        if done >= count {
            assert_eq!(done, count, "more batches final than published");
            return;
        }
        if Instant::now() > deadline {
            let logs: Vec<String> =
                logs.iter().map(|l| std::fs::read_to_string(l).unwrap_or_default()).collect();
            panic!("{done} of {count} batches final after {within:?}; logs:\n{}", logs.join("\n---\n"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn final_batches(store: &Store) -> usize {
    count(store, "SELECT COUNT(*) FROM batches WHERE status IN ('completed', 'failed')").await
}

/// Rows of the `reports` table: one per stored batch, never two.
pub async fn report_rows(store: &Store) -> usize {
    count(store, "SELECT COUNT(*) FROM reports").await
}

async fn count(store: &Store, sql: &str) -> usize {
    let count: i64 = match store {
        Store::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Store::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    };
    count as usize
}

/// Every stored report document, by batch id.
pub async fn stored_reports(
    store: &Store,
    ids: impl IntoIterator<Item = &String>,
) -> BTreeMap<String, String> {
    let mut reports = BTreeMap::new();
    for id in ids {
        let json = store.get_report_json(id).await.unwrap().unwrap_or_else(|| panic!("no report for {id}"));
        reports.insert(id.clone(), json);
    }
    reports
}

/// The fleet report the store serves.
pub async fn stored_fleet(store: &Store) -> FleetReport {
    store.fleet_top_errors(&FleetQuery::all(10)).await.unwrap()
}

/// What `argus replay` makes of a root: each batch's report as the store keeps it
/// (compact JSON of the same report), and the fleet report.
pub struct Replayed {
    pub reports: BTreeMap<String, String>,
    pub fleet: FleetReport,
}

pub fn replay(root: &Path) -> Replayed {
    let out = tempfile::tempdir().unwrap();
    run_ok(argus().arg("replay").arg(root).arg("--out").arg(out.path()));
    let mut reports = BTreeMap::new();
    for entry in std::fs::read_dir(out.path().join("batches")).unwrap() {
        let path = entry.unwrap().path();
        let report: BatchReport = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        reports.insert(report.batch_id.clone(), serde_json::to_string(&report).unwrap());
    }
    let fleet = serde_json::from_slice(&std::fs::read(out.path().join("fleet.json")).unwrap()).unwrap();
    Replayed { reports, fleet }
}

/// The batches of a root that have files (an empty batch has no file to announce).
pub fn batches_with_files(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && std::fs::read_dir(p).unwrap().any(|f| f.unwrap().path().is_file()))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

/// A fresh Postgres database for one pipeline run.
pub async fn fresh_db() -> (Db, Store) {
    let db = Db::postgres().await;
    let store = Store::open(&db.url()).await.unwrap();
    store.migrate().await.unwrap();
    (db, store)
}

/// The commit points the store holds for the file-ready topic, by partition.
pub async fn stored_offsets(store: &Store) -> BTreeMap<i32, i64> {
    store.kafka_offsets(TOPIC).await.unwrap().into_iter().map(|o| (o.partition, o.next_offset)).collect()
}

/// The body of `GET http://127.0.0.1:PORT/metrics` (Prometheus text).
pub fn scrape(port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("metrics endpoint");
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

/// The end of each partition of a topic (the next offset a producer would get).
pub fn end_offsets(broker: &KafkaBroker, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "argus-test-watermarks")
        .create()
        .unwrap();
    let ends = (0..partitions)
        .map(|p| (p, consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).unwrap().1))
        .collect();
    drop(consumer);
    ends
}
