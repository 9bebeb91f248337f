//! The fleet query filtered by firmware alone, read from the rollups of migration 0009,
//! which triggers keep in step with the batches.
//!
//! A firmware can hold a sixth of the fleet's history, so summing its `completed_codes`
//! rows costs as much as the history does. Without a window, the codes come from
//! `firmware_codes` (one row per code, distinct VINs kept by `firmware_code_vins`) and the
//! totals from `firmware_days`. With one, the whole days of the window come from the day
//! rollups (`firmware_days`, `firmware_code_days`: one row per day and code), and only its
//! ragged ends, less than a day on each side, from the per-batch rows; distinct VINs do
//! not add up over days, so they are counted for the `k` codes reported only: for a
//! window reaching past the firmware's latest batch (the usual "last N days"), as the VINs
//! whose latest batch with the code is in it (`firmware_code_vins.last_ts_ns`, migration
//! 0011); otherwise over the window's rows of `completed_codes`, one index range per code.

use std::collections::HashMap;

use argus_pipeline::report::FleetReport;

use super::fleet::{CodeRow, TimeWindow, Totals, limit_of, report};
use super::{Backend, Store, byte_order, explain, with_pool};
use crate::error::{StoreError, to_i64};

const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// Which rollup days a window covers whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WholeDays {
    /// No window: every day, and day -1 (batches with no record).
    Every,
    /// Days `from..to`, as UTC day numbers.
    Between(i64, i64),
    /// The window holds no whole day.
    None,
}

/// A window cut into whole days and at most two ragged ends (ranges of record time).
#[derive(Debug, Clone, PartialEq, Eq)]
struct DaySplit {
    whole_days: WholeDays,
    ends: Vec<(i64, i64)>,
}

impl DaySplit {
    fn of(window: Option<TimeWindow>) -> Result<Self, StoreError> {
        let Some(TimeWindow { from_ns, to_ns }) = window else {
            return Ok(Self { whole_days: WholeDays::Every, ends: Vec::new() });
        };
        let ns = |v: u64| to_i64(v, "window bound");
        let first = from_ns.div_ceil(DAY_NS);
        let end = to_ns / DAY_NS;
        if first >= end {
            let ends = if from_ns < to_ns { vec![(ns(from_ns)?, ns(to_ns)?)] } else { Vec::new() };
            return Ok(Self { whole_days: WholeDays::None, ends });
        }
        // first < end ≤ u64::MAX / DAY_NS, so neither product overflows.
        let (whole_from, whole_to) = (first * DAY_NS, end * DAY_NS);
        let mut ends = Vec::new();
        if from_ns < whole_from {
            ends.push((ns(from_ns)?, ns(whole_from)?));
        }
        if whole_to < to_ns {
            ends.push((ns(whole_to)?, ns(to_ns)?));
        }
        Ok(Self { whole_days: WholeDays::Between(ns(first)?, ns(end)?), ends })
    }

    /// The parts to sum, each a SELECT of three columns: `rollup_columns` of the rollup
    /// table `rollup` for the whole days, `row_columns` of the per-batch rows for each end
    /// (`rows_where`: the table and a WHERE clause the firmware and time conditions extend).
    /// `$1` is the firmware; the bounds follow from `$2` on, in the order of
    /// [`DaySplit::bounds`].
    fn parts(&self, rollup: &str, rollup_columns: &str, rows_where: &str, row_columns: &str) -> Vec<String> {
        let mut parts = Vec::new();
        let mut next = 2;
        match self.whole_days {
            WholeDays::Every => {
                parts.push(format!("SELECT {rollup_columns} FROM {rollup} WHERE firmware = $1"))
            }
            WholeDays::Between(..) => {
                parts.push(format!(
                    "SELECT {rollup_columns} FROM {rollup} WHERE firmware = $1 AND day >= ${next} AND day < ${}",
                    next + 1
                ));
                next += 2;
            }
            WholeDays::None => {}
        }
        for _ in &self.ends {
            parts.push(format!(
                "SELECT {row_columns} FROM {rows_where} AND firmware = $1 AND last_ts_ns >= ${next} AND last_ts_ns < ${}",
                next + 1
            ));
            next += 2;
        }
        parts
    }

    /// Whether the window holds no time at all (then no statement runs).
    fn is_empty(&self) -> bool {
        self.whole_days == WholeDays::None && self.ends.is_empty()
    }

    /// The integer parameters of [`DaySplit::parts`], in order.
    fn bounds(&self) -> Vec<i64> {
        let mut bounds = Vec::new();
        if let WholeDays::Between(from, to) = self.whole_days {
            bounds.extend([from, to]);
        }
        for &(from, to) in &self.ends {
            bounds.extend([from, to]);
        }
        bounds
    }
}

