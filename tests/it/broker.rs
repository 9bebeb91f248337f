//! A real Apache Kafka broker for the tests: one KRaft node on 127.0.0.1, started by
//! `scripts/kafka.sh` from the jars that `scripts/tools.sh` caches, with its data in a
//! temporary directory. Plus the few client calls the tests need around it (create a topic,
//! produce one record, read a whole topic back), kept synchronous so that plain and async
//! tests can both call them.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::TopicPartitionList;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tempfile::TempDir;

/// What `consume_all` returns for each record: partition, offset, key, value and headers
/// (a header without a value comes back empty).
pub type Consumed = (i32, i64, Option<Vec<u8>>, Option<Vec<u8>>, Vec<(String, Vec<u8>)>);

/// How long one client call may take before the test fails instead of hanging.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A running broker; dropping it kills the JVM.
pub struct KafkaBroker {
    dir: TempDir,
    bootstrap: String,
    pid: Option<i32>,
    /// The `produce` helper's producer, made on first use and kept: a new idempotent
    /// librdkafka producer waits for a retry timer before it asks for its producer id.
    producer: OnceLock<FutureProducer>,
}

#[allow(dead_code)]
impl KafkaBroker {
    /// Formats a fresh data directory and starts a broker on free loopback ports, returning
    /// once it answers Kafka requests.
    pub fn start() -> KafkaBroker {
        let lib = tools_dir().join("kafka/lib");
        assert!(
            lib.join(".complete").exists(),
            "no Kafka broker jars in {}: run scripts/tools.sh first (scripts/test.sh does, \
             and exports ARGUS_TOOLS)",
            lib.display()
        );
        let dir = tempfile::Builder::new().prefix("argus-kafka-").tempdir().unwrap();
        let mut broker = KafkaBroker { dir, bootstrap: String::new(), pid: None, producer: OnceLock::new() };
        broker.launch();
        broker
    }

