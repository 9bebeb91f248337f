//! The filtered fleet query against the statement it replaced (a join over every batch),
//! for every combination of filters, with windows on, across and inside UTC days, before
//! and after `argus prune` removes part of the fleet: the day rollups the firmware query
//! reads (migration 0009) follow every write and every prune.

use std::time::{Duration, Instant};

use argus_pipeline::report::FleetReport;
use argus_sinks::diagnosis::Diagnoser;
use argus_sinks::{FleetQuery, Store, TimeWindow, write_finished_batch};

use crate::both_backends;
use crate::common::TestDb;
use crate::common::fixtures::synthetic;
use crate::similar::{Synth, fleet};

const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// The fleet statement this replaced: a join of `batch_codes` and `batches` with every
/// filter as an `($n IS NULL OR …)` condition.
async fn old_fleet_query(store: &Store, query: &FleetQuery) -> FleetReport {
    const FILTER: &str = "b.status = 'completed' \
        AND ($1 IS NULL OR b.last_ts_ns >= $1) AND ($2 IS NULL OR b.last_ts_ns < $2) \
        AND ($3 IS NULL OR b.vin = $3) AND ($4 IS NULL OR b.firmware = $4)";
    let collate = if let Store::Postgres(_) = store { " COLLATE \"C\"" } else { "" };
    let totals_sql = format!(
        "SELECT COUNT(*), CAST(COALESCE(SUM(b.records), 0) AS BIGINT), \
         CAST(COALESCE(SUM(b.error_events), 0) AS BIGINT) FROM batches b WHERE {FILTER}"
    );
    let top_sql = format!(
        "SELECT c.code, CAST(SUM(c.events) AS BIGINT) AS events, COUNT(*) AS batches, \
         COUNT(DISTINCT b.vin) AS vins FROM batch_codes c JOIN batches b ON b.batch_id = c.batch_id \
         WHERE {FILTER} GROUP BY c.code ORDER BY events DESC, c.code{collate} LIMIT $5"
    );
    let from = query.window.map(|w| w.from_ns as i64);
    let to = query.window.map(|w| w.to_ns as i64);
    let (vin, fw, k) = (query.vin.as_deref(), query.firmware.as_deref(), query.k as i64);
    macro_rules! run {
        ($pool:expr) => {{
            let totals: (i64, i64, i64) = sqlx::query_as(&totals_sql)
                .bind(from)
                .bind(to)
                .bind(vin)
                .bind(fw)
                .fetch_one($pool)
                .await
                .expect("old totals");
            let top: Vec<(String, i64, i64, i64)> = sqlx::query_as(&top_sql)
                .bind(from)
                .bind(to)
                .bind(vin)
                .bind(fw)
                .bind(k)
                .fetch_all($pool)
                .await
                .expect("old top");
            (totals, top)
        }};
    }
    let (totals, top) = match store {
        Store::Postgres(pool) => run!(pool),
        Store::Sqlite(pool) => run!(pool),
    };
    FleetReport {
        k: query.k,
        batches: totals.0 as u64,
        records: totals.1 as u64,
        error_events: totals.2 as u64,
        top_errors: top
            .into_iter()
            .map(|(code, count, batches, vins)| argus_pipeline::report::FleetTopError {
                code,
                count: count as u64,
                batches: batches as u64,
                vins: vins as u64,
            })
            .collect(),
    }
}

/// The synthetic fleet of similar.rs spread over ten days of record time (every tenth
/// batch exactly at midnight), written through the real write path (so that
/// `completed_codes` and the rollups are filled by it).
async fn write_batches(db: &TestDb, batches: &[(usize, &Synth)]) {
    let diagnoser = Diagnoser::rules_only();
    for &(i, s) in batches {
        let codes: Vec<(&str, u64)> = s.codes.iter().map(|(c, n)| (c.as_str(), *n as u64)).collect();
        let mut batch = synthetic(&s.id, &format!("WVW{:014}", i % 7), &codes);
        batch.meta.firmware = Some(format!("fw-{}", i % 3));
        let last_ts_ns = if i % 10 == 0 { DAY_NS * (i as u64 / 10 % 10) } else { s.last_ts_ns as u64 * 864 };
        batch.report.last_ts_ns = Some(last_ts_ns);
        batch.report.first_ts_ns = Some(last_ts_ns.saturating_sub(1));
        write_finished_batch(&db.store, &diagnoser, &batch, &[]).await.expect("write");
    }
}

/// A completed batch without a record (no day), a failed one and one in progress.
async fn write_odd_batches(db: &TestDb) {
    let diagnoser = Diagnoser::rules_only();
    let mut empty = synthetic("empty", "WVW00000000000001", &[]);
    empty.meta.firmware = Some("fw-1".into());
    empty.report.records = 0;
    empty.report.first_ts_ns = None;
    empty.report.last_ts_ns = None;
    empty.report.files[0].stats.records = 0;
    write_finished_batch(&db.store, &diagnoser, &empty, &[]).await.expect("write empty");
    let mut failed = synthetic("failed", "WVW00000000000000", &[]);
    failed.report = argus_pipeline::report::assemble_batch("failed", 10, Vec::new()).report;
    failed.report.vin = Some("WVW00000000000000".into());
    failed.meta.firmware = Some("fw-1".into());
    failed.meta.failure = Some("no file was readable".into());
    write_finished_batch(&db.store, &diagnoser, &failed, &[]).await.expect("write failed");
}