/// The totals of the batches `split` selects: `$1` the firmware, then its bounds.
fn totals_sql(split: &DaySplit) -> String {
    let parts = split.parts(
        "firmware_days",
        "batches AS n, records AS r, error_events AS e",
        "batches WHERE status = 'completed'",
        "1 AS n, records AS r, error_events AS e",
    );
    format!(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT), CAST(COALESCE(SUM(r), 0) AS BIGINT), \
         CAST(COALESCE(SUM(e), 0) AS BIGINT) FROM ({}) parts",
        parts.join(" UNION ALL ")
    )
}

/// The top codes (events, batches) of the window `split` cuts: `$1` the firmware, then
/// its bounds, then `k`.
fn top_sql(split: &DaySplit, byte_order: &str) -> String {
    let parts = split.parts(
        "firmware_code_days",
        "code, events, batches",
        "completed_codes WHERE TRUE",
        "code, events, 1 AS batches",
    );
    let limit = 2 + split.bounds().len();
    format!(
        "SELECT code, CAST(SUM(events) AS BIGINT) AS total_events, CAST(SUM(batches) AS BIGINT) AS total_batches \
         FROM ({}) parts GROUP BY code ORDER BY total_events DESC, code{byte_order} LIMIT ${limit}",
        parts.join(" UNION ALL ")
    )
}

/// The top `$2` codes of the firmware `$1` over all time, distinct VINs included.
fn all_time_sql(byte_order: &str) -> String {
    format!(
        "SELECT code, events, batches, vins FROM firmware_codes WHERE firmware = $1 \
         ORDER BY events DESC, code{byte_order} LIMIT $2"
    )
}

/// The placeholders of `codes` codes, from `$2` on.
fn code_placeholders(codes: usize) -> String {
    (0..codes).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ")
}

/// Distinct VINs of each of `codes` in the firmware `$1` and the window: codes from `$2`,
/// the window's bounds after them. Postgres counts DISTINCT pairs (one hash of the
/// pairs; its COUNT(DISTINCT) sorts each code's rows, spilling to disk at 1 M batches),
/// SQLite uses COUNT(DISTINCT) over its index order (twice as fast there as the pairs).
fn vins_sql(backend: Backend, codes: usize) -> String {
    let filter = format!(
        "FROM completed_codes WHERE firmware = $1 AND code IN ({}) AND vin IS NOT NULL \
         AND last_ts_ns >= ${} AND last_ts_ns < ${}",
        code_placeholders(codes),
        codes + 2,
        codes + 3
    );
    match backend {
        Backend::Postgres => {
            format!("SELECT code, COUNT(*) FROM (SELECT DISTINCT code, vin {filter}) pairs GROUP BY code")
        }
        Backend::Sqlite => format!("SELECT code, COUNT(DISTINCT vin) {filter} GROUP BY code"),
    }
}

/// [`vins_sql`] (same parameters) for a window that ends after the firmware's latest
/// batch: there a VIN has a batch in the window exactly when its latest one
/// (`firmware_code_vins`, migration 0011) is not older than the window's start. One index
/// range per code, no distinct; the window's end holds for every row and only keeps the
/// parameters alike.
fn vins_seen_since_sql(codes: usize) -> String {
    format!(
        "SELECT code, COUNT(*) FROM firmware_code_vins WHERE firmware = $1 AND code IN ({}) \
         AND last_ts_ns >= ${} AND last_ts_ns < ${} GROUP BY code",
        code_placeholders(codes),
        codes + 2,
        codes + 3
    )
}

/// The latest record time of the firmware `$1`'s completed batches.
const FIRMWARE_LATEST_SQL: &str =
    "SELECT MAX(last_ts_ns) FROM batches WHERE status = 'completed' AND firmware = $1";

// The windowed statements run unprepared (`persistent(false)`): a prepared statement
// goes to a generic plan after five runs, and the generic plan of the distinct-VIN count
// reads the firmware's whole time range instead of one range per code (seen at 1 M
// batches: 345 ms instead of 51 ms). Planning each run costs well under a millisecond.

/// Binds the firmware, then `$ints`, to the query `$q`.
macro_rules! bind_split {
    ($q:expr, $firmware:expr, $ints:expr) => {{
        let mut q = $q.bind($firmware);
        for v in $ints {
            q = q.bind(v);
        }
        q
    }};
}

/// Binds the parameters of [`vins_sql`] and [`vins_seen_since_sql`] to the query `$q`: the
/// firmware, the codes (an iterator of `&str`), then the window's bounds.
macro_rules! bind_vins {
    ($q:expr, $firmware:expr, $codes:expr, $window:expr) => {{
        let (from, to): (i64, i64) = $window;
        bind_split!($q, $firmware, $codes).bind(from).bind(to)
    }};
}

