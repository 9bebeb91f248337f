//! Replaying the conformance vectors into each store gives the expected reports, and the
//! SQL fleet query gives the expected fleet report.

use argus_sinks::diagnosis::Diagnoser;
use argus_sinks::{BatchState, FleetQuery, WriteOutcome, write_finished_batch};
use serde_json::Value;

use crate::both_backends;
use crate::common::TestDb;
use crate::common::fixtures::{expected_fleet, expected_report, vector_batches};

/// Error texts may differ between implementations; whether there is one may not.
fn normalise(mut report: Value) -> Value {
    for file in report["files"].as_array_mut().into_iter().flatten() {
        file["error"] = Value::Bool(!file["error"].is_null());
    }
    report
}

async fn replay_vectors(db: &TestDb) {
    let batches = vector_batches();
    assert_eq!(batches.len(), 16, "every expected batch is replayed");
    let diagnoser = Diagnoser::rules_only();
    for batch in &batches {
        let outcome = write_finished_batch(&db.store, &diagnoser, batch, &[]).await.expect("write");
        assert_eq!(outcome, WriteOutcome::Written(batch.report.status.into()));
    }
    for batch in &batches {
        let id = &batch.report.batch_id;
        let json = db.store.get_report_json(id).await.expect("read").expect("stored report");
        let stored: Value = serde_json::from_str(&json).expect("stored json");
        assert_eq!(normalise(stored), normalise(expected_report(id)), "report of batch {id}");

        let row = db.store.get_batch(id).await.expect("read").expect("batch row");
        let expected = expected_report(id);
        let status =
            if expected["status"] == "completed" { BatchState::Completed } else { BatchState::Failed };
        assert_eq!(row.status, status, "{id}");
        assert_eq!(Value::from(row.records), expected["records"], "{id}");
        assert_eq!(Value::from(row.error_events), expected["error_events"], "{id}");
        assert_eq!(serde_json::to_value(row.first_ts_ns).expect("ts"), expected["first_ts_ns"], "{id}");
        assert_eq!(serde_json::to_value(&row.vin).expect("vin"), expected["vin"], "{id}");
        let files: Vec<Value> =
            row.files.iter().map(|f| serde_json::to_value(&f.entry).expect("file")).collect();
        assert_eq!(
            normalise(serde_json::json!({"files": files}))["files"],
            normalise(expected.clone())["files"],
            "{id}"
        );
        assert_eq!(row.failure.is_some(), status == BatchState::Failed, "{id}");
    }
    let fleet = db.store.fleet_top_errors(&FleetQuery::all(10)).await.expect("fleet");
    assert_eq!(serde_json::to_value(&fleet).expect("fleet json"), expected_fleet());
}
both_backends!(replay, replay_vectors);
