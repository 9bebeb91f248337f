//! The bounded similar-batch search against the exact one, and the filtered fleet query
//! (read from `completed_codes`, migration 0005) against the statement it replaced.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use argus_pipeline::report::FleetReport;
use argus_sinks::diagnosis::Diagnoser;
use argus_sinks::{FleetQuery, Store, TimeWindow, write_finished_batch};

use crate::both_backends;
use crate::common::TestDb;
use crate::common::fixtures::synthetic;

/// SplitMix64: a deterministic generator without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One synthetic batch: id, VIN, firmware, last record time, code counts.
struct Synth {
    id: String,
    vin: String,
    firmware: String,
    last_ts_ns: i64,
    codes: Vec<(String, i64)>,
}

/// A skewed fleet like the benchmark's: about 4 codes a batch; `P0000-00` in about 28 %
/// of the batches, a handful more in 5–15 %, and a long tail of rare codes; counts
/// heavy-tailed (1 to a few hundred).
fn fleet(n: usize, seed: u64) -> Vec<Synth> {
    let mut rng = Rng(seed);
    let common = [0.28, 0.15, 0.12, 0.09, 0.07, 0.05];
    (0..n)
        .map(|i| {
            // Ordered, so that the counts drawn below go to the same codes on every run.
            let mut codes: BTreeSet<String> = BTreeSet::new();
            for (c, p) in common.iter().enumerate() {
                if rng.unit() < *p {
                    codes.insert(format!("P{c:04}-00"));
                }
            }
            let tail = 1 + rng.below(4);
            for _ in 0..tail {
                // Zipf-like over 3,000 rare codes.
                let r = rng.unit();
                let c = 6 + (3000f64.powf(r) as u64).min(2999);
                codes.insert(format!("P{c:04}-00"));
            }
            let codes: Vec<(String, i64)> = codes
                .into_iter()
                .map(|c| {
                    let count = 1 + (rng.unit().powi(3) * 300.0) as i64;
                    (c, count)
                })
                .collect();
            Synth {
                id: format!("b{i:06}"),
                vin: format!("WVW{:014}", rng.below((n as u64 / 20).max(1))),
                firmware: format!("fw-{}", rng.below(8)),
                last_ts_ns: 1_000_000_000 * (1 + rng.below(1000) as i64),
                codes,
            }
        })
        .collect()
}

fn norm(codes: &[(String, i64)]) -> f64 {
    codes.iter().map(|(_, n)| (*n as f64) * (*n as f64)).sum::<f64>().sqrt()
}

/// Bulk-loads completed batches (multi-row inserts, status steps as whole-table updates,
/// then `completed_codes` with the statement of migration 0005).
async fn bulk_load(db: &TestDb, batches: &[Synth]) {
    for chunk in batches.chunks(500) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|b| {
                let events: i64 = b.codes.iter().map(|(_, n)| n).sum();
                format!(
                    "('{}', 'uploaded', '{}', '{}', {}, {}, {}, {}, {})",
                    b.id,
                    b.vin,
                    b.firmware,
                    events + 100,
                    events,
                    b.last_ts_ns - 1000,
                    b.last_ts_ns,
                    norm(&b.codes)
                )
            })
            .collect();
        db.exec(&format!(
            "INSERT INTO batches (batch_id, status, vin, firmware, records, error_events, first_ts_ns, \
             last_ts_ns, code_norm) VALUES {}",
            rows.join(", ")
        ))
        .await
        .expect("batches");
        let codes: Vec<String> = chunk
            .iter()
            .flat_map(|b| b.codes.iter().map(move |(c, n)| format!("('{}', '{c}', {n})", b.id)))
            .collect();
        db.exec(&format!("INSERT INTO batch_codes (batch_id, code, events) VALUES {}", codes.join(", ")))
            .await
            .expect("codes");
    }
    for step in ["scattering", "gathering", "diagnosing", "completed"] {
        db.exec(&format!("UPDATE batches SET status = '{step}'")).await.expect("status step");
    }
    db.exec(
        "INSERT INTO completed_codes (batch_id, code, events, weight, vin, firmware, last_ts_ns) \
         SELECT c.batch_id, c.code, c.events, c.events / b.code_norm, b.vin, b.firmware, b.last_ts_ns \
         FROM batch_codes c JOIN batches b ON b.batch_id = c.batch_id \
         WHERE b.status = 'completed' AND b.code_norm > 0",
    )
    .await
    .expect("completed_codes");
    if let Store::Postgres(_) = db.store {
        db.exec("ANALYZE").await.expect("analyze");
    }
}