impl Store {
    /// [`Store::fleet_top_errors`] for a query with a firmware and no VIN.
    pub(super) async fn fleet_by_firmware(
        &self,
        firmware: &str,
        window: Option<TimeWindow>,
        k: usize,
    ) -> Result<FleetReport, StoreError> {
        let limit = limit_of(k)?;
        let split = DaySplit::of(window)?;
        if split.is_empty() {
            return report(k, (0, 0, 0), Vec::new());
        }
        let totals_sql = totals_sql(&split);
        let Some(window) = window_bounds(window)? else {
            let all_time = all_time_sql(byte_order(self.backend()));
            let (totals, top): (Totals, Vec<CodeRow>) = with_pool!(self, pool => {
                let totals = sqlx::query_as(&totals_sql).bind(firmware).fetch_one(pool).await?;
                let top = sqlx::query_as(&all_time).bind(firmware).bind(limit).fetch_all(pool).await?;
                (totals, top)
            });
            return report(k, totals, top);
        };
        let top_sql = top_sql(&split, byte_order(self.backend()));
        let bounds = split.bounds();
        let (totals, top): (Totals, Vec<(String, i64, i64)>) = with_pool!(self, pool => {
            let totals = bind_split!(sqlx::query_as(&totals_sql).persistent(false), firmware, bounds.iter().copied())
                .fetch_one(pool)
                .await?;
            let top = bind_split!(sqlx::query_as(&top_sql).persistent(false), firmware, bounds.iter().copied())
                .bind(limit)
                .fetch_all(pool)
                .await?;
            (totals, top)
        });
        let vins = self.distinct_vins(firmware, &top, window).await?;
        let rows: Vec<CodeRow> = top
            .into_iter()
            .map(|(code, events, batches)| {
                let vins = vins.get(&code).copied().unwrap_or(0);
                (code, events, batches, vins)
            })
            .collect();
        report(k, totals, rows)
    }

    /// Distinct VINs per code of `top`, counted over the window.
    async fn distinct_vins(
        &self,
        firmware: &str,
        top: &[(String, i64, i64)],
        window: (i64, i64),
    ) -> Result<HashMap<String, i64>, StoreError> {
        if top.is_empty() {
            return Ok(HashMap::new());
        }
        let codes = top.iter().map(|(code, _, _)| code.as_str());
        let sql = self.vins_count_sql(firmware, top.len(), window).await?;
        let rows: Vec<(String, i64)> = with_pool!(self, pool => {
            bind_vins!(sqlx::query_as(&sql).persistent(false), firmware, codes.clone(), window)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// The statement that counts distinct VINs of `codes` codes over the window:
    /// [`vins_seen_since_sql`] when the window ends after the firmware's latest batch,
    /// [`vins_sql`] otherwise.
    async fn vins_count_sql(
        &self,
        firmware: &str,
        codes: usize,
        window: (i64, i64),
    ) -> Result<String, StoreError> {
        let open_ended = self.firmware_latest(firmware).await?.is_none_or(|latest| latest < window.1);
        Ok(if open_ended { vins_seen_since_sql(codes) } else { vins_sql(self.backend(), codes) })
    }

    /// The latest record time among the firmware's completed batches (`None` without one).
    async fn firmware_latest(&self, firmware: &str) -> Result<Option<i64>, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(FIRMWARE_LATEST_SQL).bind(firmware).fetch_one(pool).await?
        }))
    }

    /// The plans of the statements [`Store::fleet_by_firmware`] runs (totals, top codes,
    /// distinct VINs of the top codes), one line per plan node.
    pub(super) async fn explain_fleet_by_firmware(
        &self,
        firmware: &str,
        window: Option<TimeWindow>,
        k: usize,
    ) -> Result<Vec<String>, StoreError> {
        let split = DaySplit::of(window)?;
        if split.is_empty() {
            return Ok(vec!["(empty window: no statement)".to_owned()]);
        }
        let backend = self.backend();
        let limit = limit_of(k)?;
        let totals_sql = totals_sql(&split);
        let Some(window_ns) = window_bounds(window)? else {
            let all_time = all_time_sql(byte_order(backend));
            let mut lines =
                with_pool!(self, pool => explain!(backend, pool, &totals_sql, |q| q.bind(firmware)));
            lines.push("--".to_owned());
            lines.extend(with_pool!(self, pool => explain!(backend, pool, &all_time, |q| q.bind(firmware).bind(limit))));
            return Ok(lines);
        };
        let top_sql = top_sql(&split, byte_order(backend));
        let bounds = split.bounds();
        // The VIN count's plan for the codes the query reports (a stand-in code if none).
        let top = self.fleet_by_firmware(firmware, window, k).await?.top_errors;
        let codes: Vec<&str> =
            if top.is_empty() { vec![""] } else { top.iter().map(|e| e.code.as_str()).collect() };
        let vins = self.vins_count_sql(firmware, codes.len(), window_ns).await?;
        let mut lines = with_pool!(self, pool => explain!(backend, pool, &totals_sql,
            |q| bind_split!(q, firmware, bounds.iter().copied())));
        lines.push("--".to_owned());
        lines.extend(with_pool!(self, pool => explain!(backend, pool, &top_sql,
            |q| bind_split!(q, firmware, bounds.iter().copied()).bind(limit))));
        lines.push("--".to_owned());
        lines.extend(with_pool!(self, pool => explain!(backend, pool, &vins,
            |q| bind_vins!(q, firmware, codes.iter().copied(), window_ns))));
        Ok(lines)
    }
}