    /// The `bootstrap.servers` value for clients: `127.0.0.1:PORT`, the same across restarts.
    pub fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }

    /// Where the broker keeps its configuration, data and `broker.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Creates a topic with one replica and waits until the controller has created it.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = self.client_config().create().unwrap();
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(CLIENT_TIMEOUT));
        let results = block_on(admin.create_topics([&topic], &options))
            .unwrap_or_else(|e| panic!("creating topic {name}: {e}"));
        for result in results {
            if let Err((topic, code)) = result {
                panic!("creating topic {topic}: {code}");
            }
        }
    }

    /// Stops the broker cleanly and starts it again on the same ports with the same data,
    /// so that clients see the same address go away and come back.
    pub fn restart(&mut self) {
        let before = self.bootstrap.clone();
        self.stop();
        self.launch();
        assert_eq!(self.bootstrap, before, "the restarted broker moved");
    }

    /// Stops the broker cleanly (SIGTERM, as an operator would); `restart` brings it back.
    pub fn stop(&mut self) {
        run_script("stop", self.dir.path());
        self.pid = None;
    }

    /// Produces one record with an idempotent `acks=all` producer and waits until it is
    /// written, returning its partition and offset. The producer outlives restarts, as an
    /// outside producer would.
    pub fn produce(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, &[u8])],
    ) -> (i32, i64) {
        let producer = self.producer.get_or_init(|| {
            self.client_config().set("enable.idempotence", "true").set("acks", "all").create().unwrap()
        });
        let mut owned = OwnedHeaders::new_with_capacity(headers.len());
        for (name, bytes) in headers {
            owned = owned.insert(Header { key: name, value: Some(*bytes) });
        }
        let mut record = FutureRecord::<[u8], [u8]>::to(topic).headers(owned);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(value) = value {
            record = record.payload(value);
        }
        let delivery = producer.send_result(record).map_err(|(e, _)| e);
        let delivery = delivery.unwrap_or_else(|e| panic!("producing to {topic}: {e}"));
        match block_on(delivery) {
            Ok(Ok(delivered)) => (delivered.partition, delivered.offset),
            Ok(Err((e, _))) => panic!("producing to {topic}: {e}"),
            Err(_) => panic!("producing to {topic}: the producer went away"),
        }
    }

    /// Every record currently in `topic` (partitions `0..partitions`), up to each
    /// partition's high watermark when this is called, in partition and offset order. It
    /// reads without a consumer group, so it commits nothing and disturbs no test's group.
    pub fn consume_all(&self, topic: &str, partitions: i32) -> Vec<Consumed> {
        let consumer: BaseConsumer = self
            .client_config()
            .set("group.id", "argus-tests-consume-all")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .create()
            .unwrap();
        // Where each partition ends now; a record produced after this is not awaited.
        let mut ends = Vec::new();
        for partition in 0..partitions {
            let (low, high) = consumer
                .fetch_watermarks(topic, partition, CLIENT_TIMEOUT)
                .unwrap_or_else(|e| panic!("watermarks of {topic}/{partition}: {e}"));
            ends.push((partition, low, high));
        }
        let mut assignment = TopicPartitionList::new();
        for &(partition, low, _) in &ends {
            assignment.add_partition_offset(topic, partition, rdkafka::Offset::Offset(low)).unwrap();
        }
        consumer.assign(&assignment).unwrap();
        drop(assignment);

        let mut next: Vec<i64> = ends.iter().map(|&(_, low, _)| low).collect();
        let mut records = Vec::new();
        let deadline = Instant::now() + CLIENT_TIMEOUT;
        while ends.iter().any(|&(partition, _, high)| next[partition as usize] < high) {
            assert!(Instant::now() < deadline, "reading {topic} to its end took too long");
            let Some(message) = consumer.poll(Duration::from_millis(100)) else { continue };
            // The end of a partition may be a transaction marker, which is never delivered.
            let message = match message {
                Ok(message) => message,
                Err(KafkaError::PartitionEOF(partition)) => {
                    let end = ends[partition as usize].2;
                    next[partition as usize] = next[partition as usize].max(end);
                    continue;
                }
                Err(e) => panic!("reading {topic}: {e}"),
            };
            let partition = message.partition();
            next[partition as usize] = message.offset() + 1;
            if message.offset() >= ends[partition as usize].2 {
                continue;
            }
            let headers = message
                .headers()
                .map(|headers| {
                    headers.iter().map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec())).collect()
                })
                .unwrap_or_default();
            records.push((
                partition,
                message.offset(),
                message.key().map(<[u8]>::to_vec),
                message.payload().map(<[u8]>::to_vec),
                headers,
            ));
        }
        records.sort_by_key(|record| (record.0, record.1));
        records
    }

    /// Runs `scripts/kafka.sh start` in this broker's directory: a fresh directory is
    /// formatted, an existing one keeps its ports and data.
    fn launch(&mut self) {
        let output = run_script("start", self.dir.path());
        self.bootstrap = String::from_utf8(output).unwrap().trim().to_owned();
        let pid = std::fs::read_to_string(self.dir.path().join("pid")).unwrap();
        self.pid = Some(pid.trim().parse().unwrap());
    }

    /// The settings every helper client shares. The reconnect backoff is short because
    /// tests stop and start the broker, and librdkafka's default grows far longer.
    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap)
            .set("reconnect.backoff.max.ms", "500")
            .set("log_level", "3");
        config
    }
}

impl Drop for KafkaBroker {
    /// Kills the broker's whole process group at once (the JVM and its owner watch): a clean
    /// shutdown would only slow the tests down, and the data directory goes away next.
    fn drop(&mut self) {
        // While the broker still answers, so that its last requests need no retries.
        drop(self.producer.take());
        let Some(pid) = self.pid.take() else { return };
        // SAFETY: kill(2) with a negative pid signals that process group; it touches no memory.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(pid) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The tools cache that `scripts/tools.sh` fills, as `scripts/test.sh` exports it; a plain
/// `cargo test` falls back to the script's own default.
fn tools_dir() -> PathBuf {
    match std::env::var_os("ARGUS_TOOLS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/argus-tools"),
    }
}

/// Runs `scripts/kafka.sh ACTION DIR` and returns its stdout. The script ties the broker to
/// this test process (`ARGUS_KAFKA_OWNER`), so even a test run that is killed before any
/// `Drop` runs leaves no JVM behind.
fn run_script(action: &str, dir: &Path) -> Vec<u8> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kafka.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(action)
        .arg(dir)
        .env("ARGUS_TOOLS", tools_dir())
        .env("ARGUS_KAFKA_OWNER", std::process::id().to_string())
        .output()
        .expect("bash starts");
    assert!(
        output.status.success(),
        "scripts/kafka.sh {action} {} failed: {}\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Whether a process is still running (an exited one that nobody reaped yet is not).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Drives a future to completion on this thread. rdkafka's admin and delivery futures are
/// completed by librdkafka's own threads, so they need no async runtime; blocking here
/// instead of starting one keeps the helpers callable from inside a tokio test too.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        thread::park();
    }
}
