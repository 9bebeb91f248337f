//! The reads later issues build on: a vehicle's batches, the fleet query with its filters,
//! and the similar-batch search stored with each diagnosis.

use std::time::Duration;

use argus_pipeline::report::{FinishedBatch, FleetReport};
use argus_sinks::diagnosis::Diagnoser;
use argus_sinks::{BatchState, FleetQuery, TimeWindow, write_finished_batch};

use crate::both_backends;
use crate::common::TestDb;
use crate::common::fixtures::synthetic;

async fn write_all(db: &TestDb, batches: &[FinishedBatch]) {
    let diagnoser = Diagnoser::rules_only();
    for batch in batches {
        write_finished_batch(&db.store, &diagnoser, batch, &[]).await.expect("write");
        // Distinct creation times, so that "newest first" is not decided by a tie-break.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn fleet_batches() -> Vec<FinishedBatch> {
    let mut z = synthetic("z", "WVW00000000000001", &[("P0301-00", 40), ("P0420-00", 2)]);
    z.report.last_ts_ns = Some(5_000_000_000);
    let a = synthetic("a", "WVW00000000000001", &[("P0301-00", 10), ("U0100-87", 30)]);
    let mut m = synthetic("m", "WVW00000000000002", &[("P0420-00", 2), ("B1123-00", 9)]);
    m.meta.firmware = Some("fw-2.0".into());
    let mut failed = synthetic("f", "WVW00000000000001", &[]);
    failed.report = argus_pipeline::report::assemble_batch("f", 10, Vec::new()).report;
    failed.report.vin = Some("WVW00000000000001".into());
    failed.meta.failure = Some("no file was readable".into());
    vec![z, a, m, failed]
}

async fn vehicle_batches_newest_first(db: &TestDb) {
    write_all(db, &fleet_batches()).await;
    let list = db.store.list_batches_for_vin("WVW00000000000001", 10).await.expect("list");
    let ids: Vec<&str> = list.iter().map(|b| b.batch_id.as_str()).collect();
    assert_eq!(ids, ["f", "a", "z"]);
    assert_eq!(list[0].status, BatchState::Failed);
    assert_eq!(list[2].records, 136);
    assert!(list[0].created_at_ms > list[1].created_at_ms);
    assert_eq!(db.store.list_batches_for_vin("WVW00000000000001", 1).await.expect("list").len(), 1);
    assert!(db.store.list_batches_for_vin("nobody", 10).await.expect("list").is_empty());
    assert_eq!(db.store.get_batch("nope").await.expect("read"), None);
    assert_eq!(db.store.get_report("nope").await.expect("read"), None);
}
both_backends!(vehicle_batches, vehicle_batches_newest_first);

async fn fleet_filters(db: &TestDb) {
    let batches = fleet_batches();
    write_all(db, &batches).await;
    let expect = |keep: &dyn Fn(&FinishedBatch) -> bool, k| {
        FleetReport::from_batches(batches.iter().filter(|b| keep(b)), k)
    };

    let all = db.store.fleet_top_errors(&FleetQuery::all(10)).await.expect("fleet");
    assert_eq!(all, expect(&|_| true, 10));
    assert_eq!((all.batches, all.top_errors[0].code.as_str(), all.top_errors[0].count), (3, "P0301-00", 50));
    let top2 = db.store.fleet_top_errors(&FleetQuery::all(2)).await.expect("fleet");
    assert_eq!(top2, expect(&|_| true, 2));

    let by_vin = FleetQuery { vin: Some("WVW00000000000001".into()), ..FleetQuery::all(10) };
    let vin1 = |b: &FinishedBatch| b.report.vin.as_deref() == Some("WVW00000000000001");
    assert_eq!(db.store.fleet_top_errors(&by_vin).await.expect("fleet"), expect(&vin1, 10));

    let by_fw = FleetQuery { firmware: Some("fw-2.0".into()), ..FleetQuery::all(10) };
    let fw2 = |b: &FinishedBatch| b.meta.firmware.as_deref() == Some("fw-2.0");
    assert_eq!(db.store.fleet_top_errors(&by_fw).await.expect("fleet"), expect(&fw2, 10));

    let window = FleetQuery {
        window: Some(TimeWindow { from_ns: 4_000_000_000, to_ns: 6_000_000_000 }),
        ..FleetQuery::all(10)
    };
    let late = db.store.fleet_top_errors(&window).await.expect("fleet");
    assert_eq!(late, expect(&|b| b.report.batch_id == "z", 10));
    let empty = FleetQuery { window: Some(TimeWindow { from_ns: 0, to_ns: 1 }), ..FleetQuery::all(10) };
    let none = db.store.fleet_top_errors(&empty).await.expect("fleet");
    assert_eq!((none.batches, none.records, none.top_errors.len()), (0, 0, 0));
}
both_backends!(fleet_query, fleet_filters);

fn cosine(a: &[(&str, u64)], b: &[(&str, u64)]) -> f64 {
    let dot: f64 = a
        .iter()
        .map(|(c, x)| b.iter().filter(|(d, _)| d == c).map(|(_, y)| (*x * *y) as f64).sum::<f64>())
        .sum();
    let norm = |v: &[(&str, u64)]| v.iter().map(|(_, x)| (*x * *x) as f64).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

async fn similar_batches_by_cosine(db: &TestDb) {
    let me: &[(&str, u64)] = &[("P0301-00", 10), ("P0302-00", 1)];
    let others: [(&str, &[(&str, u64)]); 7] = [
        ("x", &[("P0301-00", 10), ("P0302-00", 1)]),
        ("y", &[("P0301-00", 20), ("P0302-00", 2)]),
        ("w", &[("P0301-00", 1), ("P0420-00", 10)]),
        ("v", &[("P0302-00", 5), ("P0420-00", 1)]),
        ("u", &[("P0301-00", 3), ("P0302-00", 3)]),
        ("t", &[("P0301-00", 5), ("C0561-00", 5)]),
        ("s", &[("P0420-00", 5)]),
    ];
    let batches: Vec<FinishedBatch> =
        others.iter().map(|(id, codes)| synthetic(id, "WVW0000000000000S", codes)).collect();
    write_all(db, &batches).await;
    write_all(db, &[synthetic("me", "WVW0000000000000S", me)]).await;

    let mut expected: Vec<(String, f64)> = others
        .iter()
        .map(|(id, codes)| ((*id).to_owned(), cosine(me, codes)))
        .filter(|(_, s)| *s > 0.0)
        .collect();
    expected.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    expected.truncate(5);
    let stored = db.store.get_diagnosis("me").await.expect("read").expect("diagnosis").similar_batches;
    let got: Vec<&str> = stored.iter().map(|s| s.batch_id.as_str()).collect();
    let want: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(got, want);
    assert_eq!(got[..2], ["x", "y"], "identical direction first, ties by id");
    for (s, (_, score)) in stored.iter().zip(&expected) {
        assert!((s.score - score).abs() < 1e-6, "{} scored {} instead of {score}", s.batch_id, s.score);
    }
    // The first batch had nothing to compare with.
    let first = db.store.get_diagnosis("x").await.expect("read").expect("diagnosis");
    assert!(first.similar_batches.is_empty());
}
both_backends!(similar_batches, similar_batches_by_cosine);

async fn dashboard_counts_and_latest_batches(db: &TestDb) {
    assert!(db.store.count_batches_by_status().await.expect("counts").is_empty(), "an empty fleet");
    write_all(db, &fleet_batches()).await;
    db.store.create_batch("p", Some("car-1"), None).await.expect("a pending batch");
    let counts = db.store.count_batches_by_status().await.expect("counts");
    assert_eq!(counts, [(BatchState::Pending, 1), (BatchState::Completed, 3), (BatchState::Failed, 1)]);
    let latest = db.store.latest_batches(3).await.expect("latest");
    let ids: Vec<&str> = latest.iter().map(|b| b.batch_id.as_str()).collect();
    assert_eq!(ids, ["p", "f", "m"]);
    assert_eq!((latest[0].risk, latest[0].vehicle_id.as_deref()), (None, Some("car-1")), "not diagnosed");
    assert!(latest[2].risk.is_some(), "a diagnosed batch has its risk");
    assert_eq!(latest[2].vin.as_deref(), Some("WVW00000000000002"));
}
both_backends!(dashboard_reads, dashboard_counts_and_latest_batches);
