//! Sinks never block workers: an LLM call that stalls holds its own batch (visibly at
//! `diagnosing`) while the batches behind it are parsed, diagnosed and stored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_pipeline::source::SourceConfig;
use argus_pipeline::{FeedEvent, Metrics, VecFeed};
use argus_sinks::diagnosis::{Diagnoser, LlmConfig};
use argus_sinks::{BatchState, StoreWriter};

use crate::common::TestDb;
use crate::common::dataflow::{eventually, rec_batch, store_job};
use crate::common::llm_server::{Behaviour, LlmServer};

/// The stalled batch's prompt is the only one with this many records.
const STALLED_RECORDS: u64 = 77;
/// Longer than the client waits: the stalled batch falls back to the rules when it gives up.
const STALL: Duration = Duration::from_secs(30);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(12);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_llm_call_delays_only_its_own_batch() {
    let db = TestDb::postgres().await;
    let needle = format!("\"records\":{STALLED_RECORDS},");
    let server = LlmServer::start(Behaviour::StallIf { needle, delay: STALL }).await;
    let mut config = LlmConfig::new(&server.base_url, "test-model");
    config.api_key = Some("sk-test".into());
    config.daily_token_budget = 10_000_000;
    config.timeout = CLIENT_TIMEOUT;
    // One call: a retry would hold the stalled batch for another client timeout.
    config.max_retries = 0;
    let diagnoser = Arc::new(Diagnoser::with_llm(config).expect("client"));

    // The stalled batch comes first, at the earliest time: a worker blocked on it would
    // not even gather the others.
    let dir = tempfile::tempdir().expect("tempdir");
    let quick: Vec<String> = (0..4).map(|i| format!("quick-{i}")).collect();
    let mut events: Vec<FeedEvent> = rec_batch(dir.path(), "stalled", STALLED_RECORDS);
    for (i, id) in quick.iter().enumerate() {
        events.extend(rec_batch(dir.path(), id, 20 + i as u64));
    }
    // One batch per activation: every batch gets a time of its own.
    let source = SourceConfig { events_per_activation: 1, ..SourceConfig::default() };
    let metrics = Arc::new(Metrics::default());
    let writer =
        StoreWriter::new(db.store.clone(), diagnoser, tokio::runtime::Handle::current(), metrics.clone());
    let job = store_job(Box::new(VecFeed::new(events)), writer, source, metrics.clone());
    let started = Instant::now();
    let run = tokio::task::spawn_blocking(move || argus_pipeline::run(job));

    let store = db.store.clone();
    let ids = quick.clone();
    eventually("the quick batches stored", CLIENT_TIMEOUT - Duration::from_secs(4), || {
        let (store, ids) = (store.clone(), ids.clone());
        async move {
            for id in &ids {
                if store.get_status(id).await.expect("status") != Some(BatchState::Completed) {
                    return false;
                }
            }
            true
        }
    })
    .await;
    assert_eq!(
        db.store.get_status("stalled").await.expect("status"),
        Some(BatchState::Diagnosing),
        "the stalled batch is visibly diagnosing while the others are stored"
    );
    assert!(!run.is_finished(), "the run must wait for the stalled batch");
    assert!(started.elapsed() < CLIENT_TIMEOUT, "the LLM client gave up before the others were stored");

    run.await.expect("run thread").expect("run");
    assert_eq!(db.store.get_status("stalled").await.expect("status"), Some(BatchState::Completed));
    let diagnosis = db.store.get_diagnosis("stalled").await.expect("read").expect("diagnosis");
    let reason = diagnosis.fallback_reason.unwrap_or_default();
    assert!(reason.contains("timed out"), "the stalled call fell back to the rules: {reason}");
    assert_eq!(Metrics::get(&metrics.batches_finished), 5);
    assert!(started.elapsed() < Duration::from_secs(40));
}
