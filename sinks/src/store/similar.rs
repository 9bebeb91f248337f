//! The similar-batch search: the five completed batches whose code-count vectors are
//! closest to a batch's by cosine similarity, at a cost bounded by the batch's own codes,
//! not by the fleet's history.
//!
//! The measure is unchanged: the cosine of the integer count vectors (dot products of
//! integer counts, exact in f64, over the stored norms), ties by batch id in byte order.
//! What changed is how candidates are found. `completed_codes` (migration 0005) holds,
//! per code, a posting list of every completed batch with that code and its component
//! `weight = events / code_norm` of its unit vector, indexed by (code, weight DESC,
//! batch_id). Two facts bound where the best batches can be:
//! - `cos(q, o) = Σ_c q̂_c · ô_c`: a batch that shares few codes with the query scores
//!   through the heaviest components, the *head* of each list;
//! - `cos(q, o) = 1 − ½‖q̂ − ô‖²`: a batch close to the query has, on every code of the
//!   query, a component close to `q̂_c` (0 when it lacks the code), the *band* around
//!   `q̂_c` in the list.
//!
//! So for each of the query's codes (at most [`MAX_CODES`], the heaviest, those with a
//! component of at least [`MIN_COMPONENT`]) the search reads three index ranges of
//! [`DEPTH`] postings each, all in one statement: the head, and the band below and above
//! `q̂_c`. A batch scores at most the smaller of `Σ q̂_c · ô_c` and
//! `1 − ½ Σ (q̂_c − ô_c)²` where, on a list it was not read on, `ô_c` is taken as `m_c`
//! (the largest weight not read, 1 for a code not searched) in the first and as `q̂_c` ±
//! `min(g_c, q̂_c)` (`g_c`, the distance from `q̂_c` to the nearest weight not read) in
//! the second.
//!
//! On a dense list (a code in a quarter of the fleet) thousands of batches share a weight
//! near `q̂_c`, and a batch close to the query on two codes is rarely among the few read
//! on either. `completed_pairs` (migration 0010) keys each batch by its two heaviest
//! codes: the search also reads the batches keyed like the query and within
//! [`PAIR_RADIUS`](super::similar_pairs::PAIR_RADIUS) of it on both codes, closest first
//! (similar_pairs.rs).
//!
//! Scored exactly, each from its one row of `completed_vectors` (similar_vectors.rs), are
//! those, the candidates with the highest such bound, and those with the highest score on
//! what was read of them; the answer is the best five of them. It is approximate: a batch
//! none of the reads reached is not found (sinks/tests/store/similar.rs measures the
//! recall against the exact search on a 10,000-batch fleet, benches/store_scale.rs at
//! 1,000,000). One pass: on a fleet of a million batches a shallow first pass could
//! almost never prove its answer exact, and a second, deeper one cost more than reading
//! deep at once.
//!
//! The cost is bounded by the query's codes × the depth, plus [`SHORTLIST`] × 2 and the
//! pair read's candidates scored, whatever the fleet's size.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use super::similar_pairs::{PAIRS_SQL, bind_pair};
use super::similar_vectors::scoring_sql;
use super::{Backend, Store, explain, sqlite_exact_real, with_pool};
use crate::diagnosis::SimilarBatch;
use crate::error::StoreError;

/// How many similar batches a diagnosis lists.
pub(crate) const TOP: usize = 5;
/// The query codes searched: the heaviest ones.
pub(crate) const MAX_CODES: usize = 16;
/// The smallest component `q̂_c` of a searched code (the heaviest code is always
/// searched): a lighter code adds at most that to any cosine, its lists would cost as much
/// to read as a heavy code's, and the bounds count it as unread.
pub(crate) const MIN_COMPONENT: f64 = 0.01;
/// How many postings are read of each range: the head, below `q̂_c` and above it.
pub(crate) const DEPTH: i64 = 256;
/// How many candidates each of the two orders of [`shortlist`] sends to exact scoring.
pub(crate) const SHORTLIST: usize = 80;

