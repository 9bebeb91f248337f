//! SIGTERM drains: the pipeline stops reading, finishes what it took, records its commit
//! points and exits 0; the restart reads nothing already stored, and loses nothing. A
//! broker restart mid-run loses nothing either.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use argus_sinks::BatchState;

use super::harness::*;
use super::{assert_matches_replay, fleet_root, pipeline_args};

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_and_the_restart_reads_nothing_already_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fleet_root(tmp.path(), 120);
    let ids = batches_with_files(&root);
    let partitions = 4;
    let broker = broker_with_topics(partitions);
    publish(&broker, &root);
    let (db, store) = fresh_db().await;
    let log = tmp.path().join("pipeline.log");
    let args = pipeline_args(&broker, &db.url(), &root, &log);

    let mut pipeline = PipelineProcess::start(&args);
    while final_batches(&store).await == 0 {
        assert!(pipeline.exited().is_none(), "the pipeline died: {}", pipeline.log_text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = pipeline.terminate(Duration::from_secs(35));
    assert!(status.success(), "exit {status} after SIGTERM; log: {}", pipeline.log_text());

    // Everything below a commit point is stored; no stored batch has an event at or above
    // one (the restart, which resumes there, reads no stored batch again).
    let points = stored_offsets(&store).await;
    let mut below: BTreeMap<String, bool> = BTreeMap::new();
    for (partition, offset, key, _, _) in broker.consume_all(TOPIC, partitions) {
        let batch = String::from_utf8(key.unwrap()).unwrap();
        let is_below = points.get(&partition).is_some_and(|next| offset < *next);
        *below.entry(batch).or_insert(true) &= is_below;
    }
    let mut stored = BTreeSet::new();
    for id in &ids {
        if store.get_status(id).await.unwrap().is_some_and(BatchState::is_terminal) {
            stored.insert(id.clone());
        }
    }
    let committed: BTreeSet<String> = below.into_iter().filter(|(_, b)| *b).map(|(id, _)| id).collect();
    assert!(!stored.is_empty());
    assert_eq!(committed, stored, "the commit points cover exactly the stored batches");

    let _restarted = PipelineProcess::start(&args);
    wait_final(&store, ids.len(), Duration::from_secs(120), &[&log]).await;
    assert_matches_replay(&store, &replay(&root), &ids, &broker, partitions, "after SIGTERM and a restart")
        .await;
    store.close().await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_restart_mid_run_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fleet_root(tmp.path(), 150);
    let ids = batches_with_files(&root);
    let partitions = 4;
    let mut broker = broker_with_topics(partitions);
    publish(&broker, &root);
    let (db, store) = fresh_db().await;
    let log = tmp.path().join("pipeline.log");
    let _pipeline = PipelineProcess::start(&pipeline_args(&broker, &db.url(), &root, &log));
    while final_batches(&store).await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    broker.restart();
    wait_final(&store, ids.len(), Duration::from_secs(180), &[&log]).await;
    assert_matches_replay(&store, &replay(&root), &ids, &broker, partitions, "across a broker restart").await;
    store.close().await;
    db.drop_it().await;
}
