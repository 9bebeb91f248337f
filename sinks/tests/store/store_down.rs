//! Durable means durable: while Postgres refuses connections the writer retries with
//! backoff and the batch's time stays open; once the database is back, the batch is
//! stored once and its time passes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use argus_pipeline::Metrics;
use argus_sinks::diagnosis::Diagnoser;
use argus_sinks::{Backoff, BatchState, Store, StoreOptions, StoreWriter};

use crate::common::dataflow::{eventually, live_feed, rec_batch, store_job};
use crate::common::{TestDb, admin_url};

/// The time the batch opens at (the feed's clock is stopped there).
const T: u64 = 1_000;

async fn allow_connections(admin: &Store, database: &str, allow: bool) {
    let Store::Postgres(pool) = admin else { unreachable!("the admin store is postgres") };
    sqlx::query(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS {allow}"))
        .execute(pool)
        .await
        .expect("alter database");
    if !allow {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(database)
            .execute(pool)
            .await
            .expect("terminate connections");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_is_down_holds_the_batch_time_until_it_is_back() {
    let db = TestDb::postgres().await;
    let database = db.url.rsplit('/').next().expect("database name").to_owned();
    let admin = Store::open(&admin_url()).await.expect("admin");
    let options = StoreOptions { max_connections: 2, acquire_timeout: Duration::from_millis(500) };
    let store = Store::open_with(&db.url, &options).await.expect("writer's store");
    allow_connections(&admin, &database, false).await;

    let metrics = Arc::new(Metrics::default());
    let backoff = Backoff { first: Duration::from_millis(50), max: Duration::from_millis(400) };
    let writer = StoreWriter::new(
        store,
        Arc::new(Diagnoser::rules_only()),
        tokio::runtime::Handle::current(),
        metrics.clone(),
    )
    .with_backoff(backoff);
    let (tx, feed, committed, source) = live_feed(T);
    let run = tokio::task::spawn_blocking({
        let job = store_job(feed, writer, source, metrics.clone());
        move || argus_pipeline::run(job)
    });
    let dir = tempfile::tempdir().expect("tempdir");
    for event in rec_batch(dir.path(), "while-down", 40) {
        tx.send(event).expect("feed");
    }

    let retries = || Metrics::get(&metrics.store_write_retries);
    eventually("retries while the database is away", Duration::from_secs(30), || async { retries() >= 3 })
        .await;
    let held = committed.load(Ordering::SeqCst);
    assert_eq!(held, 0, "the batch's event was committed ({held}) while its write kept failing");
    assert_eq!(Metrics::get(&metrics.batches_finished), 0);
    assert!(!run.is_finished());

    allow_connections(&admin, &database, true).await;
    eventually("the time durable once the database is back", Duration::from_secs(30), || async {
        committed.load(Ordering::SeqCst) > 0
    })
    .await;
    drop(tx);
    run.await.expect("run thread").expect("run");

    assert_eq!(db.store.get_status("while-down").await.expect("status"), Some(BatchState::Completed));
    assert_eq!(db.scalar("SELECT COUNT(*) FROM reports WHERE batch_id = 'while-down'").await, 1);
    assert_eq!(Metrics::get(&metrics.batches_finished), 1, "stored and acknowledged once");
    assert!(retries() >= 3);
    admin.close().await;
}
