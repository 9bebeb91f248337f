//! Queries over many batches: the fleet's top errors and the similar-batch search. Both
//! read `batch_codes`, the per-batch counts of every code (not only the top `k`), so the
//! fleet report over stored batches equals the pipeline's `FleetReport::from_batches`.

use argus_pipeline::report::{FleetReport, FleetTopError};

use super::{Backend, Store, byte_order, with_pool};
use crate::error::{StoreError, to_i64, to_u64};

/// A half-open range `[from_ns, to_ns)` of record time: a batch is inside when its last
/// record (`last_ts_ns`) is. Record time rather than upload time, so that a replay of
/// archived batches and the live service select the same batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub from_ns: u64,
    pub to_ns: u64,
}

/// Which completed batches the fleet report covers, and how many codes it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetQuery {
    pub k: usize,
    pub window: Option<TimeWindow>,
    pub vin: Option<String>,
    pub firmware: Option<String>,
}

impl FleetQuery {
    /// Every completed batch, top `k`.
    pub fn all(k: usize) -> Self {
        Self { k, window: None, vin: None, firmware: None }
    }
}

/// `COUNT(*)`, `SUM(records)`, `SUM(error_events)` of the selected batches.
type Totals = (i64, i64, i64);
/// code, events, batches, vins.
type CodeRow = (String, i64, i64, i64);

/// The filter shared by both fleet statements; parameters $1..$4.
const FILTER: &str = "b.status = 'completed' \
    AND ($1 IS NULL OR b.last_ts_ns >= $1) AND ($2 IS NULL OR b.last_ts_ns < $2) \
    AND ($3 IS NULL OR b.vin = $3) AND ($4 IS NULL OR b.firmware = $4)";

impl Store {
    /// The fleet report over the completed batches that `query` selects: `batches` and
    /// `vins` count distinct batches and VINs in which a code occurred; ordered by count
    /// descending, then code in byte order.
    pub async fn fleet_top_errors(&self, query: &FleetQuery) -> Result<FleetReport, StoreError> {
        let from = query.window.map(|w| to_i64(w.from_ns, "from_ns")).transpose()?;
        let to = query.window.map(|w| to_i64(w.to_ns, "to_ns")).transpose()?;
        let limit = i64::try_from(query.k).map_err(|_| StoreError::OutOfRange(format!("k = {}", query.k)))?;
        let totals_sql = format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(b.records), 0) AS BIGINT), \
             CAST(COALESCE(SUM(b.error_events), 0) AS BIGINT) FROM batches b WHERE {FILTER}"
        );
        let top_sql = format!(
            "SELECT c.code, CAST(SUM(c.events) AS BIGINT) AS events, COUNT(*) AS batches, \
             COUNT(DISTINCT b.vin) AS vins FROM batch_codes c JOIN batches b ON b.batch_id = c.batch_id \
             WHERE {FILTER} GROUP BY c.code ORDER BY events DESC, c.code{} LIMIT $5",
            byte_order(self.backend())
        );
        let (totals, top): (Totals, Vec<CodeRow>) = with_pool!(self, pool => {
            let totals = sqlx::query_as(&totals_sql)
                .bind(from)
                .bind(to)
                .bind(query.vin.as_deref())
                .bind(query.firmware.as_deref())
                .fetch_one(pool)
                .await?;
            let top = sqlx::query_as(&top_sql)
                .bind(from)
                .bind(to)
                .bind(query.vin.as_deref())
                .bind(query.firmware.as_deref())
                .bind(limit)
                .fetch_all(pool)
                .await?;
            (totals, top)
        });
        let top_errors = top
            .into_iter()
            .map(|(code, count, batches, vins)| {
                Ok(FleetTopError {
                    code,
                    count: to_u64(count, "count")?,
                    batches: to_u64(batches, "batches")?,
                    vins: to_u64(vins, "vins")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(FleetReport {
            k: query.k,
            batches: to_u64(totals.0, "batches")?,
            records: to_u64(totals.1, "records")?,
            error_events: to_u64(totals.2, "error_events")?,
            top_errors,
        })
    }
}

/// The similar-batch search: for batch $1 (whose codes are already in batch_codes), every
/// other completed batch sharing a code, with the dot product of the two count vectors
/// and the other batch's norm; the best five by dot / norm (the cosine up to this batch's
/// own norm), ties by batch id. Products of integer counts are exact in f64.
pub(crate) fn similar_sql(backend: Backend) -> String {
    format!(
        "SELECT o.batch_id, CAST(SUM(CAST(m.events AS DOUBLE PRECISION) * o.events) AS DOUBLE PRECISION) AS dot, \
         b.code_norm FROM batch_codes m JOIN batch_codes o ON o.code = m.code AND o.batch_id <> m.batch_id \
         JOIN batches b ON b.batch_id = o.batch_id \
         WHERE m.batch_id = $1 AND b.status = 'completed' AND b.code_norm > 0 \
         GROUP BY o.batch_id, b.code_norm \
         ORDER BY SUM(CAST(m.events AS DOUBLE PRECISION) * o.events) / b.code_norm DESC, o.batch_id{} \
         LIMIT 5",
        byte_order(backend)
    )
}

/// Scores are kept to six decimals: enough to rank, and the stored document does not
/// carry the last bits of floating-point noise.
pub(crate) fn round_score(score: f64) -> f64 {
    (score.clamp(0.0, 1.0) * 1e6).round() / 1e6
}
