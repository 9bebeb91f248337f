//! `argus prune --older-than`: the vectors replayed into PostgreSQL and SQLite, pruned by
//! the binary; a dry run changes nothing, young batches stay, pruned ids are tombstoned
//! and a replay of the same batches afterwards stores none of them again.

use std::time::Duration;

use argus_sinks::Store;

use crate::db::Db;
use crate::util::{argus, run_ok, vector_root};

/// Rows left of the vectors' batches, over every table that holds a batch's data.
async fn rows(store: &Store) -> i64 {
    let tables = ["batches", "files", "reports", "batch_codes", "diagnoses", "completed_codes", "uploads"];
    let mut total = 0;
    for table in tables {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        total += match store {
            Store::Postgres(pool) => sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await.unwrap(),
            Store::Sqlite(pool) => sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await.unwrap(),
        };
    }
    total
}

async fn tombstones(store: &Store) -> i64 {
    let sql = "SELECT COUNT(*) FROM batch_tombstones";
    match store {
        Store::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Store::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

fn prune(url: &str, args: &[&str]) -> String {
    let output = run_ok(argus().args(["prune", "--database-url", url]).args(args));
    String::from_utf8(output.stdout).unwrap()
}

async fn prune_vectors_in(db: Db) {
    let tmp = tempfile::tempdir().unwrap();
    let root = vector_root(tmp.path());
    let url = db.url();
    let replay = || run_ok(argus().arg("replay").arg(&root).args(["-w", "2", "--database-url", &url]));
    replay();
    let store = Store::open(&url).await.unwrap();
    let stored = rows(&store).await;
    assert!(stored > 16, "the vectors are stored: {stored} rows");

    // Nothing has been final for an hour; a dry run counts without deleting.
    assert!(prune(&url, &["--older-than", "1h"]).contains("pruned 0 batch(es)"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(prune(&url, &["--older-than", "1s", "--dry-run"]).contains("would prune 16 batch(es)"));
    assert_eq!(rows(&store).await, stored, "a dry run deleted rows");

    let out = prune(&url, &["--older-than", "1s"]);
    assert!(out.contains("pruned 16 batch(es) final for more than 1s"), "{out}");
    assert_eq!(rows(&store).await, 0, "a pruned batch left rows behind");
    assert_eq!(tombstones(&store).await, 16);

    // The same batches replayed again: the run succeeds and stores none of them.
    replay();
    assert_eq!(rows(&store).await, 0, "a pruned batch came back");
    assert!(prune(&url, &["--older-than", "1s"]).contains("pruned 0 batch(es)"));
    store.close().await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_postgres_removes_old_batches_for_good() {
    prune_vectors_in(Db::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_sqlite_removes_old_batches_for_good() {
    prune_vectors_in(Db::Sqlite(tempfile::tempdir().unwrap())).await;
}

#[test]
fn prune_without_a_store_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let output = argus()
        .args(["prune", "--older-than", "30d", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("the command starts");
    assert!(!output.status.success(), "pruning a store that does not exist succeeded");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot connect to sqlite://"), "{stderr}");
}