/// A stored batch's code counts, each with its norm: the query of
/// [`Store::similar_batches`], in one round trip (no rows for a batch without codes).
const QUERY_SQL: &str = "SELECT c.code, c.events, b.code_norm FROM batch_codes c \
     JOIN batches b ON b.batch_id = c.batch_id WHERE c.batch_id = $1";

/// The counts and the norm of [`QUERY_SQL`]'s rows; `None` for a batch without codes or
/// without a norm, which has no similar batches.
fn query_of(rows: Vec<(String, i64, f64)>) -> Option<(Vec<(String, i64)>, f64)> {
    let norm = rows.first().map(|r| r.2).filter(|n| *n > 0.0)?;
    Some((rows.into_iter().map(|(code, events, _)| (code, events)).collect(), norm))
}

/// The postings the search reads, in one statement: for each searched code `k` (binding
/// `$(2k+2)` the code and `$(2k+3)` the query's component `q̂_c`), the head of its list,
/// the postings at or below `q̂_c` heaviest first, and those above it lightest first, each
/// cut at `$1` rows. One round trip instead of three per code, and few rows: a range's
/// postings come as one row `(k, range, batch_ids, weights)` on Postgres (range 0 head,
/// 1 below, 2 above; arrays in no particular order), and all of them as one row on
/// SQLite, a JSON array of `[k, range, batch_id, weight]` (the weight as text that reads
/// back exactly), because sqlx hands rows over one by one and the search reads
/// thousands. Built once per backend and code count.
pub(crate) fn postings_sql(backend: Backend, codes: usize) -> &'static str {
    static POSTGRES: LazyLock<Vec<String>> =
        LazyLock::new(|| (0..=MAX_CODES).map(|n| build_postings_sql(Backend::Postgres, n)).collect());
    static SQLITE: LazyLock<Vec<String>> =
        LazyLock::new(|| (0..=MAX_CODES).map(|n| build_postings_sql(Backend::Sqlite, n)).collect());
    debug_assert!((1..=MAX_CODES).contains(&codes));
    let by_count = match backend {
        Backend::Postgres => &POSTGRES,
        Backend::Sqlite => &SQLITE,
    };
    &by_count[codes.min(MAX_CODES)]
}

fn build_postings_sql(backend: Backend, codes: usize) -> String {
    let ranges = [
        "ORDER BY weight DESC, batch_id",
        "AND weight <= {u} ORDER BY weight DESC, batch_id",
        "AND weight > {u} ORDER BY weight, batch_id DESC",
    ];
    let columns = match backend {
        Backend::Postgres => {
            "COALESCE(array_agg(batch_id), '{}') AS ids, COALESCE(array_agg(weight), '{}') AS weights"
        }
        Backend::Sqlite => "batch_id, weight",
    };
    let mut parts = Vec::with_capacity(codes * ranges.len());
    for k in 0..codes {
        let (code, unit) = (format!("${}", 2 * k + 2), format!("${}", 2 * k + 3));
        for (range, order) in ranges.iter().enumerate() {
            let order = order.replace("{u}", &unit);
            parts.push(format!(
                "SELECT {k} AS k, {range} AS r, {columns} FROM \
                 (SELECT batch_id, weight FROM completed_codes WHERE code = {code} {order} LIMIT $1) AS p{k}_{range}"
            ));
        }
    }
    let postings = parts.join(" UNION ALL ");
    match backend {
        Backend::Postgres => postings,
        Backend::Sqlite => format!(
            "SELECT json_group_array(json_array(k, r, batch_id, {})) FROM ({postings}) AS postings",
            sqlite_exact_real!("weight")
        ),
    }
}

/// What the search read from the store does not decode: `what`, and why.
pub(crate) fn corrupt(what: &str, e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("similar search {what}: {e}"))
}

