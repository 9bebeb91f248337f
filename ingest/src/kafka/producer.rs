//! Producing to Kafka: the idempotent producer (`acks=all`) that `argus publish`, the
//! upload API and the dead-letter path share.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::event::FileReadyEvent;

/// An idempotent producer: retried sends never duplicate or reorder a partition's records.
pub fn idempotent_producer(brokers: &str) -> Result<FutureProducer, KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "300000")
        .create()
}

/// Publishes one file-ready event, keyed by its batch id, and waits for the broker's
/// acknowledgement.
pub async fn publish_event(
    producer: &FutureProducer,
    topic: &str,
    event: &FileReadyEvent,
) -> Result<(i32, i64), KafkaError> {
    // Strings and integers only: encoding cannot fail.
    let value = serde_json::to_vec(event).expect("a file-ready event encodes as JSON");
    let record = FutureRecord::to(topic).key(&event.batch_id).payload(&value);
    let delivery = producer.send(record, Duration::from_secs(300)).await.map_err(|(error, _)| error)?;
    Ok((delivery.partition, delivery.offset))
}

/// A message copied to the dead-letter topic: its key, value and headers, plus why and
/// where it came from.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub reason: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// Sends a dead letter and waits for the broker's acknowledgement.
pub async fn send_dead_letter(
    producer: &FutureProducer,
    dlq_topic: &str,
    letter: &DeadLetter,
) -> Result<(), KafkaError> {
    let partition = letter.partition.to_string();
    let offset = letter.offset.to_string();
    let mut headers = OwnedHeaders::new_with_capacity(letter.headers.len() + 4);
    for (key, value) in &letter.headers {
        headers = headers.insert(Header { key, value: value.as_deref() });
    }
    headers = headers
        .insert(Header { key: "argus-error", value: Some(letter.reason.as_bytes()) })
        .insert(Header { key: "argus-source-topic", value: Some(letter.topic.as_bytes()) })
        .insert(Header { key: "argus-source-partition", value: Some(partition.as_bytes()) })
        .insert(Header { key: "argus-source-offset", value: Some(offset.as_bytes()) });
    let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(dlq_topic).headers(headers);
    if let Some(key) = &letter.key {
        record = record.key(key.as_slice());
    }
    if let Some(value) = &letter.value {
        record = record.payload(value.as_slice());
    }
    producer.send(record, Duration::from_secs(300)).await.map_err(|(error, _)| error)?;
    Ok(())
}