/// The exact top 5 of `query` among the other batches, by brute force over an inverted
/// index: cosine of the count vectors, ties by id.
fn exact_top5(
    batches: &[Synth],
    index: &HashMap<&str, Vec<(usize, i64)>>,
    query: usize,
) -> Vec<(String, f64)> {
    let q = &batches[query];
    let mut dots: HashMap<usize, f64> = HashMap::new();
    for (code, n) in &q.codes {
        for (other, m) in &index[code.as_str()] {
            if *other != query {
                *dots.entry(*other).or_default() += (*n as f64) * (*m as f64);
            }
        }
    }
    let qn = norm(&q.codes);
    let mut scored: Vec<(String, f64, f64)> = dots
        .into_iter()
        .map(|(o, dot)| {
            let on = norm(&batches[o].codes);
            (batches[o].id.clone(), dot / on, dot / (qn * on))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored.into_iter().take(5).map(|(id, _, cos)| (id, cos)).collect()
}

/// On a 10,000-batch skewed fleet, the bounded search returns exactly the exact top 5 (ids
/// and order) for at least 95 % of 400 queries, and never a wrong score.
async fn recall_on_a_skewed_fleet(db: &TestDb) {
    let batches = fleet(10_000, 17);
    let started = Instant::now();
    bulk_load(db, &batches).await;
    let loaded = started.elapsed();
    let mut index: HashMap<&str, Vec<(usize, i64)>> = HashMap::new();
    for (i, b) in batches.iter().enumerate() {
        for (c, n) in &b.codes {
            index.entry(c.as_str()).or_default().push((i, *n));
        }
    }
    let queries: Vec<usize> = (0..batches.len()).step_by(25).collect();
    let mut hits = 0;
    let started = Instant::now();
    for &q in &queries {
        let exact = exact_top5(&batches, &index, q);
        let got = db.store.similar_batches(&batches[q].id).await.expect("similar");
        let got_ids: Vec<&str> = got.iter().map(|s| s.batch_id.as_str()).collect();
        let exact_ids: Vec<&str> = exact.iter().map(|(id, _)| id.as_str()).collect();
        if got_ids == exact_ids {
            hits += 1;
        }
        for s in &got {
            let o = batches.iter().position(|b| b.id == s.batch_id).expect("a fleet batch");
            let dot: f64 = batches[q]
                .codes
                .iter()
                .filter_map(|(c, n)| {
                    batches[o].codes.iter().find(|(d, _)| d == c).map(|(_, m)| (*n * *m) as f64)
                })
                .sum();
            let cos = dot / (norm(&batches[q].codes) * norm(&batches[o].codes));
            assert!((s.score - cos).abs() < 1e-6, "{} scored {} instead of {cos}", s.batch_id, s.score);
        }
    }
    let recall = hits as f64 / queries.len() as f64;
    eprintln!(
        "{:?}: exact top 5 in {hits} of {} queries ({:.1} %), load {loaded:?}, searches {:?}",
        db.store.backend(),
        queries.len(),
        recall * 100.0,
        started.elapsed()
    );
    assert!(recall >= 0.95, "recall {recall} below 0.95");
}
both_backends!(similar_recall, recall_on_a_skewed_fleet);

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

/// A small fleet written through the real write path (so `completed_codes` is filled by
/// it), plus a failed batch and a batch left in progress; every combination of filters
/// gives what the old statement gives.
async fn filtered_fleet_equals_old_query(db: &TestDb) {
    let diagnoser = Diagnoser::rules_only();
    let synth = fleet(120, 5);
    for (i, s) in synth.iter().enumerate() {
        let codes: Vec<(&str, u64)> = s.codes.iter().map(|(c, n)| (c.as_str(), *n as u64)).collect();
        let mut batch = synthetic(&s.id, &format!("WVW{:014}", i % 7), &codes);
        batch.meta.firmware = Some(format!("fw-{}", i % 3));
        batch.report.last_ts_ns = Some(s.last_ts_ns as u64);
        batch.report.first_ts_ns = Some(s.last_ts_ns as u64 - 1);
        write_finished_batch(&db.store, &diagnoser, &batch, &[]).await.expect("write");
    }
    let mut failed = synthetic("failed", "WVW00000000000000", &[]);
    failed.report = argus_pipeline::report::assemble_batch("failed", 10, Vec::new()).report;
    failed.report.vin = Some("WVW00000000000000".into());
    failed.meta.failure = Some("no file was readable".into());
    write_finished_batch(&db.store, &diagnoser, &failed, &[]).await.expect("write failed");
    db.store.create_batch("pending", None, Some("WVW00000000000000")).await.expect("pending");

    let windows = [
        None,
        Some(TimeWindow { from_ns: 200_000_000_000, to_ns: 700_000_000_000 }),
        Some(TimeWindow { from_ns: 0, to_ns: 1 }),
    ];
    let mut compared = 0;
    for window in windows {
        for vin in [None, Some("WVW00000000000000"), Some("WVW00000000000003"), Some("nobody")] {
            for firmware in [None, Some("fw-1"), Some("fw-2")] {
                for k in [3, 10] {
                    let query = FleetQuery {
                        k,
                        window,
                        vin: vin.map(str::to_owned),
                        firmware: firmware.map(str::to_owned),
                    };
                    let new = db.store.fleet_top_errors(&query).await.expect("fleet");
                    assert_eq!(new, old_fleet_query(&db.store, &query).await, "{query:?}");
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 72);
    let by_fw =
        db.store.fleet_top_errors(&FleetQuery { firmware: Some("fw-1".into()), ..FleetQuery::all(10) }).await;
    assert_eq!(by_fw.expect("fleet").batches, 40);
}
both_backends!(fleet_filtered, filtered_fleet_equals_old_query);
