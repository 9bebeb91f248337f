//! SIGTERM drains: the pipeline stops reading, finishes what it took, records its commit
//! points and exits 0; the restart reads nothing already stored, and loses nothing. A
//! broker restart mid-run loses nothing either.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use argus_sinks::BatchState;

use super::Published;
use super::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_and_the_restart_reads_nothing_already_stored() {
    let fleet = Published::new(120, 4);
    let (db, store) = fresh_db().await;
    let args = fleet.args(&db.url(), "pipeline.log");

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
    for (partition, offset, key, _, _) in fleet.broker.consume_all(TOPIC, fleet.partitions) {
        let batch = String::from_utf8(key.unwrap()).unwrap();
        let is_below = points.get(&partition).is_some_and(|next| offset < *next);
        *below.entry(batch).or_insert(true) &= is_below;
    }
    let mut stored = BTreeSet::new();
    for id in &fleet.ids {
        if store.get_status(id).await.unwrap().is_some_and(BatchState::is_terminal) {
            stored.insert(id.clone());
        }
    }
    let committed: BTreeSet<String> = below.into_iter().filter(|(_, b)| *b).map(|(id, _)| id).collect();
    assert!(!stored.is_empty());
    assert_eq!(committed, stored, "the commit points cover exactly the stored batches");

    let _restarted = PipelineProcess::start(&args);
    wait_final(&store, fleet.ids.len(), Duration::from_secs(120), &[&args.log]).await;
    fleet.assert_stored(&store, "after SIGTERM and a restart").await;
    store.close().await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_restart_mid_run_loses_nothing() {
    let mut fleet = Published::new(150, 4);
    let (db, store) = fresh_db().await;
    let args = fleet.args(&db.url(), "pipeline.log");
    let _pipeline = PipelineProcess::start(&args);
    while final_batches(&store).await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fleet.broker.restart();
    wait_final(&store, fleet.ids.len(), Duration::from_secs(180), &[&args.log]).await;
    fleet.assert_stored(&store, "across a broker restart").await;
    store.close().await;
    db.drop_it().await;
}

/// Postgres goes away mid-run (connections refused, open ones cut) and comes back: the
/// writes and the feed's store calls are retried; nothing is lost and nothing is written
/// twice. (The test's own database is closed rather than the shared server restarted, so
/// that tests running beside it are not disturbed.)
#[tokio::test(flavor = "multi_thread")]
async fn a_store_outage_mid_run_loses_nothing_and_writes_nothing_twice() {
    let fleet = Published::new(150, 4);
    let (db, store) = fresh_db().await;
    let crate::db::Db::Postgres { admin, name } = &db else { unreachable!("fresh_db is Postgres") };
    let admin = sqlx::PgPool::connect(admin).await.unwrap();
    let args = fleet.args(&db.url(), "pipeline.log");
    let _pipeline = PipelineProcess::start(&args);
    while final_batches(&store).await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store.close().await;
    let allow = |yes: bool| format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {yes}");
    sqlx::query(&allow(false)).execute(&admin).await.unwrap();
    let cut = format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'");
    sqlx::query(&cut).execute(&admin).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    sqlx::query(&allow(true)).execute(&admin).await.unwrap();

    let store = argus_sinks::Store::open(&db.url()).await.unwrap();
    wait_final(&store, fleet.ids.len(), Duration::from_secs(180), &[&args.log]).await;
    fleet.assert_stored(&store, "across a store outage").await;
    assert_eq!(report_rows(&store).await, fleet.ids.len(), "one report per batch");
    store.close().await;
    admin.close().await;
    db.drop_it().await;
}
