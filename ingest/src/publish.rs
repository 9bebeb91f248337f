//! The publishing seam of the upload API: where a completed batch's file-ready events go.
//! Kafka in deployments ([`KafkaPublisher`]); the embedded service puts them on its
//! in-process queue through the same trait.

use futures::future::BoxFuture;
use rdkafka::producer::FutureProducer;

use crate::kafka::{FileReadyEvent, idempotent_producer, publish_event};

/// Why events could not be published (or the queue is not reachable).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// Puts file-ready events on the queue the pipeline reads.
pub trait Publish: Send + Sync + std::fmt::Debug {
    /// Puts the batch's file-ready events on the queue; Ok once durably accepted.
    fn publish<'a>(&'a self, events: &'a [FileReadyEvent]) -> BoxFuture<'a, Result<(), PublishError>>;
    /// Whether the queue is reachable (for /readyz).
    fn ready(&self) -> BoxFuture<'_, Result<(), PublishError>>;
}

/// Publishes to a Kafka topic with the idempotent producer (`acks=all`).
#[derive(Clone)]
pub struct KafkaPublisher {
    producer: FutureProducer,
    topic: String,
}

impl KafkaPublisher {
    pub fn new(producer: FutureProducer, topic: impl Into<String>) -> Self {
        Self { producer, topic: topic.into() }
    }

    /// A publisher with its own idempotent producer.
    pub fn connect(brokers: &str, topic: impl Into<String>) -> Result<Self, PublishError> {
        Ok(Self::new(idempotent_producer(brokers)?, topic))
    }
}

impl std::fmt::Debug for KafkaPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPublisher").field("topic", &self.topic).finish_non_exhaustive()
    }
}

impl Publish for KafkaPublisher {
    fn publish<'a>(&'a self, events: &'a [FileReadyEvent]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            // Sent together, acknowledged together: the producer batches them, and an
            // error on any one fails the call (the caller re-publishes the whole batch).
            let sends = events.iter().map(|event| publish_event(&self.producer, &self.topic, event));
            for result in futures::future::join_all(sends).await {
                result?;
            }
            Ok(())
        })
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), PublishError>> {
        Box::pin(async move {
            let producer = self.producer.clone();
            let topic = self.topic.clone();
            // fetch_metadata blocks: off the async workers.
            tokio::task::spawn_blocking(move || {
                use rdkafka::producer::Producer;
                producer
                    .client()
                    .fetch_metadata(Some(&topic), std::time::Duration::from_secs(2))
                    .map(|_| ())
                    .map_err(PublishError::from)
            })
            .await
            .map_err(|e| PublishError::Unavailable(e.to_string()))?
        })
    }
}
