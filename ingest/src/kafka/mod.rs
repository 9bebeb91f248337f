//! The Kafka feed of the streaming pipeline (spec: "File-ready events").
//!
//! Partitions are assigned statically over every worker of the timely cluster (partition
//! `p` belongs to worker `p % workers`; `assign`, no group rebalancing; the group id only
//! stores offsets for monitoring). One consumer task per process reads the partitions of
//! its workers and feeds each worker's source through a bounded channel; the sources send
//! back commit points, which the task records in the store (where a restart resumes)
//! and then in Kafka.

mod consumer;
mod lag;
pub mod producer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};

pub use crate::event::{FileReadyEvent, Poison};
pub use crate::ledger::{BatchStep, Ledger, LedgerError};
pub use crate::objects::ObjectRoot;
pub use crate::task_feed::{Signal, TaskFeed};
pub use producer::{DeadLetter, idempotent_producer, publish_event, send_dead_letter};

use consumer::{ConsumerTask, WorkerLink};

/// How the feed reaches Kafka. Defaults follow the spec's topic names.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `host:port,…`
    pub brokers: String,
    /// Default `argus.files.ready`.
    pub topic: String,
    /// Default `argus.files.dlq`.
    pub dlq_topic: String,
    /// Default `argus-pipeline`; stores offsets for monitoring only.
    pub group: String,
    /// Events buffered per worker before reading pauses. Default 1,024.
    pub channel_capacity: usize,
}

impl KafkaConfig {
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            topic: "argus.files.ready".into(),
            dlq_topic: "argus.files.dlq".into(),
            group: "argus-pipeline".into(),
            channel_capacity: 1024,
        }
    }
}

/// Where this process sits in the timely cluster.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    pub process: usize,
    pub processes: usize,
    /// Workers per process.
    pub workers: usize,
}

impl Placement {
    /// The local worker index that owns `partition`, if a worker of this process does.
    pub fn local_worker(&self, partition: i32) -> Option<usize> {
        let peers = self.workers * self.processes;
        let global = usize::try_from(partition).ok()? % peers;
        (global / self.workers == self.process).then_some(global % self.workers)
    }
}

/// Why the feed could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("topic {0} does not exist (or has no partitions)")]
    NoTopic(String),
    #[error("reading the stored commit points: {0}")]
    Ledger(LedgerError),
}

/// A running Kafka feed.
pub struct KafkaIngest {
    /// One feed per local worker (`None` for a worker that owns no partition).
    pub feeds: Vec<Option<TaskFeed>>,
    /// The partitions this process reads and where each resumed.
    pub resumed: BTreeMap<i32, Option<i64>>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl KafkaIngest {
    /// Starts the consumer task on `runtime` (call from a thread that is not a runtime
    /// worker: it waits for the broker's metadata and the store's commit points).
    pub fn start<L: Ledger>(
        config: &KafkaConfig,
        placement: Placement,
        ledger: Arc<L>,
        root: ObjectRoot,
        runtime: &Handle,
    ) -> Result<Self, StartError> {
        let _guard = runtime.enter();
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("group.id", &config.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .create()?;
        let metadata = consumer.fetch_metadata(Some(&config.topic), Duration::from_secs(30))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == config.topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(StartError::NoTopic(config.topic.clone()));
        }
        let stored: BTreeMap<i32, i64> = runtime
            .block_on(ledger.stored_offsets(&config.topic))
            .map_err(StartError::Ledger)?
            .into_iter()
            .map(|p| (p.partition, p.offset))
            .collect();

        let (signal_tx, signals) = mpsc::unbounded_channel();
        let mut feeds: Vec<Option<TaskFeed>> = (0..placement.workers).map(|_| None).collect();
        let mut worker_links: Vec<Option<Arc<WorkerLink>>> = (0..placement.workers).map(|_| None).collect();
        let mut links = BTreeMap::new();
        let mut assignment = TopicPartitionList::new();
        let mut resumed = BTreeMap::new();
        for &partition in &partitions {
            let Some(worker) = placement.local_worker(partition) else { continue };
            let link = worker_links[worker].get_or_insert_with(|| {
                let (events_tx, events) = mpsc::channel(config.channel_capacity.max(1));
                let waker = crate::task_feed::Waker::default();
                feeds[worker] = Some(TaskFeed { events, signals: signal_tx.clone(), waker: waker.clone() });
                Arc::new(WorkerLink { events: events_tx, waker })
            });
            links.insert(partition, link.clone());
            let offset = stored.get(&partition).copied();
            resumed.insert(partition, offset);
            assignment.add_partition_offset(
                &config.topic,
                partition,
                offset.map_or(Offset::Beginning, Offset::Offset),
            )?;
        }
        consumer.assign(&assignment)?;
        tracing::info!(topic = %config.topic, ?resumed, "kafka feed assigned");

        let consumer = Arc::new(consumer);
        let (committed_tx, committed_rx) = watch::channel(stored.clone());
        let partitions = resumed.keys().copied().collect();
        runtime.spawn(lag::report_lag(consumer.clone(), config.topic.clone(), partitions, committed_rx));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = ConsumerTask {
            consumer,
            committed_tx,
            producer: idempotent_producer(&config.brokers)?,
            topic: config.topic.clone(),
            dlq_topic: config.dlq_topic.clone(),
            intake: crate::intake::Intake::new(ledger.clone(), root),
            ledger,
            feeds_left: feeds.iter().flatten().count(),
            links,
            signals,
            shutdown: shutdown_rx,
            committed: stored,
        };
        let task = runtime.spawn(task.run());
        Ok(Self { feeds, resumed, shutdown, task })
    }

    /// Stops reading: the feeds finish, the sources write what is complete, and the task
    /// records their last commit points before it ends.
    pub fn shut_down(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Waits (asynchronously) for the task to end after [`KafkaIngest::shut_down`].
    pub async fn stopped(self) {
        if let Err(error) = self.task.await {
            tracing::error!(%error, "kafka feed task failed");
        }
    }
}

impl std::fmt::Debug for KafkaIngest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaIngest").field("resumed", &self.resumed).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_go_round_robin_over_every_worker_of_the_cluster() {
        let second = Placement { process: 1, processes: 2, workers: 2 };
        let owned: Vec<_> = (0..8).map(|p| second.local_worker(p)).collect();
        assert_eq!(owned, [None, None, Some(0), Some(1), None, None, Some(0), Some(1)]);
        let alone = Placement { process: 0, processes: 1, workers: 1 };
        assert!((0..5).all(|p| alone.local_worker(p) == Some(0)));
    }
}