/// Binds [`postings_sql`]'s parameters to the statement `$statement`: the depth, then
/// each searched code of `$query` and its component.
macro_rules! bind_postings {
    ($statement:expr, $query:expr) => {{
        let mut statement = $statement.bind(DEPTH);
        for (code, count) in &$query.searched {
            statement = statement.bind(*code).bind($query.unit(*count));
        }
        statement
    }};
}

/// The postings the search read, as its backend hands them over: a row of two arrays per
/// range on Postgres, one JSON array on SQLite (see [`postings_sql`]).
pub(crate) enum PostingsRead {
    Ranges(Vec<(i32, i32, Vec<String>, Vec<f64>)>),
    Json(String),
}

/// One posting read: the list `k` (the query's `k`-th searched code), the range (0 head,
/// 1 below, 2 above), a batch and its weight on the list.
pub(crate) type Posting<'a> = (i32, i32, Cow<'a, str>, f64);

/// A posting of the SQLite form: the weight as text that reads back exactly. The batch id
/// is borrowed from the JSON text unless it holds an escape.
#[derive(serde::Deserialize)]
struct JsonPosting<'a>(i32, i32, #[serde(borrow)] Cow<'a, str>, &'a str);

impl PostingsRead {
    /// The postings, their batch ids borrowed from what was read.
    pub fn postings(&self) -> Result<Vec<Posting<'_>>, StoreError> {
        match self {
            PostingsRead::Ranges(ranges) => {
                let mut rows = Vec::with_capacity(ranges.iter().map(|r| r.2.len()).sum());
                for (k, range, ids, weights) in ranges {
                    debug_assert_eq!(ids.len(), weights.len());
                    rows.extend(
                        ids.iter().zip(weights).map(|(id, w)| (*k, *range, Cow::Borrowed(id.as_str()), *w)),
                    );
                }
                Ok(rows)
            }
            PostingsRead::Json(json) => {
                let rows: Vec<JsonPosting<'_>> =
                    serde_json::from_str(json).map_err(|e| corrupt("postings", &e))?;
                rows.into_iter()
                    .map(|JsonPosting(k, range, id, weight)| {
                        Ok((k, range, id, weight.parse().map_err(|e| corrupt("postings", &e))?))
                    })
                    .collect()
            }
        }
    }
}

/// The search's postings read on a connection, in the form its backend hands over best.
pub(crate) trait ReadPostings {
    fn read_postings(
        &mut self,
        query: &Query<'_>,
    ) -> impl Future<Output = Result<PostingsRead, StoreError>> + Send;
}

impl ReadPostings for sqlx::PgConnection {
    async fn read_postings(&mut self, query: &Query<'_>) -> Result<PostingsRead, StoreError> {
        let sql = postings_sql(Backend::Postgres, query.searched.len());
        Ok(PostingsRead::Ranges(bind_postings!(sqlx::query_as(sql), query).fetch_all(self).await?))
    }
}

impl ReadPostings for sqlx::SqliteConnection {
    async fn read_postings(&mut self, query: &Query<'_>) -> Result<PostingsRead, StoreError> {
        let sql = postings_sql(Backend::Sqlite, query.searched.len());
        Ok(PostingsRead::Json(bind_postings!(sqlx::query_scalar(sql), query).fetch_one(self).await?))
    }
}

/// The query batch as the search sees it.
#[derive(Debug)]
pub(crate) struct Query<'a> {
    pub id: &'a str,
    /// The codes searched, heaviest first, with their counts.
    pub searched: Vec<(&'a str, i64)>,
    /// Every code's count, for the exact dot products.
    pub counts: HashMap<&'a str, i64>,
    pub norm: f64,
    /// `Σ q̂_c` over the codes not searched: the most they can add to a dot product.
    pub unsearched: f64,
}

