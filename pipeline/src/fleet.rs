//! The fleet's Top-K, kept incrementally by differential dataflow.
//!
//! Each completed batch contributes *facts* with weights (its record count, each code's
//! count, one per code, one per (VIN, code)). Differential sums them over all batches so
//! far; a new batch costs work proportional to its own codes, not to the fleet's history.
//! The windowed view also retracts each batch (negative weights) once its session leaves
//! the window. Top-K is hierarchical (256 hash buckets, then 16, then 1, as Materialize
//! renders TopK), so no single reduce ever re-sorts the whole code space.
//!
//! Facts are keyed by packed codes ([`ErrorCode`], a `u64` whose order is its spelling's)
//! and fixed-size VINs, not by `String`s: the arrangements behind every operator seek and
//! merge these keys on each update, and integers compare and copy without allocating.
//! Codes are spelled only when the fleet report is written.

use std::cmp::Reverse;
use std::time::Duration;

use argus_parser::ErrorCode;
use differential_dataflow::operators::{CountTotal, ThresholdTotal};
use differential_dataflow::{AsCollection, ExchangeData, VecCollection};
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::StreamVec;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Concat;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;

use crate::items::{Time, route};
use crate::report::{BatchStatus, FinishedBatch};

/// A fleet-wide total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Total {
    Batches,
    Records,
    ErrorEvents,
}

/// One weighted fact a completed batch contributes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Fact {
    /// Weight: the total's amount.
    Total(Total),
    /// Weight: the code's count in the batch.
    CodeCount(ErrorCode),
    /// Weight 1: the code occurred in the batch.
    CodeBatch(ErrorCode),
    /// Weight 1: the code occurred in a batch of this VIN. Keyed VIN first: a batch has
    /// one VIN, so its facts sit side by side in the arrangement of all (VIN, code) pairs
    /// and each seek from one to the next is short, however many pairs the fleet holds.
    VinCode(VinKey, ErrorCode),
}

/// A VIN as a key: inline bytes for the 17 ASCII characters of every well-formed VIN, the
/// text otherwise (a header's non-ASCII bytes are spelled as U+FFFD). The variants never
/// overlap, so equal keys mean equal VINs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum VinKey {
    Ascii([u8; 17]),
    Other(String),
}

impl VinKey {
    pub fn new(vin: &str) -> Self {
        match <[u8; 17]>::try_from(vin.as_bytes()) {
            Ok(bytes) if vin.is_ascii() => Self::Ascii(bytes),
            _ => Self::Other(vin.to_owned()),
        }
    }
}

/// A code's fleet-wide rank; the derived order is the report's (count descending, then
/// code ascending: [`ErrorCode`] orders like its spelling), so the first `k` values of a
/// group are its Top-K.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Rank {
    pub count: Reverse<u64>,
    pub code: ErrorCode,
    pub batches: u64,
    pub vins: u64,
}

/// What the fleet counts of one completed batch: taken from a finished batch as it is
/// written, or read back from the store when a restart re-seeds the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetEntry {
    pub vin: Option<String>,
    pub records: u64,
    pub error_events: u64,
    pub first_ts_ns: Option<u64>,
    pub last_ts_ns: Option<u64>,
    pub code_counts: Vec<(ErrorCode, u64)>,
}

impl FleetEntry {
    /// The entry of a finished batch; none for a failed one (the fleet counts completed
    /// batches).
    pub fn of(batch: &FinishedBatch) -> Option<Self> {
        let report = &batch.report;
        (report.status == BatchStatus::Completed).then(|| Self {
            vin: report.vin.clone(),
            records: report.records,
            error_events: report.error_events,
            first_ts_ns: report.first_ts_ns,
            last_ts_ns: report.last_ts_ns,
            code_counts: batch.code_counts.clone(),
        })
    }

    /// When the batch leaves a window: its last session time (ms) plus the window.
    fn retire_time(&self, window: Duration) -> Time {
        let last_ms = self.last_ts_ns.or(self.first_ts_ns).unwrap_or(0) / 1_000_000;
        last_ms.saturating_add(window.as_millis() as Time)
    }
}

