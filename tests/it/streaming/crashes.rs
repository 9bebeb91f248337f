//! Crashes at any moment lose no batch and count none twice.

use std::time::Duration;

use super::Published;
use super::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_pipeline_killed_at_twenty_random_moments_stores_every_batch_once() {
    let fleet = Published::new(200, 4);
    let (db, store) = fresh_db().await;
    let args = PipelineArgs { extra: vec!["-w".into(), "2".into()], ..fleet.args(&db.url(), "pipeline.log") };

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
    assert!(
        finals_seen.iter().any(|&n| n > 0 && n < fleet.ids.len()),
        "some kills fell mid-run: {finals_seen:?}"
    );
    let _pipeline = PipelineProcess::start(&args);
    wait_final(&store, fleet.ids.len(), Duration::from_secs(180), &[&args.log]).await;
    fleet.assert_stored(&store, "after 20 crashes").await;
    assert_eq!(report_rows(&store).await, fleet.ids.len(), "one report per batch");
    store.close().await;
    db.drop_it().await;
}

/// At-least-once is the contract upstream (an upload completed twice publishes twice):
/// events of batches the store already holds change nothing, even for a pipeline that
/// restarted and remembers nothing of them.
#[tokio::test(flavor = "multi_thread")]
async fn events_published_again_after_a_restart_change_nothing() {
    let fleet = Published::new(40, 2);
    let (db, store) = fresh_db().await;
    let args = fleet.args(&db.url(), "pipeline.log");

    let mut first = PipelineProcess::start(&args);
    wait_final(&store, fleet.ids.len(), Duration::from_secs(120), &[&args.log]).await;
    fleet.assert_stored(&store, "first run").await;
    first.kill9();

    let _second = PipelineProcess::start(&args);
    publish(&fleet.broker, &fleet.root);
    fleet.assert_stored(&store, "published again").await;
    assert_eq!(final_batches(&store).await, fleet.ids.len());
    store.close().await;
    db.drop_it().await;
}
