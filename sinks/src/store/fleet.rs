//! The fleet's top errors over the stored batches, filtered by window, VIN or firmware.
//! They read `completed_codes` (migration 0005: the per-batch counts of every code of the
//! completed batches, not only the top `k`, with the batch's VIN, firmware and last record
//! time), so the fleet report over stored batches equals the pipeline's
//! `FleetReport::from_batches`.

use argus_pipeline::report::{FleetReport, FleetTopError};

use super::{Backend, Store, byte_order, explain, with_pool};
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
pub(super) type Totals = (i64, i64, i64);
/// code, events, batches, vins.
pub(super) type CodeRow = (String, i64, i64, i64);

/// `k` as the statements' LIMIT.
pub(super) fn limit_of(k: usize) -> Result<i64, StoreError> {
    i64::try_from(k).map_err(|_| StoreError::OutOfRange(format!("k = {k}")))
}

/// The report of `k` codes from the statements' rows.
pub(super) fn report(k: usize, totals: Totals, top: Vec<CodeRow>) -> Result<FleetReport, StoreError> {
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
        k,
        batches: to_u64(totals.0, "batches")?,
        records: to_u64(totals.1, "records")?,
        error_events: to_u64(totals.2, "error_events")?,
        top_errors,
    })
}

impl FleetQuery {
    /// The WHERE conditions of this query's filters over a table with `vin`, `firmware`
    /// and `last_ts_ns` columns (aliased `t`), with their parameters in order. Only the
    /// filters present appear, so that each query is planned for its own filters (an
    /// `($n IS NULL OR t.vin = $n)` form hides the index from a generic plan).
    fn conditions(&self) -> Result<(Vec<String>, Vec<Param<'_>>), StoreError> {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        if let Some(vin) = &self.vin {
            params.push(Param::Text(vin));
            conditions.push(format!("t.vin = ${}", params.len()));
        }
        if let Some(firmware) = &self.firmware {
            params.push(Param::Text(firmware));
            conditions.push(format!("t.firmware = ${}", params.len()));
        }
        if let Some(window) = self.window {
            params.push(Param::Int(to_i64(window.from_ns, "from_ns")?));
            conditions.push(format!("t.last_ts_ns >= ${}", params.len()));
            params.push(Param::Int(to_i64(window.to_ns, "to_ns")?));
            conditions.push(format!("t.last_ts_ns < ${}", params.len()));
        }
        Ok((conditions, params))
    }
}

/// A bound parameter of a fleet statement.
#[derive(Debug, Clone, Copy)]
enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

/// Binds `$params` (then `$extra`, if given) to the query `$q`.
macro_rules! bind_params {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                Param::Text(v) => q.bind(*v),
                Param::Int(v) => q.bind(*v),
            };
        }
        q
    }};
}

/// The totals statement: over `batches`, completed only (the partial indexes of migration
/// 0005 cover it when a VIN or firmware is given).
pub(crate) fn totals_sql(conditions: &[String]) -> String {
    let mut sql = String::from(
        "SELECT COUNT(*), CAST(COALESCE(SUM(t.records), 0) AS BIGINT), \
         CAST(COALESCE(SUM(t.error_events), 0) AS BIGINT) FROM batches t WHERE t.status = 'completed'",
    );
    for c in conditions {
        sql.push_str(" AND ");
        sql.push_str(c);
    }
    sql
}

/// The top-codes statement: over `completed_codes` (the codes of completed batches with
/// the batch's VIN, firmware and last record time), read through the index that matches
/// the filter; `$limit` is the parameter number of `k`.
pub(crate) fn top_sql(backend: Backend, conditions: &[String], limit: usize) -> String {
    let filter =
        if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
    format!(
        "SELECT t.code, CAST(SUM(t.events) AS BIGINT) AS events, COUNT(*) AS batches, \
         COUNT(DISTINCT t.vin) AS vins FROM completed_codes t{filter} \
         GROUP BY t.code ORDER BY events DESC, t.code{} LIMIT ${limit}",
        byte_order(backend)
    )
}

impl Store {
    /// The fleet report over the completed batches that `query` selects: `batches` and
    /// `vins` count distinct batches and VINs in which a code occurred; ordered by count
    /// descending, then code in byte order.
    ///
    /// With a VIN, both statements read only that vehicle's index range (in the window, if
    /// any), not the fleet's history; with a firmware alone, the firmware's rollups
    /// (fleet_firmware.rs), since a firmware's history is a share of the fleet's. Without
    /// either, this aggregates every completed batch in the window: the API serves the
    /// unfiltered fleet from the rows the dataflow maintains (`get_fleet_report_json`)
    /// instead.
    pub async fn fleet_top_errors(&self, query: &FleetQuery) -> Result<FleetReport, StoreError> {
        if let (None, Some(firmware)) = (&query.vin, &query.firmware) {
            return self.fleet_by_firmware(firmware, query.window, query.k).await;
        }
        let limit = limit_of(query.k)?;
        let (conditions, params) = query.conditions()?;
        let totals_sql = totals_sql(&conditions);
        let top_sql = top_sql(self.backend(), &conditions, params.len() + 1);
        let (totals, top): (Totals, Vec<CodeRow>) = with_pool!(self, pool => {
            let totals = bind_params!(sqlx::query_as(&totals_sql), &params).fetch_one(pool).await?;
            let top = bind_params!(sqlx::query_as(&top_sql), &params).bind(limit).fetch_all(pool).await?;
            (totals, top)
        });
        report(query.k, totals, top)
    }

    /// The plans of the two statements [`Store::fleet_top_errors`] runs for `query`
    /// (totals first), one line per plan node: for the benchmark and for reviews.
    pub async fn explain_fleet_top_errors(&self, query: &FleetQuery) -> Result<Vec<String>, StoreError> {
        if let (None, Some(firmware)) = (&query.vin, &query.firmware) {
            return self.explain_fleet_by_firmware(firmware, query.window, query.k).await;
        }
        let limit = limit_of(query.k)?;
        let (conditions, params) = query.conditions()?;
        let totals_sql = totals_sql(&conditions);
        let top_sql = top_sql(self.backend(), &conditions, params.len() + 1);
        let backend = self.backend();
        let mut lines =
            with_pool!(self, pool => explain!(backend, pool, &totals_sql, |q| bind_params!(q, &params)));
        lines.push("--".to_owned());
        lines.extend(with_pool!(self, pool => explain!(backend, pool, &top_sql, |q| bind_params!(q, &params).bind(limit))));
        Ok(lines)
    }
}