impl<'a> Query<'a> {
    pub fn new(id: &'a str, codes: &'a [(String, i64)], norm: f64) -> Self {
        let mut searched: Vec<(&str, i64)> = codes.iter().map(|(c, n)| (c.as_str(), *n)).collect();
        searched.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let counts = searched.iter().copied().collect();
        // Heaviest first: the searched codes are a prefix, the heaviest always among them.
        let heavy = searched.iter().skip(1).take_while(|(_, n)| *n as f64 / norm >= MIN_COMPONENT).count();
        let kept = (1 + heavy).min(MAX_CODES).min(searched.len());
        let unsearched = searched.iter().skip(kept).map(|(_, n)| *n as f64 / norm).sum();
        searched.truncate(kept);
        Self { id, searched, counts, norm, unsearched }
    }

    /// The query's key in the pair index: its two heaviest codes in code order, each with
    /// its component; `None` for a batch of one code.
    pub fn pair(&self) -> Option<[(&'a str, f64); 2]> {
        let [first, second] = self.searched.get(..2)? else { return None };
        let mut pair = [(first.0, self.unit(first.1)), (second.0, self.unit(second.1))];
        pair.sort_by(|a, b| a.0.cmp(b.0));
        Some(pair)
    }

    /// The component of the query's unit vector on a code.
    pub fn unit(&self, count: i64) -> f64 {
        count as f64 / self.norm
    }

    /// The largest cosine a batch can have whose weights on the searched codes are `seen`
    /// where its postings were read (`None` where they were not), given what was read.
    /// On a list where it was not read, its weight is 0 or a weight not read: at most
    /// `m_c`, and at least `min(g_c, q̂_c)` away from `q̂_c`.
    pub fn bound_of(&self, seen: &[Option<f64>], reads: &[ListRead]) -> f64 {
        debug_assert_eq!(seen.len(), reads.len());
        let mut apart = 0.0;
        let mut dot = 0.0;
        for (((_, n), read), weight) in self.searched.iter().zip(reads).zip(seen) {
            let unit = self.unit(*n);
            let (gap, most) = match weight {
                Some(w) => ((unit - w).abs(), *w),
                None => (read.gap(unit).min(unit), read.max_unread()),
            };
            apart += gap * gap;
            dot += unit * most;
        }
        dot += self.unsearched;
        (1.0 - apart / 2.0).min(dot)
    }
}

/// What the search read of a code's list: the last weight of each range, `None` for a
/// range read to its end.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ListRead {
    pub head: Option<f64>,
    pub below: Option<f64>,
    pub above: Option<f64>,
}

impl ListRead {
    /// The last weight of a range of `read` postings when it was cut at `depth`.
    pub fn cut(read: usize, depth: i64, last: Option<f64>) -> Option<f64> {
        if i64::try_from(read).unwrap_or(i64::MAX) >= depth { last } else { None }
    }

    /// The largest weight not read (0 when all were).
    pub fn max_unread(&self) -> f64 {
        let Some(head) = self.head else { return 0.0 };
        match self.above {
            // Weights between the band's top and the head's bottom were not read.
            Some(top) if head > top => head,
            _ => self.below.unwrap_or(0.0),
        }
    }

    /// The distance from `unit` to the nearest weight not read (infinite when all were).
    pub fn gap(&self, unit: f64) -> f64 {
        if self.head.is_none() {
            return f64::INFINITY;
        }
        let below = self.below.map_or(f64::INFINITY, |w| unit - w);
        let above = match self.above {
            Some(top) if self.head.is_some_and(|h| h > top) => top - unit,
            _ => f64::INFINITY,
        };
        below.min(above)
    }
}

/// What the search read: each candidate's weights on the searched codes where its
/// postings were read, and what was read of each list.
#[derive(Debug)]
pub(crate) struct Tally<'a> {
    /// Each candidate's index in `weights`.
    candidates: HashMap<Cow<'a, str>, usize>,
    /// Candidate `i`'s weight on list `k` at `i × codes + k`; `None` where not read.
    weights: Vec<Option<f64>>,
    pub reads: Vec<ListRead>,
}

