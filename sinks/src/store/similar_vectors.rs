//! The exact scoring of the similar search's candidates (similar.rs), from
//! `completed_vectors` (migration 0012): each completed batch's code counts in one row.
//! The candidates are batches scattered over the whole history, so what a candidate costs
//! is the pages read for it: one row here, where its `batches` row and `batch_codes` rows
//! lie in two tables of millions.

use std::sync::LazyLock;

use super::similar::{Query, Scored, TOP};
use super::{Backend, dialect};
use crate::error::StoreError;

/// The vectors of the candidates whose ids `$1` (a JSON array) lists: rows `(batch_id,
/// code_norm, counts)`.
pub(crate) fn scoring_sql(backend: Backend) -> &'static str {
    dialect(
        backend,
        "SELECT batch_id, code_norm, counts FROM completed_vectors \
         WHERE batch_id IN (SELECT json_array_elements_text($1::json))",
        "SELECT batch_id, code_norm, counts FROM completed_vectors \
         WHERE batch_id IN (SELECT value FROM json_each($1))",
    )
}

/// The vector rows of the completed batches `filter` selects from `completed_codes` (as
/// `c`), built from their postings: the statement of migration 0012.
fn vector_insert_sql(backend: Backend, filter: &str) -> String {
    let counts = dialect(
        backend,
        "json_agg(json_build_array(c.code, c.events) ORDER BY c.code)::text",
        "json_group_array(json_array(c.code, c.events) ORDER BY c.code)",
    );
    format!(
        "INSERT INTO completed_vectors (batch_id, code_norm, counts) \
         SELECT c.batch_id, b.code_norm, {counts} \
         FROM completed_codes c JOIN batches b ON b.batch_id = c.batch_id {filter} \
         GROUP BY c.batch_id, b.code_norm"
    )
}

/// The vector row of the batch `$1`, written with its postings.
pub(crate) fn vector_of_batch_sql(backend: Backend) -> &'static str {
    static POSTGRES: LazyLock<String> =
        LazyLock::new(|| vector_insert_sql(Backend::Postgres, "WHERE c.batch_id = $1"));
    static SQLITE: LazyLock<String> =
        LazyLock::new(|| vector_insert_sql(Backend::Sqlite, "WHERE c.batch_id = $1"));
    dialect(backend, &POSTGRES, &SQLITE)
}

/// The best [`TOP`] candidates, best first (ties by batch id in byte order), scored from
/// their rows of [`scoring_sql`]: the dot product of integer counts (exact in f64) over
/// the stored norm. The query batch itself is no candidate.
pub(crate) fn rank(query: &Query<'_>, rows: Vec<(String, f64, String)>) -> Result<Vec<Scored>, StoreError> {
    let mut scored = Vec::with_capacity(rows.len());
    for (batch_id, norm, counts) in rows {
        if batch_id == query.id || norm <= 0.0 {
            continue;
        }
        let counts: Vec<(String, i64)> = serde_json::from_str(&counts)
            .map_err(|e| StoreError::Corrupt(format!("counts of batch {batch_id}: {e}")))?;
        let dot: f64 = counts
            .iter()
            .filter_map(|(code, events)| Some(*query.counts.get(code.as_str())? as f64 * *events as f64))
            .sum();
        if dot > 0.0 {
            scored.push(Scored { batch_id, dot, norm });
        }
    }
    scored.sort_by(|a, b| b.key().total_cmp(&a.key()).then_with(|| a.batch_id.cmp(&b.batch_id)));
    scored.truncate(TOP);
    Ok(scored)
}

/// The statements that recompute the vectors from the postings
/// ([`Store::rebuild_derived_tables`](super::Store::rebuild_derived_tables)).
pub(crate) fn rebuild_statements(backend: Backend) -> [String; 2] {
    ["DELETE FROM completed_vectors".to_owned(), vector_insert_sql(backend, "")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_exact_cosines_with_ties_by_id() {
        let mine = vec![("A".to_owned(), 3), ("B".to_owned(), 4)];
        let q = Query::new("me", &mine, 5.0);
        let rows = vec![
            ("y".to_owned(), 5.0, r#"[["A",3],["B",4]]"#.to_owned()),
            ("x".to_owned(), 10.0, r#"[["A", 6], ["B", 8]]"#.to_owned()),
            ("w".to_owned(), 5.0, r#"[["A", 3], ["C", 4]]"#.to_owned()),
            ("z".to_owned(), 8.0, r#"[["C", 8]]"#.to_owned()),
            ("me".to_owned(), 5.0, r#"[["A", 3], ["B", 4]]"#.to_owned()),
        ];
        let ranked = rank(&q, rows).expect("rank");
        let ids: Vec<&str> = ranked.iter().map(|s| s.batch_id.as_str()).collect();
        assert_eq!(ids, ["x", "y", "w"], "the query itself and a batch sharing no code are left out");
        assert!((ranked[0].dot / (5.0 * ranked[0].norm) - 1.0).abs() < 1e-12);
        assert!((ranked[2].dot / (5.0 * ranked[2].norm) - 0.36).abs() < 1e-12);
        let corrupt = vec![("v".to_owned(), 1.0, "[[".to_owned())];
        assert!(rank(&q, corrupt).is_err());
    }
}
