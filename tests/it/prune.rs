//! `argus prune --older-than`: the vectors replayed into PostgreSQL and SQLite, pruned by
//! the binary; a dry run changes nothing, young batches stay, pruned ids are tombstoned
//! and a replay of the same batches afterwards stores none of them again. Batches
//! uploaded to `argus serve` leave the object store with their files, and an object that
//! cannot be deleted stays listed until a later prune deletes it.

use std::time::Duration;

use argus_sinks::Store;

use crate::db::Db;
use futures::StreamExt;

use crate::s3::S3Server;
use crate::serve::{Serve, rec_files, vector_batches};
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

/// Through `serve`: the first vector batch uploaded and completed, and a batch left open
/// with one file; then the server is stopped. Returns the two ids and the completed
/// batch's file count.
async fn upload_completed_and_open(serve: Serve) -> (String, String, usize) {
    let (_, dir) = &vector_batches()[0];
    let done = serve.upload_batch(dir).await;
    assert_eq!(serve.wait_final(&done).await, "completed");
    let open = serve.create_batch().await;
    let url = serve.url(&format!("/batches/{open}/files?name=open.rec"));
    let response =
        serve.client.post(url).body(std::fs::read(&rec_files(dir)[0]).unwrap()).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    serve.terminate();
    // Final for more than the second the prunes below allow.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    (done, open, rec_files(dir).len())
}

fn stdout(output: std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_deletes_the_uploaded_files_of_pruned_batches() {
    let data = tempfile::tempdir().unwrap();
    let (done, open, files) = upload_completed_and_open(Serve::start(data.path()).await).await;
    let batches = data.path().join("objects/batches");
    let done_dir = batches.join(&done);
    assert_eq!(std::fs::read_dir(&done_dir).unwrap().count(), files);
    // One object the object store cannot delete: a directory where the file was.
    let stuck = rec_files(&done_dir)[0].clone();
    std::fs::remove_file(&stuck).unwrap();
    std::fs::create_dir(&stuck).unwrap();
    let prune_uploads = || {
        let mut command = argus();
        command.args(["prune", "--older-than", "1s", "--data-dir"]).arg(data.path());
        command
    };

    let dry = stdout(run_ok(prune_uploads().arg("--dry-run")));
    assert!(
        dry.contains(&format!("would prune 1 batch(es) final for more than 1s, and delete {files} uploaded")),
        "{dry}"
    );
    let failed = prune_uploads().output().unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "a prune that left an object undeleted succeeded");
    assert!(stderr.contains("could not delete") && stderr.contains("run the prune again"), "{stderr}");
    assert!(String::from_utf8_lossy(&failed.stdout).contains("pruned 1 batch(es)"));
    assert_eq!(std::fs::read_dir(&done_dir).unwrap().count(), 1, "the other files are deleted");

    // Another object store: a directory that does not exist, or one without uploads,
    // deletes and forgets nothing.
    let elsewhere = tempfile::tempdir().unwrap();
    for (dir, says) in [
        (elsewhere.path().join("typo"), "no such directory"),
        (elsewhere.path().to_owned(), "holds no upload"),
    ] {
        let wrong = prune_uploads().arg("--object-store").arg(&dir).output().unwrap();
        let stderr = String::from_utf8_lossy(&wrong.stderr);
        assert!(!wrong.status.success() && stderr.contains(says), "{stderr}");
    }
    assert!(!elsewhere.path().join("typo").exists(), "the prune made the directory it was named");

    // Once the object can go, the next prune deletes it: the batch's directory goes too.
    std::fs::remove_dir(&stuck).unwrap();
    std::fs::write(&stuck, b"stuck").unwrap();
    let out = stdout(run_ok(&mut prune_uploads()));
    assert!(out.contains("pruned 0 batch(es)") && out.contains("deleted 1 uploaded object(s)"), "{out}");
    assert!(!done_dir.exists(), "the pruned batch's directory is left");
    assert!(batches.join(&open).join("open.rec").is_file(), "the open batch's file was deleted");
    assert!(stdout(run_ok(&mut prune_uploads())).contains("deleted 0 uploaded object(s)"));
}

/// The same with the objects in S3 (moto): `--object-store` names the bucket.
#[tokio::test(flavor = "multi_thread")]
async fn prune_deletes_the_uploaded_objects_of_pruned_batches_from_s3() {
    const BUCKET: &str = "argus-prune";
    let s3 = tokio::task::spawn_blocking(|| {
        let s3 = S3Server::start();
        s3.create_bucket(BUCKET);
        s3
    })
    .await
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let object_store = format!("s3://{BUCKET}");
    let args = ["--object-store".to_owned(), object_store.clone()];
    let serve = Serve::start_with(data.path(), &args, &s3.env()).await;
    let (done, open, files) = upload_completed_and_open(serve).await;
    let bucket = s3.store(BUCKET);
    let keys = || async {
        let listed: Vec<_> = bucket.list(None).collect().await;
        let mut keys: Vec<String> = listed.into_iter().map(|o| o.unwrap().location.to_string()).collect();
        keys.sort();
        keys
    };
    let in_batch =
        |keys: &[String], id: &str| keys.iter().filter(|k| k.starts_with(&format!("batches/{id}/"))).count();
    assert_eq!(in_batch(&keys().await, &done), files);

    let mut prune = argus();
    prune.envs(s3.env()).args(["prune", "--older-than", "1s", "--object-store", &object_store, "--data-dir"]);
    let out = stdout(run_ok(prune.arg(data.path())));
    assert!(
        out.contains("pruned 1 batch(es)") && out.contains(&format!("deleted {files} uploaded object(s)")),
        "{out}"
    );
    let left = keys().await;
    assert_eq!(in_batch(&left, &done), 0, "objects of the pruned batch are left: {left:?}");
    assert_eq!(left, [format!("batches/{open}/open.rec")], "only the open batch's object is to be left");
}