/// Every combination of window, VIN, firmware and `k` gives what the old statement gives.
async fn assert_all_queries_agree(db: &TestDb) {
    let day = DAY_NS;
    let windows = [
        None,
        Some(TimeWindow { from_ns: 0, to_ns: 1 }),
        Some(TimeWindow { from_ns: day * 3 / 2, to_ns: day * 6 + day / 4 }),
        Some(TimeWindow { from_ns: day * 2, to_ns: day * 5 }),
        Some(TimeWindow { from_ns: day * 3 + day / 10, to_ns: day * 3 + day * 9 / 10 }),
        Some(TimeWindow { from_ns: day * 2, to_ns: day * 2 + 1 }),
        Some(TimeWindow { from_ns: day * 7 - 1, to_ns: i64::MAX as u64 }),
        // Past the latest batch: distinct VINs from each VIN's latest batch.
        Some(TimeWindow { from_ns: day * 4 + day / 3, to_ns: day * 10 + 1 }),
        Some(TimeWindow { from_ns: day * 4, to_ns: day * 4 }),
    ];
    let mut compared = 0;
    for window in windows {
        for vin in [None, Some("WVW00000000000000"), Some("WVW00000000000003"), Some("nobody")] {
            for firmware in [None, Some("fw-1"), Some("fw-2"), Some("fw-none")] {
                for k in [3, 10] {
                    let query = FleetQuery {
                        k,
                        window,
                        vin: vin.map(str::to_owned),
                        firmware: firmware.map(str::to_owned),
                    };
                    let new = db.store.fleet_top_errors(&query).await.expect("fleet");
                    assert_eq!(new, old_fleet_query(&db.store, &query).await, "{query:?}");
                    let plans = db.store.explain_fleet_top_errors(&query).await.expect("explain");
                    assert!(!plans.is_empty(), "{query:?}");
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 288);
}

/// Every row of the tables kept beside the postings (the firmware rollups, the similar
/// search's pair index and vectors), in key order, as text.
pub(crate) async fn derived_rows(store: &Store) -> Vec<String> {
    let sql = "SELECT firmware || ' ' || day || ' - ' || batches || ' ' || records || ' ' || error_events \
               FROM firmware_days \
               UNION ALL SELECT firmware || ' ' || day || ' ' || code || ' ' || batches || ' ' || events \
               FROM firmware_code_days \
               UNION ALL SELECT firmware || ' all ' || code || ' ' || batches || ' ' || events || ' ' || vins \
               FROM firmware_codes \
               UNION ALL SELECT firmware || ' vin ' || code || ' ' || vin || ' ' || batches || ' ' \
               || COALESCE(CAST(last_ts_ns AS TEXT), '-') FROM firmware_code_vins \
               UNION ALL SELECT 'pair ' || batch_id || ' ' || code_a || ' ' || code_b || ' ' || weight_a || ' ' \
               || weight_b FROM completed_pairs \
               UNION ALL SELECT 'vector ' || batch_id || ' ' || code_norm || ' ' || counts FROM completed_vectors \
               ORDER BY 1";
    match store {
        Store::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.expect("rows"),
        Store::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.expect("rows"),
    }
}

/// The rollups the triggers kept, and the pair index and vectors the writes kept, equal the ones
/// recomputed from the rows they derive from.
async fn assert_rollups_rebuild_alike(store: &Store) {
    let kept = derived_rows(store).await;
    assert!(kept.iter().any(|row| row.starts_with("pair ")), "the writes keep a pair index");
    assert!(kept.iter().any(|row| row.starts_with("vector ")), "the writes keep the vectors");
    store.rebuild_derived_tables().await.expect("rebuild");
    assert_eq!(derived_rows(store).await, kept);
}

/// Half the fleet, then (a moment later) the other half; a prune of the first half; a
/// prune of everything final.
async fn filtered_fleet_equals_old_query(db: &TestDb) {
    let synth = fleet(120, 5);
    let indexed: Vec<(usize, &Synth)> = synth.iter().enumerate().collect();
    write_odd_batches(db).await;
    write_batches(db, &indexed[..60]).await;
    let first_half_written = Instant::now();
    tokio::time::sleep(Duration::from_millis(400)).await;
    write_batches(db, &indexed[60..]).await;
    db.store.create_batch("pending", None, Some("WVW00000000000000")).await.expect("pending");
    let fw1 = FleetQuery { firmware: Some("fw-1".into()), ..FleetQuery::all(10) };
    let by_fw = db.store.fleet_top_errors(&fw1).await.expect("fleet");
    assert_eq!(by_fw.batches, 41, "40 batches and the one without a record");
    assert_all_queries_agree(db).await;
    assert_rollups_rebuild_alike(&db.store).await;

    let older_than = first_half_written.elapsed() - Duration::from_millis(200);
    let pruned = db.store.prune(older_than).await.expect("prune");
    assert_eq!(pruned.batches, 62, "the first half, the empty and the failed batch");
    assert_all_queries_agree(db).await;
    assert_rollups_rebuild_alike(&db.store).await;

    db.store.prune(Duration::ZERO).await.expect("prune all");
    assert_eq!(derived_rows(&db.store).await, Vec::<String>::new(), "nothing left to sum");
    assert_all_queries_agree(db).await;
}
both_backends!(fleet_filtered, filtered_fleet_equals_old_query);
