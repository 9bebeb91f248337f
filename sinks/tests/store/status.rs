//! The state machine, enforced by the database: raw SQL, not only the Rust API.

use argus_sinks::BatchState;

use crate::both_backends;
use crate::common::TestDb;

const STATES: [&str; 7] =
    ["pending", "uploaded", "scattering", "gathering", "diagnosing", "completed", "failed"];

/// The legal moves of reports-events-api.md, written out independently of the code.
const LEGAL: [(&str, &str); 9] = [
    ("pending", "uploaded"),
    ("uploaded", "scattering"),
    ("scattering", "gathering"),
    ("gathering", "diagnosing"),
    ("diagnosing", "completed"),
    ("uploaded", "failed"),
    ("scattering", "failed"),
    ("gathering", "failed"),
    ("diagnosing", "failed"),
    // ("completed", "completed") is tried too: staying put is not a move, but it is an
    // update of a final batch, which migration 0006 refuses.
];

fn set_status(id: &str, to: &str) -> String {
    let failure = if to == "failed" { "'timed out'" } else { "NULL" };
    format!("UPDATE batches SET status = '{to}', failure = {failure} WHERE batch_id = '{id}'")
}

/// Brings a new batch `id` to `state` through legal raw updates.
async fn reach(db: &TestDb, id: &str, state: &str) {
    db.exec(&format!("INSERT INTO batches (batch_id, status) VALUES ('{id}', 'pending')"))
        .await
        .expect("insert");
    let chain = ["pending", "uploaded", "scattering", "gathering", "diagnosing", "completed"];
    let target = if state == "failed" { "uploaded" } else { state };
    let stop = chain.iter().position(|s| *s == target).expect("state in chain");
    for step in &chain[1..=stop] {
        db.exec(&set_status(id, step)).await.expect("legal step");
    }
    if state == "failed" {
        db.exec(&set_status(id, "failed")).await.expect("legal fail");
    }
}

async fn every_pair(db: &TestDb) {
    for (i, from) in STATES.iter().enumerate() {
        for (j, to) in STATES.iter().enumerate() {
            if from == to && !matches!(*from, "completed") {
                continue;
            }
            let id = format!("m-{i}-{j}");
            reach(db, &id, from).await;
            let result = db.exec(&set_status(&id, to)).await;
            let legal = LEGAL.contains(&(from, to));
            assert_eq!(result.is_ok(), legal, "{from} -> {to}: {result:?}");
            let now: String = match &db.store {
                argus_sinks::Store::Postgres(p) => {
                    sqlx::query_scalar("SELECT status FROM batches WHERE batch_id = $1")
                        .bind(&id)
                        .fetch_one(p)
                        .await
                }
                argus_sinks::Store::Sqlite(p) => {
                    sqlx::query_scalar("SELECT status FROM batches WHERE batch_id = $1")
                        .bind(&id)
                        .fetch_one(p)
                        .await
                }
            }
            .expect("status");
            assert_eq!(now, if legal { *to } else { *from });
        }
    }
}
both_backends!(illegal_moves_refused, every_pair);

async fn inserts_start_at_pending_or_uploaded(db: &TestDb) {
    for (i, state) in STATES.iter().enumerate() {
        let failure = if *state == "failed" { "'x'" } else { "NULL" };
        let sql =
            format!("INSERT INTO batches (batch_id, status, failure) VALUES ('i-{i}', '{state}', {failure})");
        let ok = db.exec(&sql).await.is_ok();
        assert_eq!(ok, matches!(*state, "pending" | "uploaded"), "insert at {state}");
    }
    assert!(db.exec("INSERT INTO batches (batch_id, status) VALUES ('bogus', 'done')").await.is_err());
    // An upsert that would skip states is refused as well.
    let sql = "INSERT INTO batches (batch_id, status) VALUES ('i-0', 'pending') \
               ON CONFLICT (batch_id) DO UPDATE SET status = 'completed'";
    assert!(db.exec(sql).await.is_err());
}
both_backends!(insert_states, inserts_start_at_pending_or_uploaded);

async fn rust_api_gets_the_database_refusal(db: &TestDb) {
    assert!(db.store.create_batch("r", None, Some("WAUZZZ8V1KA000001")).await.expect("create"));
    let err = db.store.move_status("r", BatchState::Gathering, None).await.unwrap_err();
    assert!(err.is_constraint_violation(), "{err}");
    let err = db.store.move_status("r", BatchState::Failed, Some("timeout")).await.unwrap_err();
    assert!(err.is_constraint_violation(), "pending cannot fail: {err}");
    db.store.move_status("r", BatchState::Uploaded, None).await.expect("legal");
    db.store.move_status("r", BatchState::Failed, Some("timeout")).await.expect("legal");
    let err = db.store.move_status("r", BatchState::Uploaded, None).await.unwrap_err();
    assert!(err.is_constraint_violation(), "no move out of failed: {err}");
    assert!(db.store.move_status("missing", BatchState::Uploaded, None).await.is_err());
    assert_eq!(db.store.get_status("r").await.expect("status"), Some(BatchState::Failed));
}
both_backends!(rust_api_refused, rust_api_gets_the_database_refusal);
