//! The pair index of the similar-batch search (`completed_pairs`, migration 0010): each
//! completed batch keyed by its two heaviest codes, with its components on them. On a
//! code found in a quarter of the fleet, thousands of batches share a component near the
//! query's, and a batch close to the query on two codes is rarely among the few postings
//! the search reads of either list; keyed by the pair, such batches sit in one short index
//! range. See similar.rs for the search that reads it.

use std::sync::LazyLock;

/// How far from the query's components on its two heaviest codes the pair index is read.
pub(crate) const PAIR_RADIUS: f64 = 0.25;
/// How many batches of the pair index, the closest on those two codes, are scored exactly.
pub(crate) const PAIR_CANDIDATES: i64 = 80;

/// How many rows of the pair index are read on each side of the query's component on the
/// first code: the cost of the read, however many batches share the pair.
pub(crate) const PAIR_READ: i64 = 400;

/// The batches whose two heaviest codes are `$1` < `$2`, with components in [`$3`, `$4`]
/// and [`$5`, `$6`], closest first to (`$7`, `$8`) on those two codes; `$9` rows. Of a
/// dense pair (thousands of batches) only the `$10` nearest on the first code each way are
/// read (index order, ties by id), then sorted on both codes.
pub(crate) const PAIRS_SQL: &str = "SELECT batch_id FROM (\
     SELECT * FROM (SELECT batch_id, weight_a, weight_b FROM completed_pairs \
     WHERE code_a = $1 AND code_b = $2 AND weight_a >= $3 AND weight_a <= $7 AND weight_b BETWEEN $5 AND $6 \
     ORDER BY weight_a DESC, batch_id DESC LIMIT $10) AS below \
     UNION ALL \
     SELECT * FROM (SELECT batch_id, weight_a, weight_b FROM completed_pairs \
     WHERE code_a = $1 AND code_b = $2 AND weight_a > $7 AND weight_a <= $4 AND weight_b BETWEEN $5 AND $6 \
     ORDER BY weight_a, batch_id LIMIT $10) AS above) AS near \
     ORDER BY (weight_a - $7) * (weight_a - $7) + (weight_b - $8) * (weight_b - $8), batch_id LIMIT $9";

/// Binds [`PAIRS_SQL`]'s parameters for a query's pair (`similar::Query::pair`).
macro_rules! bind_pair {
    ($statement:expr, $pair:expr) => {{
        let [(code_a, a), (code_b, b)] = $pair;
        use $crate::store::similar_pairs::{PAIR_CANDIDATES, PAIR_RADIUS, PAIR_READ};
        $statement
            .bind(code_a)
            .bind(code_b)
            .bind(a - PAIR_RADIUS)
            .bind(a + PAIR_RADIUS)
            .bind(b - PAIR_RADIUS)
            .bind(b + PAIR_RADIUS)
            .bind(a)
            .bind(b)
            .bind(PAIR_CANDIDATES)
            .bind(PAIR_READ)
    }};
}
pub(crate) use bind_pair;

/// The pair index row of the batch `$1` (the rows of every completed batch without the
/// filter, for [`rebuild_statements`]), from its postings: the statement of
/// migration 0010.
fn pair_insert_sql(filter: &str) -> String {
    format!(
        "WITH heaviest AS (\
         SELECT batch_id, code, weight, ROW_NUMBER() OVER (PARTITION BY batch_id ORDER BY events DESC, code) AS nth \
         FROM completed_codes {filter}) \
         INSERT INTO completed_pairs (batch_id, code_a, code_b, weight_a, weight_b) \
         SELECT a.batch_id, a.code, b.code, a.weight, b.weight \
         FROM heaviest a JOIN heaviest b ON b.batch_id = a.batch_id AND a.code < b.code \
         WHERE a.nth <= 2 AND b.nth <= 2"
    )
}

/// The pair index row of the batch `$1`, written with its postings.
pub(crate) static PAIR_OF_BATCH_SQL: LazyLock<String> =
    LazyLock::new(|| pair_insert_sql("WHERE batch_id = $1"));

/// The statements that recompute the pair index from the postings
/// ([`Store::rebuild_derived_tables`](super::Store::rebuild_derived_tables)).
pub(crate) fn rebuild_statements() -> [String; 2] {
    ["DELETE FROM completed_pairs".to_owned(), pair_insert_sql("")]
}