impl Tally<'_> {
    /// Each candidate with its weights on the searched codes, where they were read.
    pub fn candidates(&self) -> impl Iterator<Item = (&str, &[Option<f64>])> {
        let codes = self.reads.len();
        self.candidates.iter().map(move |(id, &i)| (id.as_ref(), &self.weights[i * codes..(i + 1) * codes]))
    }

    #[cfg(test)]
    pub fn weights_of(&self, batch_id: &str) -> Option<&[Option<f64>]> {
        self.candidates().find(|(id, _)| *id == batch_id).map(|(_, weights)| weights)
    }
}

/// The tally of the postings of [`postings_sql`] cut at `depth`. The query batch itself is
/// no candidate.
pub(crate) fn tally_postings<'a>(query: &Query<'_>, depth: i64, postings: Vec<Posting<'a>>) -> Tally<'a> {
    let codes = query.searched.len();
    // Per list and range (head, below, above): rows read, and the weight read last, the
    // range's extreme in its order.
    let mut ranges = vec![[(0usize, None::<f64>); 3]; codes];
    let mut candidates: HashMap<Cow<'a, str>, usize> = HashMap::with_capacity(postings.len());
    let mut weights = Vec::with_capacity(postings.len() * codes);
    for (k, range, batch_id, weight) in postings {
        let (Ok(k), Ok(range)) = (usize::try_from(k), usize::try_from(range)) else { continue };
        debug_assert!(k < codes && range < 3, "a posting row outside the statement's ranges");
        let Some((read, last)) = ranges.get_mut(k).and_then(|r| r.get_mut(range)) else { continue };
        *read += 1;
        // Head and below are read heaviest first, above lightest first.
        *last = Some(match *last {
            None => weight,
            Some(w) if range == 2 => w.max(weight),
            Some(w) => w.min(weight),
        });
        if batch_id == query.id {
            continue;
        }
        let next = candidates.len();
        let i = *candidates.entry(batch_id).or_insert(next);
        if i == next {
            weights.resize(weights.len() + codes, None);
        }
        weights[i * codes + k] = Some(weight);
    }
    let reads = ranges
        .iter()
        .map(|[head, below, above]| ListRead {
            head: ListRead::cut(head.0, depth, head.1),
            below: ListRead::cut(below.0, depth, below.1),
            above: ListRead::cut(above.0, depth, above.1),
        })
        .collect();
    Tally { candidates, weights, reads }
}

/// One scored candidate: id, dot product, norm.
#[derive(Debug, Clone)]
pub(crate) struct Scored {
    pub batch_id: String,
    pub dot: f64,
    pub norm: f64,
}

impl Scored {
    /// The ranking key's value: the cosine up to the query's own norm.
    pub fn key(&self) -> f64 {
        self.dot / self.norm
    }
}

/// The candidates scored exactly: the [`SHORTLIST`] that could score highest, by
/// [`Query::bound_of`] what was read of them, and the [`SHORTLIST`] that score highest on
/// what was read of them (ties by id). The bound keeps a batch close to the query whose
/// posting on a long list fell outside the band, behind the many batches the head read;
/// the partial score keeps one seen where it matters, whose bound stays below the loose
/// bounds of batches seen once on a dense list.
pub(crate) fn shortlist(query: &Query<'_>, tally: &Tally<'_>) -> Vec<String> {
    let units: Vec<f64> = query.searched.iter().map(|(_, n)| query.unit(*n)).collect();
    // Every candidate is scored when there are no more than SHORTLIST.
    let all = tally.candidates.len() <= SHORTLIST;
    // (id, bound, shown, chosen)
    let mut candidates: Vec<(&str, f64, f64, bool)> = tally
        .candidates()
        .map(|(id, weights)| {
            let shown = weights.iter().zip(&units).map(|(w, u)| w.unwrap_or(0.0) * u).sum();
            (id, query.bound_of(weights, &tally.reads), shown, all)
        })
        .collect();
    if !all {
        for key in [|c: &(&str, f64, f64, bool)| c.1, |c: &(&str, f64, f64, bool)| c.2] {
            // The best SHORTLIST by the key, ties by id: a set, in no particular order.
            candidates.select_nth_unstable_by(SHORTLIST - 1, |a, b| {
                key(b).total_cmp(&key(a)).then_with(|| a.0.cmp(b.0))
            });
            candidates[..SHORTLIST].iter_mut().for_each(|c| c.3 = true);
        }
    }
    candidates.into_iter().filter(|c| c.3).map(|c| c.0.to_owned()).collect()
}

