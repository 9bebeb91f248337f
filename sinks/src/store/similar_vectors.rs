//! The exact scoring of the similar search's candidates (similar.rs), from
//! `completed_vectors` (migration 0012): each completed batch's code counts in one row.
//! The candidates are batches scattered over the whole history, so what a candidate costs
//! is the pages read for it: one row here, where its `batches` row and `batch_codes` rows
//! lie in two tables of millions.

use std::sync::LazyLock;

use super::similar::{Query, Scored, TOP, corrupt};
use super::{Backend, dialect, sqlite_exact_real, to_json};
use crate::error::StoreError;

/// The vectors of the candidates whose ids `$1` (a JSON array) lists: rows `(batch_id,
/// code_norm, counts)` on Postgres; on SQLite one row, a JSON array of such triples (the
/// norm as text that reads back exactly), because sqlx hands SQLite rows over one by one.
pub(crate) fn scoring_sql(backend: Backend) -> &'static str {
    dialect(
        backend,
        "SELECT batch_id, code_norm, counts FROM completed_vectors \
         WHERE batch_id IN (SELECT json_array_elements_text($1::json))",
        concat!(
            "SELECT json_group_array(json_array(batch_id, ",
            sqlite_exact_real!("code_norm"),
            ", json(counts))) FROM completed_vectors WHERE batch_id IN (SELECT value FROM json_each($1))"
        ),
    )
}

/// The candidates `ids` scored exactly on a connection (the query itself, and batches
/// that share no code with it, left out), read in the form its backend hands over best.
pub(crate) trait ScoreCandidates {
    fn score_candidates(
        &mut self,
        query: &Query<'_>,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Scored>, StoreError>> + Send;
}

impl ScoreCandidates for sqlx::PgConnection {
    async fn score_candidates(
        &mut self,
        query: &Query<'_>,
        ids: &[String],
    ) -> Result<Vec<Scored>, StoreError> {
        let rows = sqlx::query_as(scoring_sql(Backend::Postgres)).bind(to_json(ids)?).fetch_all(self).await?;
        score_rows(query, rows)
    }
}

impl ScoreCandidates for sqlx::SqliteConnection {
    async fn score_candidates(
        &mut self,
        query: &Query<'_>,
        ids: &[String],
    ) -> Result<Vec<Scored>, StoreError> {
        let json: String =
            sqlx::query_scalar(scoring_sql(Backend::Sqlite)).bind(to_json(ids)?).fetch_one(self).await?;
        score_json(query, &json)
    }
}

/// The scores of the Postgres rows of [`scoring_sql`].
fn score_rows(query: &Query<'_>, rows: Vec<(String, f64, String)>) -> Result<Vec<Scored>, StoreError> {
    let mut scored = Vec::with_capacity(rows.len());
    for (batch_id, norm, counts) in rows {
        let counts: Vec<(String, i64)> =
            serde_json::from_str(&counts).map_err(|e| corrupt(&format!("counts of batch {batch_id}"), &e))?;
        scored.extend(score(query, batch_id, norm, &counts));
    }
    Ok(scored)
}

/// A candidate of the SQLite form: id, norm as text that reads back exactly, counts.
#[derive(serde::Deserialize)]
struct JsonVector(String, String, Vec<(String, i64)>);

/// The scores of the SQLite row of [`scoring_sql`].
fn score_json(query: &Query<'_>, json: &str) -> Result<Vec<Scored>, StoreError> {
    let rows: Vec<JsonVector> = serde_json::from_str(json).map_err(|e| corrupt("vectors", &e))?;
    let mut scored = Vec::with_capacity(rows.len());
    for JsonVector(batch_id, norm, counts) in rows {
        let norm = norm.parse().map_err(|e| corrupt(&format!("norm of batch {batch_id}"), &e))?;
        scored.extend(score(query, batch_id, norm, &counts));
    }
    Ok(scored)
}

/// A candidate's score: the dot product of integer counts (exact in f64) and its norm;
/// `None` for the query itself and for a batch that shares no code with it.
fn score(query: &Query<'_>, batch_id: String, norm: f64, counts: &[(String, i64)]) -> Option<Scored> {
    if batch_id == query.id || norm <= 0.0 {
        return None;
    }
    let dot: f64 = counts
        .iter()
        .filter_map(|(code, events)| Some(*query.counts.get(code.as_str())? as f64 * *events as f64))
        .sum();
    (dot > 0.0).then_some(Scored { batch_id, dot, norm })
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

/// The best [`TOP`] of the scored candidates, best first, ties by batch id in byte order.
pub(crate) fn rank(mut scored: Vec<Scored>) -> Vec<Scored> {
    scored.sort_by(|a, b| b.key().total_cmp(&a.key()).then_with(|| a.batch_id.cmp(&b.batch_id)));
    scored.truncate(TOP);
    scored
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
        let ranked = rank(score_rows(&q, rows).expect("score"));
        let ids: Vec<&str> = ranked.iter().map(|s| s.batch_id.as_str()).collect();
        assert_eq!(ids, ["x", "y", "w"], "the query itself and a batch sharing no code are left out");
        assert!((ranked[0].dot / (5.0 * ranked[0].norm) - 1.0).abs() < 1e-12);
        assert!((ranked[2].dot / (5.0 * ranked[2].norm) - 0.36).abs() < 1e-12);
        let corrupt = vec![("v".to_owned(), 1.0, "[[".to_owned())];
        assert!(score_rows(&q, corrupt).is_err());
    }

    /// The text SQLite makes of a REAL reads back as the same double: what the SQLite
    /// forms of the postings and of the vectors rely on.
    #[tokio::test]
    async fn sqlite_real_text_reads_back_exactly() {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.expect("sqlite");
        let sql = concat!("SELECT ", sqlite_exact_real!("$1"));
        for value in [0.1f64 + 0.2, 5.0, 1.0 / 3.0, 2f64.sqrt(), 1e-300, 123_456.789_012_345_67] {
            let text: String =
                sqlx::query_scalar(sql).bind(value).fetch_one(&mut conn).await.expect("printf");
            assert_eq!(text.parse::<f64>().expect("a number"), value, "{text}");
        }
    }

    #[test]
    fn the_sqlite_row_scores_as_the_postgres_rows() {
        let mine = vec![("A".to_owned(), 3), ("B".to_owned(), 4)];
        let q = Query::new("me", &mine, 5.0);
        // A norm that needs all 17 digits to read back.
        let norm = 0.1f64 + 0.2;
        let json = format!(
            r#"[["x", "{norm:?}", [["A", 6], ["B", 8]]], ["me", "5", [["A", 3]]], ["z", "8", [["C", 8]]]]"#
        );
        let scored = score_json(&q, &json).expect("score");
        assert_eq!(scored.len(), 1);
        assert_eq!((scored[0].batch_id.as_str(), scored[0].dot, scored[0].norm), ("x", 50.0, norm));
        assert!(score_json(&q, r#"[["x", "heavy", [["A", 6]]]]"#).is_err());
        assert!(score_json(&q, "[[").is_err());
    }
}