/// The window's bounds as the store's signed integers; `None` without a window.
fn window_bounds(window: Option<TimeWindow>) -> Result<Option<(i64, i64)>, StoreError> {
    window.map(|w| Ok((to_i64(w.from_ns, "from_ns")?, to_i64(w.to_ns, "to_ns")?))).transpose()
}

/// The statements that recompute the rollups from the rows they sum, which bulk loads
/// bypass ([`Store::rebuild_derived_tables`](super::Store::rebuild_derived_tables)).
pub(crate) fn rebuild_statements() -> [String; 8] {
    const DAY: &str = "COALESCE(last_ts_ns / 86400000000000, -1)";
    [
        "DELETE FROM firmware_days".to_owned(),
        "DELETE FROM firmware_code_days".to_owned(),
        "DELETE FROM firmware_codes".to_owned(),
        "DELETE FROM firmware_code_vins".to_owned(),
        format!(
            "INSERT INTO firmware_days (firmware, day, batches, records, error_events) \
                 SELECT firmware, {DAY}, COUNT(*), SUM(records), SUM(error_events) FROM batches \
                 WHERE status = 'completed' AND firmware IS NOT NULL GROUP BY 1, 2"
        ),
        format!(
            "INSERT INTO firmware_code_days (firmware, day, code, events, batches) \
                 SELECT firmware, {DAY}, code, SUM(events), COUNT(*) FROM completed_codes \
                 WHERE firmware IS NOT NULL GROUP BY 1, 2, 3"
        ),
        "INSERT INTO firmware_code_vins (firmware, code, vin, batches, last_ts_ns) \
             SELECT firmware, code, vin, COUNT(*), MAX(last_ts_ns) FROM completed_codes \
             WHERE firmware IS NOT NULL AND vin IS NOT NULL GROUP BY 1, 2, 3"
            .to_owned(),
        "INSERT INTO firmware_codes (firmware, code, events, batches, vins) \
             SELECT firmware, code, SUM(events), COUNT(*), COUNT(DISTINCT vin) FROM completed_codes \
             WHERE firmware IS NOT NULL GROUP BY 1, 2"
            .to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(from_ns: u64, to_ns: u64) -> DaySplit {
        DaySplit::of(Some(TimeWindow { from_ns, to_ns })).unwrap()
    }

    #[test]
    fn a_window_splits_into_whole_days_and_ragged_ends() {
        let d = DAY_NS as i64;
        assert_eq!(split(0, DAY_NS * 3), DaySplit { whole_days: WholeDays::Between(0, 3), ends: vec![] });
        assert_eq!(
            split(DAY_NS / 2, DAY_NS * 3 + 5),
            DaySplit { whole_days: WholeDays::Between(1, 3), ends: vec![(d / 2, d), (3 * d, 3 * d + 5)] }
        );
        assert_eq!(split(5, DAY_NS + 4), DaySplit { whole_days: WholeDays::None, ends: vec![(5, d + 4)] });
        assert_eq!(split(7, 7), DaySplit { whole_days: WholeDays::None, ends: vec![] });
        assert_eq!(DaySplit::of(None).unwrap().whole_days, WholeDays::Every);
    }

    #[test]
    fn each_part_numbers_its_own_bounds() {
        let s = split(DAY_NS / 2, DAY_NS * 3 + 5);
        let parts = s.parts("r", "a", "t WHERE TRUE", "b");
        assert_eq!(parts.len(), 3);
        assert!(parts[0].ends_with("day >= $2 AND day < $3"), "{}", parts[0]);
        assert!(parts[1].ends_with("last_ts_ns >= $4 AND last_ts_ns < $5"), "{}", parts[1]);
        assert!(parts[2].ends_with("last_ts_ns >= $6 AND last_ts_ns < $7"), "{}", parts[2]);
        assert_eq!(s.bounds().len(), 6);
        for backend in [Backend::Postgres, Backend::Sqlite] {
            assert_eq!(vins_sql(backend, 2).matches('$').count(), 5);
        }
    }
}
