//! Consumer lag per partition, for the operator: the events not yet committed (the end of
//! the partition minus its commit point). Watermarks are asked off the consumer task, on
//! a blocking thread, every few seconds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use tokio::sync::watch;

/// How often the lag is measured.
const EVERY: Duration = Duration::from_secs(5);

pub(crate) async fn report_lag(
    consumer: Arc<StreamConsumer>,
    topic: String,
    partitions: Vec<i32>,
    committed: watch::Receiver<BTreeMap<i32, i64>>,
) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let (consumer, topic, partitions) = (consumer.clone(), topic.clone(), partitions.clone());
        let watermarks = tokio::task::spawn_blocking(move || {
            partitions
                .iter()
                .filter_map(|&p| {
                    consumer.fetch_watermarks(&topic, p, Duration::from_secs(2)).ok().map(|w| (p, w))
                })
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(watermarks) = watermarks else { return };
        let committed = committed.borrow().clone();
        for (partition, (low, high)) in watermarks {
            let lag = high - committed.get(&partition).copied().unwrap_or(low).max(low);
            metrics::gauge!("argus_kafka_consumer_lag", "partition" => partition.to_string())
                .set(lag.max(0) as f64);
        }
    }
}
