//! `argus replay --database-url`: the vectors replayed into PostgreSQL and SQLite give
//! stored reports equal to the expected ones, and replaying again changes nothing.

use std::path::Path;

use argus_sinks::{FleetQuery, Store};
use serde_json::Value;

use crate::db::Db;
use crate::util::{argus, run_ok, vector_root, vectors};

fn normalized(mut report: Value) -> Value {
    report.as_object_mut().unwrap().remove("diagnosis");
    for file in report["files"].as_array_mut().unwrap() {
        file["error"] = Value::Bool(!file["error"].is_null());
    }
    report
}

fn expected(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(vectors().join("expected").join(name)).unwrap()).unwrap()
}

async fn stored_reports(store: &Store, root: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let batch = entry.unwrap().file_name().to_string_lossy().into_owned();
        let json =
            store.get_report_json(&batch).await.unwrap().unwrap_or_else(|| panic!("no report for {batch}"));
        out.push((batch, serde_json::from_str(&json).unwrap()));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

async fn replay_vectors_into(db: Db) {
    let tmp = tempfile::tempdir().unwrap();
    let root = vector_root(tmp.path());
    let url = db.url();
    let replay = || run_ok(argus().arg("replay").arg(&root).args(["-w", "2", "--database-url", &url]));
    replay();

    let store = Store::open(&url).await.unwrap();
    let first = stored_reports(&store, &root).await;
    assert_eq!(first.len(), 16);
    for (batch, report) in &first {
        assert_eq!(
            normalized(report.clone()),
            normalized(expected(&format!("batches/{batch}.json"))),
            "{batch}"
        );
    }
    let fleet =
        store.fleet_top_errors(&FleetQuery { k: 10, window: None, vin: None, firmware: None }).await.unwrap();
    assert_eq!(serde_json::to_value(&fleet).unwrap(), expected("fleet.json"));

    // Replaying the same batches again is a no-op.
    replay();
    assert_eq!(stored_reports(&store, &root).await, first);
    store.close().await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_into_postgres_stores_the_expected_reports() {
    replay_vectors_into(Db::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_into_sqlite_stores_the_expected_reports() {
    replay_vectors_into(Db::Sqlite(tempfile::tempdir().unwrap())).await;
}