/// The five completed batches closest to the batch `$id` (its counts `$codes`, a
/// `&[(String, i64)]`, and norm `$norm`), searched on the connection `$conn` (a
/// transaction or a pool connection, used as `&mut *$conn`). Evaluates to
/// `Vec<SimilarBatch>`; `?` propagates database errors.
macro_rules! similar_search {
    ($conn:ident, $id:expr, $codes:expr, $norm:expr) => {{
        use $crate::store::similar::{DEPTH, Query, ReadPostings, shortlist, tally_postings};
        use $crate::store::similar_pairs::{PAIRS_SQL, bind_pair};
        use $crate::store::similar_vectors::{ScoreCandidates, rank};
        let query = Query::new($id, $codes, $norm);
        let mut ranked = Vec::new();
        // No search for a batch without codes (its writers never search one).
        if !query.searched.is_empty() {
            // The batches closest on the query's two heaviest codes, then those the
            // posting lists bring.
            let mut candidates: Vec<String> = match query.pair() {
                Some(pair) => bind_pair!(sqlx::query_scalar(PAIRS_SQL), pair).fetch_all(&mut *$conn).await?,
                None => Vec::new(),
            };
            let read = ReadPostings::read_postings(&mut *$conn, &query).await?;
            let tally = tally_postings(&query, DEPTH, read.postings()?);
            candidates.extend(shortlist(&query, &tally));
            candidates.sort_unstable();
            candidates.dedup();
            if !candidates.is_empty() {
                ranked = rank(ScoreCandidates::score_candidates(&mut *$conn, &query, &candidates).await?);
            }
        }
        ranked
            .into_iter()
            .map(|s| $crate::diagnosis::SimilarBatch {
                score: $crate::store::similar::round_score(s.dot / ($norm * s.norm)),
                batch_id: s.batch_id,
            })
            .collect::<Vec<_>>()
    }};
}
pub(crate) use similar_search;

impl Store {
    /// The similar batches of a stored batch, searched now among the completed batches
    /// (the batch itself excluded) as its write searched them: what a diagnosis would list
    /// if the batch were written today. Empty for a batch without codes or unknown.
    pub async fn similar_batches(&self, batch_id: &str) -> Result<Vec<SimilarBatch>, StoreError> {
        with_pool!(self, pool => {
            let mut conn = pool.acquire().await?;
            let rows = sqlx::query_as(QUERY_SQL).bind(batch_id).fetch_all(&mut *conn).await?;
            let Some((codes, norm)) = query_of(rows) else { return Ok(Vec::new()) };
            Ok(similar_search!(conn, batch_id, &codes, norm))
        })
    }

