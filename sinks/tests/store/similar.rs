//! The bounded similar-batch search against the exact one, and the filtered fleet query
//! (read from `completed_codes`, migration 0005) against the statement it replaced.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use argus_sinks::Store;

use crate::both_backends;
use crate::common::TestDb;

/// SplitMix64: a deterministic generator without a dependency.
pub(crate) struct Rng(u64);

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
pub(crate) struct Synth {
    pub(crate) id: String,
    pub(crate) vin: String,
    pub(crate) firmware: String,
    pub(crate) last_ts_ns: i64,
    pub(crate) codes: Vec<(String, i64)>,
}

/// A skewed fleet like the benchmark's: about 4 codes a batch; `P0000-00` in about 28 %
/// of the batches, a handful more in 5–15 %, and a long tail of rare codes; counts
/// heavy-tailed (1 to a few hundred).
pub(crate) fn fleet(n: usize, seed: u64) -> Vec<Synth> {
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
/// then `completed_codes` with the statement of migration 0005, and the pair index).
async fn bulk_load(db: &TestDb, batches: &[Synth]) {
    bulk_load_rows(db, batches).await;
    db.store.rebuild_derived_tables().await.expect("derived tables");
    if let Store::Postgres(_) = db.store {
        db.exec("ANALYZE").await.expect("analyze");
    }
}

/// The rows of [`bulk_load`] that the schema of migration 0005 already has.
pub(crate) async fn bulk_load_rows(db: &TestDb, batches: &[Synth]) {
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
