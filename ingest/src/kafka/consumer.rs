//! The consumer task: reads this process's partitions of the file-ready topic, parses
//! every message, hands it to the [`Intake`] (poison goes to the dead-letter topic), and
//! hands each admitted file to the worker that owns its partition. It records the commit
//! points the workers' sources send back, in the store first (the source of truth on
//! restart) and then in Kafka (for monitoring). It runs on tokio, never on a worker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use argus_pipeline::{FeedEvent, Position};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc::{Sender, UnboundedReceiver};
use tokio::sync::watch;

use super::producer::{DeadLetter, send_dead_letter};
use crate::event::{FileReadyEvent, Poison};
use crate::intake::{Admitted, Backoff, Intake};
use crate::ledger::Ledger;
use crate::task_feed::{Signal, Waker};

/// The channel to one worker's feed.
pub(crate) struct WorkerLink {
    pub events: Sender<FeedEvent>,
    pub waker: Waker,
}

/// Everything the task owns.
pub(crate) struct ConsumerTask<L> {
    pub consumer: Arc<StreamConsumer>,
    pub producer: FutureProducer,
    pub topic: String,
    pub dlq_topic: String,
    pub ledger: Arc<L>,
    pub intake: Intake<L>,
    /// The link of each partition this process reads, by partition.
    pub links: BTreeMap<i32, Arc<WorkerLink>>,
    pub signals: UnboundedReceiver<Signal>,
    /// Feeds that have not yet reported drained.
    pub feeds_left: usize,
    pub shutdown: watch::Receiver<bool>,
    /// The commit points recorded so far, and where the lag reporter reads them.
    pub committed: BTreeMap<i32, i64>,
    pub committed_tx: watch::Sender<BTreeMap<i32, i64>>,
}

impl<L: Ledger> ConsumerTask<L> {
    /// Runs until shutdown is asked and every worker's source has drained.
    pub async fn run(mut self) {
        let mut reading = true;
        loop {
            tokio::select! {
                biased;
                signal = self.signals.recv() => match signal {
                    Some(Signal::Commit(points)) => self.record(points).await,
                    Some(Signal::Drained) => self.feeds_left = self.feeds_left.saturating_sub(1),
                    None => break,
                },
                changed = self.shutdown.changed(), if reading => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        tracing::info!("kafka feed stops reading");
                        reading = false;
                        self.links.clear(); // the feeds see the end of their channels
                    }
                }
                message = self.consumer.recv(), if reading => match message {
                    Ok(message) => self.handle(message.detach()).await,
                    Err(error) => {
                        tracing::warn!(%error, "kafka consume error");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
            if !reading && self.feeds_left == 0 {
                // Drain the commit points the last activations sent.
                while let Ok(signal) = self.signals.try_recv() {
                    if let Signal::Commit(points) = signal {
                        self.record(points).await;
                    }
                }
                break;
            }
        }
        tracing::info!(committed = ?self.committed, "kafka feed stopped");
    }

    async fn handle(&mut self, message: OwnedMessage) {
        let at = Position { partition: message.partition(), offset: message.offset() };
        metrics::counter!("argus_kafka_events_read_total").increment(1);
        let event = match FileReadyEvent::parse(message.payload().unwrap_or_default()) {
            Ok(event) => event,
            Err(poison) => return self.dead_letter(&message, poison).await,
        };
        match self.intake.admit(event, at).await {
            Admitted::File(file) => self.send(at.partition, FeedEvent::File(file)).await,
            Admitted::Passed => self.pass(at).await,
            Admitted::Poison(poison) => self.dead_letter(&message, poison).await,
        }
    }

    /// Hands an event to the worker owning the partition (waiting while its channel is
    /// full: the backpressure that stops reading).
    async fn send(&mut self, partition: i32, event: FeedEvent) {
        let Some(link) = self.links.get(&partition).cloned() else {
            debug_assert!(false, "a message of partition {partition}, which this process does not read");
            return;
        };
        if link.events.send(event).await.is_ok() {
            link.waker.wake();
        }
    }

    async fn pass(&mut self, at: Position) {
        self.send(at.partition, FeedEvent::Passed(at)).await;
    }

    async fn dead_letter(&mut self, message: &OwnedMessage, poison: Poison) {
        let at = Position { partition: message.partition(), offset: message.offset() };
        tracing::warn!(partition = at.partition, offset = at.offset, reason = %poison, "dead-lettering a message");
        metrics::counter!("argus_kafka_dead_lettered_total", "reason" => poison.kind()).increment(1);
        let headers = message
            .headers()
            .map(|h| h.iter().map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec))).collect())
            .unwrap_or_default();
        let letter = DeadLetter {
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers,
            reason: poison.to_string(),
            topic: message.topic().to_owned(),
            partition: at.partition,
            offset: at.offset,
        };
        // The offset may be committed only once the letter is safely in the DLQ.
        let mut backoff = Backoff::new();
        while let Err(error) = send_dead_letter(&self.producer, &self.dlq_topic, &letter).await {
            tracing::warn!(%error, "dead letter not sent, retrying");
            backoff.wait().await;
        }
        self.pass(at).await;
    }

    /// Records commit points: in the store (retried until it succeeds: a point is only as
    /// good as its record), then in Kafka; then forgets the batches below them.
    async fn record(&mut self, points: Vec<Position>) {
        let mut backoff = Backoff::new();
        while let Err(error) = self.ledger.record_offsets(&self.topic, &points).await {
            tracing::warn!(%error, "commit points not stored, retrying");
            backoff.wait().await;
        }
        let mut list = TopicPartitionList::new();
        for point in &points {
            let next = self.committed.entry(point.partition).or_insert(point.offset);
            *next = (*next).max(point.offset);
            metrics::gauge!("argus_kafka_commit_offset", "partition" => point.partition.to_string())
                .set(*next as f64);
            let _ = list.add_partition_offset(&self.topic, point.partition, Offset::Offset(*next));
        }
        if let Err(error) = self.consumer.commit(&list, CommitMode::Async) {
            tracing::debug!(%error, "kafka offset commit (monitoring only) failed");
        }
        self.committed_tx.send_replace(self.committed.clone());
        self.intake.forget_committed(&self.committed).await;
    }
}