/// The facts of one completed batch.
pub fn facts(entry: &FleetEntry) -> Vec<(Fact, isize)> {
    let weight = |n: u64| isize::try_from(n).unwrap_or(isize::MAX);
    let mut facts = vec![
        (Fact::Total(Total::Batches), 1),
        (Fact::Total(Total::Records), weight(entry.records)),
        (Fact::Total(Total::ErrorEvents), weight(entry.error_events)),
    ];
    let vin = entry.vin.as_deref().map(VinKey::new);
    for &(code, count) in &entry.code_counts {
        facts.push((Fact::CodeCount(code), weight(count)));
        facts.push((Fact::CodeBatch(code), 1));
        // A VIN counts once it is known (a completed batch always has one).
        if let Some(vin) = &vin {
            facts.push((Fact::VinCode(vin.clone(), code), 1));
        }
    }
    facts.retain(|(_, w)| *w != 0);
    facts
}

/// Turns completed batches into a collection of facts. With a window, each batch's facts
/// are retracted at `last_ts + window` (session time, in ms), or at once if that is
/// already past when the batch completes.
pub fn fact_collection<'s>(
    entries: StreamVec<'s, Time, (Time, FleetEntry)>,
    window: Option<Duration>,
) -> VecCollection<'s, Time, Fact> {
    entries
        .unary::<CapacityContainerBuilder<Vec<(Fact, Time, isize)>>, _, _, _>(
            Pipeline,
            "Facts",
            move |_, _| {
                move |input, output| {
                    input.for_each_stamp(|cap, data| {
                        for (time, entry) in data.flat_map(|d| d.drain(..)) {
                            let at = cap.delayed(&time, 0);
                            let mut session = output.session(&at);
                            let retire = window.map(|w| entry.retire_time(w).max(time));
                            for (fact, weight) in facts(&entry) {
                                if let Some(retire) = retire {
                                    session.give((fact.clone(), retire, -weight));
                                }
                                session.give((fact, time, weight));
                            }
                        }
                    });
                }
            },
        )
        .as_collection()
}

/// A code's fleet-wide tally as one differential weight: its events, the batches it
/// occurred in, and the VINs it occurred for. Summing all three in one `count_total`
/// costs one arrangement and one reduce per update instead of three counts and two joins.
type CodeTally = (isize, isize, isize);

/// The fleet's totals and its Top-K codes, both as collections that change over time.
pub fn fleet_view<'s>(
    facts: VecCollection<'s, Time, Fact>,
    k: usize,
) -> (VecCollection<'s, Time, (Total, isize)>, VecCollection<'s, Time, Rank>) {
    let totals =
        facts.clone().flat_map(|f| if let Fact::Total(t) = f { Some(t) } else { None }).count_total();
    let vins = facts
        .clone()
        .flat_map(|f| if let Fact::VinCode(v, c) = f { Some((v, c)) } else { None })
        .distinct_total()
        .inner
        .map(|((_vin, code), t, r)| (code, t, (0, 0, r)));
    let tallies: VecCollection<'s, Time, ErrorCode, CodeTally> = facts
        .inner
        .flat_map(|(fact, t, r)| match fact {
            Fact::CodeCount(code) => Some((code, t, (r, 0, 0))),
            Fact::CodeBatch(code) => Some((code, t, (0, r, 0))),
            Fact::Total(_) | Fact::VinCode(..) => None,
        })
        .concat(vins)
        .as_collection();
    let ranks = tallies.count_total().map(|(code, (count, batches, vins))| Rank {
        count: Reverse(count.max(0) as u64),
        code,
        batches: batches.max(0) as u64,
        vins: vins.max(0) as u64,
    });
    (totals, top_k(ranks, k))
}

/// Hierarchical Top-K: the best `k` of each of 256 hash buckets, then of 16, then of all.
fn top_k<'s>(ranks: VecCollection<'s, Time, Rank>, k: usize) -> VecCollection<'s, Time, Rank> {
    let by_256 = ranks.map(|r| (route(&r.code) % 256, r));
    let top_256 = keep_top(by_256, k, "FleetTopK/256");
    let top_16 = keep_top(top_256.map(|(bucket, r)| (bucket % 16, r)), k, "FleetTopK/16");
    keep_top(top_16.map(|(_, r)| ((), r)), k, "FleetTopK/1").map(|((), r)| r)
}

/// The first `k` values of each key (values arrive sorted by their order).
fn keep_top<'s, K: ExchangeData + std::hash::Hash>(
    groups: VecCollection<'s, Time, (K, Rank)>,
    k: usize,
    name: &str,
) -> VecCollection<'s, Time, (K, Rank)> {
    groups.reduce_named(name, move |_key, input, output| {
        for (rank, weight) in input.iter().filter(|(_, w)| *w > 0).take(k) {
            debug_assert_eq!(*weight, 1, "a code ranks once");
            output.push(((*rank).clone(), 1isize));
        }
    })
}
