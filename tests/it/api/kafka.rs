//! `complete` through the Kafka publisher to a real broker: one record per file, keyed by
//! the batch id, the spec's JSON as value; completing again publishes them again.

use std::sync::Arc;

use argus_api::ApiConfig;
use argus_ingest::KafkaPublisher;
use argus_ingest::kafka::FileReadyEvent;

use super::{Backend, Server};
use crate::broker::KafkaBroker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_publishes_to_kafka() {
    let broker = Arc::new(tokio::task::spawn_blocking(KafkaBroker::start).await.unwrap());
    let setup = broker.clone();
    tokio::task::spawn_blocking(move || setup.create_topic("argus.files.ready", 3)).await.unwrap();
    let publisher = Arc::new(KafkaPublisher::connect(&broker.bootstrap(), "argus.files.ready").unwrap());
    let server =
        Server::start_publishing(Backend::Postgres, ApiConfig::default(), None, Some(publisher)).await;
    assert_eq!(server.get("/readyz").await.0, 200);

    let batch = server.create_batch("WAUZZZ8V1KA000001").await;
    for name in ["seg-00.rec", "seg-01.rec"] {
        assert_eq!(server.upload(&batch, name, vec![1; 1000]).await.0, 201);
    }
    for _ in 0..2 {
        assert_eq!(server.post(&format!("/api/v1/batches/{batch}/complete")).await.0, 202);
    }
    let reader = broker.clone();
    let records =
        tokio::task::spawn_blocking(move || reader.consume_all("argus.files.ready", 3)).await.unwrap();
    assert_eq!(records.len(), 4, "two files, completed twice");
    let mut files: Vec<String> = Vec::new();
    for (_, _, key, value, _) in &records {
        assert_eq!(key.as_deref(), Some(batch.as_bytes()));
        let event = FileReadyEvent::parse(value.as_deref().unwrap()).unwrap();
        assert_eq!((event.batch_id.as_str(), event.file_count, event.size), (batch.as_str(), 2, 1000));
        assert_eq!(event.uri, format!("batches/{batch}/{}", event.file_id));
        files.push(event.file_id);
    }
    files.sort();
    assert_eq!(files, ["seg-00.rec", "seg-00.rec", "seg-01.rec", "seg-01.rec"]);
    server.stop().await;
}
