//! `argus replay --database-url`: the vectors replayed into PostgreSQL and SQLite give
//! stored reports equal to the expected ones, and replaying again changes nothing.

use std::path::Path;

use argus_sinks::{FleetQuery, Store};
use serde_json::Value;

use crate::util::{argus, run_ok, vector_root, vectors};

/// A fresh database: a new PostgreSQL database (dropped at the end), or a SQLite file.
enum Db {
    Postgres { admin: String, name: String },
    Sqlite(tempfile::TempDir),
}

impl Db {
    async fn postgres() -> Self {
        let admin = std::env::var("ARGUS_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres:argus@127.0.0.1:5432/test".into());
        let name = format!("argus_it_{}", uuid::Uuid::new_v4().simple());
        let Store::Postgres(pool) = Store::open(&admin).await.expect("postgres on 127.0.0.1") else {
            panic!("ARGUS_TEST_DATABASE_URL must be a postgres URL")
        };
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
        pool.close().await;
        Db::Postgres { admin, name }
    }

    fn url(&self) -> String {
        match self {
            Db::Postgres { admin, name } => format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]),
            Db::Sqlite(dir) => format!("sqlite://{}?mode=rwc", dir.path().join("argus.db").display()),
        }
    }

    async fn drop_it(self) {
        if let Db::Postgres { admin, name } = self {
            let Store::Postgres(pool) = Store::open(&admin).await.unwrap() else { unreachable!() };
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

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
