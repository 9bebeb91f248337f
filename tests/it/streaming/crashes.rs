//! Crashes at any moment lose no batch and count none twice.

use std::time::Duration;

use super::harness::*;
use super::{assert_matches_replay, fleet_root, pipeline_args};

#[tokio::test(flavor = "multi_thread")]
async fn a_pipeline_killed_at_twenty_random_moments_stores_every_batch_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fleet_root(tmp.path(), 200);
    let ids = batches_with_files(&root);
    let replayed = replay(&root);
    let partitions = 4;
    let broker = broker_with_topics(partitions);
    publish(&broker, &root);
    let (db, store) = fresh_db().await;
    let log = tmp.path().join("pipeline.log");
    let args = PipelineArgs {
        extra: vec!["-w".into(), "2".into()],
        ..pipeline_args(&broker, &db.url(), &root, &log)
    };

    // Deterministic "random" moments between 0.2 and 2 s after each start.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut finals_seen = Vec::new();
    for _ in 0..20 {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let after = Duration::from_millis(200 + (state >> 33) % 1800);
        let mut pipeline = PipelineProcess::start(&args);
        tokio::time::sleep(after).await;
        pipeline.kill9();
        finals_seen.push(final_batches(&store).await);
    }
    assert!(finals_seen.iter().any(|&n| n > 0 && n < ids.len()), "some kills fell mid-run: {finals_seen:?}");
    let _pipeline = PipelineProcess::start(&args);
    wait_final(&store, ids.len(), Duration::from_secs(180), &[&log]).await;
    assert_matches_replay(&store, &replayed, &ids, &broker, partitions, "after 20 crashes").await;
    let reports: i64 = match &store {
        argus_sinks::Store::Postgres(pool) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM reports").fetch_one(pool).await.unwrap()
        }
        argus_sinks::Store::Sqlite(_) => unreachable!("the test uses Postgres"),
    };
    assert_eq!(reports as usize, ids.len(), "one report per batch");
    store.close().await;
    db.drop_it().await;
}

/// At-least-once is the contract upstream (an upload completed twice publishes twice):
/// events of batches the store already holds change nothing, even for a pipeline that
/// restarted and remembers nothing of them.
#[tokio::test(flavor = "multi_thread")]
async fn events_published_again_after_a_restart_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fleet_root(tmp.path(), 40);
    let ids = batches_with_files(&root);
    let replayed = replay(&root);
    let partitions = 2;
    let broker = broker_with_topics(partitions);
    publish(&broker, &root);
    let (db, store) = fresh_db().await;
    let log = tmp.path().join("pipeline.log");
    let args = pipeline_args(&broker, &db.url(), &root, &log);

    let mut first = PipelineProcess::start(&args);
    wait_final(&store, ids.len(), Duration::from_secs(120), &[&log]).await;
    assert_matches_replay(&store, &replayed, &ids, &broker, partitions, "first run").await;
    first.kill9();

    let _second = PipelineProcess::start(&args);
    publish(&broker, &root);
    assert_matches_replay(&store, &replayed, &ids, &broker, partitions, "published again").await;
    assert_eq!(final_batches(&store).await, ids.len());
    store.close().await;
    db.drop_it().await;
}