    /// The plans of the statements the similar search runs for a stored batch: the
    /// postings read of its heaviest code's list, the pair index read, and the scoring
    /// read (of the batch itself, as a stand-in candidate list); one line per plan node.
    pub async fn explain_similar_batches(&self, batch_id: &str) -> Result<Vec<String>, StoreError> {
        let backend = self.backend();
        let ids = super::to_json(&[batch_id])?;
        with_pool!(self, pool => {
            let rows = sqlx::query_as(QUERY_SQL).bind(batch_id).fetch_all(pool).await?;
            let Some((codes, norm)) = query_of(rows) else { return Ok(Vec::new()) };
            let query = Query::new(batch_id, &codes, norm);
            let (code, count) = query.searched[0];
            let mut lines = explain!(backend, pool, postings_sql(backend, 1),
                |q| q.bind(DEPTH).bind(code).bind(query.unit(count)));
            if let Some(pair) = query.pair() {
                lines.push("--".to_owned());
                lines.extend(explain!(backend, pool, PAIRS_SQL, |q| bind_pair!(q, pair)));
            }
            lines.push("--".to_owned());
            lines.extend(explain!(backend, pool, scoring_sql(backend), |q| q.bind(&ids)));
            Ok(lines)
        })
    }
}

/// Scores are kept to six decimals: enough to rank, and the stored document does not
/// carry the last bits of floating-point noise.
pub(crate) fn round_score(score: f64) -> f64 {
    (score.clamp(0.0, 1.0) * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(v: &[(&str, i64)]) -> Vec<(String, i64)> {
        v.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect()
    }

    #[test]
    fn the_search_reads_every_range_of_every_list() {
        let mine = codes(&[("A", 3), ("B", 4)]);
        let q = Query::new("me", &mine, 5.0);
        // B is searched first (k = 0). Depth 2: B's head and below are cut, its above is
        // not; A's ranges are all shorter than the depth.
        let rows = vec![
            (0, 0, "x".to_owned(), 1.0),
            (0, 0, "me".to_owned(), 0.8),
            (0, 1, "me".to_owned(), 0.8),
            (0, 1, "y".to_owned(), 0.7),
            (0, 2, "x".to_owned(), 1.0),
            (1, 1, "y".to_owned(), 0.5),
        ];
        let rows = rows.into_iter().map(|(k, r, id, w)| (k, r, Cow::Owned(id), w)).collect();
        let tally = tally_postings(&q, 2, rows);
        assert!(tally.weights_of("me").is_none());
        assert_eq!(tally.weights_of("x"), Some(&[Some(1.0), None][..]));
        assert_eq!(tally.weights_of("y"), Some(&[Some(0.7), Some(0.5)][..]));
        let reads = &tally.reads;
        assert_eq!((reads[0].head, reads[0].below, reads[0].above), (Some(0.8), Some(0.7), None));
        assert_eq!((reads[1].head, reads[1].below, reads[1].above), (None, None, None));
        // One statement binds the depth, then each code and its component.
        let sql = postings_sql(Backend::Sqlite, 2);
        assert_eq!(sql.matches("UNION ALL").count(), 5);
        assert!(sql.contains("code = $4 AND weight > $5 ORDER BY weight, batch_id DESC LIMIT $1"));
        // The one row decodes to the rows, weights exactly, an id with an escape too.
        let weight = 0.1f64 + 0.2;
        let read = PostingsRead::Json(format!(r#"[[0, 2, "x", "{weight:?}"], [1, 0, "y\"z", "1"]]"#));
        let rows = read.postings().expect("decode");
        assert_eq!(rows, [(0, 2, Cow::Borrowed("x"), weight), (1, 0, Cow::Borrowed("y\"z"), 1.0)]);
        assert!(PostingsRead::Json(r#"[[0, 2, "x", "heavy"]]"#.to_owned()).postings().is_err());
        // The Postgres form: a row of arrays per range.
        let read = PostingsRead::Ranges(vec![(1, 2, vec!["x".to_owned(), "y".to_owned()], vec![0.5, 0.25])]);
        let rows = read.postings().expect("decode");
        assert_eq!(rows, [(1, 2, Cow::Borrowed("x"), 0.5), (1, 2, Cow::Borrowed("y"), 0.25)]);
    }

    #[test]
    fn the_shortlist_keeps_the_best_shown_and_the_best_bounded() {
        let mine = codes(&[("A", 3), ("B", 4)]);
        let q = Query::new("me", &mine, 5.0);
        // Dense lists: the weights not read are within 0.01 of q̂_B = 0.8 and q̂_A = 0.6.
        let reads = vec![
            ListRead { head: Some(0.9), below: Some(0.79), above: Some(0.81) },
            ListRead { head: Some(0.9), below: Some(0.59), above: Some(0.61) },
        ];
        // Batches seen once, at q̂_A: nothing read rules them out (bound ≈ 1), little shown.
        let mut tally = Tally { candidates: HashMap::new(), weights: Vec::new(), reads };
        for i in 0..2 * SHORTLIST {
            tally.candidates.insert(Cow::Owned(format!("loose{i:04}")), i);
            tally.weights.extend([None, Some(0.6)]);
        }
        // A batch of B alone: bound 0.98, below every loose one, but 0.8 shown.
        tally.candidates.insert(Cow::Borrowed("pure"), 2 * SHORTLIST);
        tally.weights.extend([Some(1.0), None]);
        let chosen = shortlist(&q, &tally);
        assert!(chosen.iter().any(|id| id == "pure"));
        assert_eq!(chosen.len(), SHORTLIST + 1);
    }

    #[test]
    fn bound_of_unread_batches() {
        let mine = codes(&[("A", 3), ("B", 4)]);
        let q = Query::new("me", &mine, 5.0);
        // Every posting read: a batch never read shares no code.
        let all = ListRead::default();
        assert!(q.bound_of(&[None, None], &[all, all]) <= 0.0);
        // Searched heaviest first: B (0.8), then A (0.6). Heads cut at 0.9, bands ±0.05/0.1.
        let b = ListRead { head: Some(0.9), below: Some(0.7), above: Some(0.85) };
        let a = ListRead { head: Some(0.9), below: Some(0.5), above: Some(0.7) };
        assert!((a.max_unread() - 0.9).abs() < 1e-12);
        assert!((b.gap(0.8) - 0.05).abs() < 1e-12);
        let euclid = 1.0 - (0.1f64.powi(2) + 0.05f64.powi(2)) / 2.0;
        let unread = q.bound_of(&[None, None], &[b, a]);
        assert!((unread - euclid.min(0.6 * 0.9 + 0.8 * 0.9)).abs() < 1e-12);
        // Band and head met: only the weights below the band are unread.
        let met = ListRead { head: Some(0.7), below: Some(0.5), above: Some(0.75) };
        assert!((met.max_unread() - 0.5).abs() < 1e-12);
        assert!((met.gap(0.6) - 0.1).abs() < 1e-12);
        assert_eq!(ListRead::cut(2, 3, Some(0.4)), None);
        assert_eq!(ListRead::cut(3, 3, Some(0.4)), Some(0.4));
        // A batch read on B at 0.8 but not on A: as close as A's unread weights allow.
        let seen = q.bound_of(&[Some(0.8), None], &[b, a]);
        assert!((seen - (1.0 - 0.1f64.powi(2) / 2.0).min(0.8 * 0.8 + 0.6 * 0.9)).abs() < 1e-12);
        assert!(seen > unread);
        let many: Vec<(String, i64)> = (0..20).map(|i| (format!("C{i:02}"), 1)).collect();
        assert_eq!(Query::new("me", &many, 20f64.sqrt()).searched.len(), MAX_CODES);
        // A code under 1 % of the norm is not searched; its component bounds the dot.
        let light = codes(&[("A", 1000), ("B", 5), ("C", 300)]);
        let norm = (1000f64.powi(2) + 25.0 + 300f64.powi(2)).sqrt();
        let q = Query::new("me", &light, norm);
        assert_eq!(q.searched, [("A", 1000), ("C", 300)]);
        assert!((q.unsearched - 5.0 / norm).abs() < 1e-12);
        let tiny = codes(&[("A", 1)]);
        assert_eq!(Query::new("me", &tiny, 1e6).searched, [("A", 1)], "the heaviest code is always searched");
    }
}
