//! The schema from an empty database, a second run that changes nothing, and the
//! backfills of migrations that derive tables from rows stored before them.

use crate::common::TestDb;
use crate::fleet_filtered::derived_rows;
use crate::similar::{bulk_load_rows, fleet};

const TABLES: [&str; 20] = [
    "batch_status_transitions",
    "batches",
    "files",
    "reports",
    "batch_codes",
    "diagnoses",
    "token_usage",
    "llm_reservations",
    "kafka_offsets",
    "fleet_reports",
    "uploads",
    "pruned_objects",
    "completed_codes",
    "batch_tombstones",
    "firmware_days",
    "firmware_code_days",
    "firmware_codes",
    "firmware_code_vins",
    "completed_pairs",
    "completed_vectors",
];

async fn from_empty_then_again(db: &TestDb) {
    assert!(db.store.applied_migrations().await.is_err(), "an empty database has no migration table");
    db.store.migrate().await.expect("first migration");
    let applied = db.store.applied_migrations().await.expect("applied");
    assert_eq!(applied, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    for table in TABLES {
        assert_eq!(db.scalar(&format!("SELECT COUNT(*) FROM {table} WHERE 1 = 0")).await, 0, "{table}");
    }
    let transitions = db.scalar("SELECT COUNT(*) FROM batch_status_transitions").await;
    assert_eq!(transitions, 11);

    db.store.migrate().await.expect("second migration is a no-op");
    assert_eq!(db.store.applied_migrations().await.expect("applied"), applied);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM batch_status_transitions").await, transitions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_from_empty() {
    from_empty_then_again(&TestDb::postgres_empty().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_from_empty() {
    from_empty_then_again(&TestDb::sqlite_empty().await).await;
}

/// Rows stored under migration 0009, then the later migrations: their backfills (the
/// pair index of 0010, each VIN's latest record time of 0011, the vectors of 0012) equal
/// what the rebuilds compute from the same rows.
async fn backfills_equal_the_rebuilds(db: &TestDb) {
    db.store.migrate_to(9).await.expect("migrate to 0009");
    bulk_load_rows(db, &fleet(300, 11)).await;
    db.store.migrate().await.expect("migrate the rest");
    let backfilled = derived_rows(&db.store).await;
    assert!(backfilled.iter().any(|row| row.starts_with("pair ")), "0010 fills the pair index");
    let vectors = backfilled.iter().filter(|row| row.starts_with("vector ")).count();
    assert_eq!(vectors, 300, "0012 fills a vector per completed batch with codes");
    let seen = backfilled.iter().filter(|row| row.contains(" vin ") && !row.ends_with(" -")).count();
    assert!(seen > 100, "0011 fills the latest record times ({seen} rows)");
    db.store.rebuild_derived_tables().await.expect("rebuild");
    assert_eq!(derived_rows(&db.store).await, backfilled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backfills() {
    backfills_equal_the_rebuilds(&TestDb::postgres_empty().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backfills() {
    backfills_equal_the_rebuilds(&TestDb::sqlite_empty().await).await;
}

#[tokio::test]
async fn bad_urls_are_clear_errors() {
    let err = argus_sinks::Store::open("mysql://localhost/x").await.unwrap_err();
    assert!(err.to_string().contains("unsupported database url"), "{err}");
    let options = argus_sinks::StoreOptions {
        acquire_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    // Port 1 on loopback: nothing listens there.
    let err = argus_sinks::Store::open_with("postgres://u:secret@127.0.0.1:1/x", &options).await.unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("cannot connect to postgres://u:***@127.0.0.1:1/x"), "{text}");
    assert!(!text.contains("secret"));
}
