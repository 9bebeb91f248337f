//! The batch and fleet reports of `reports-events-api.md`, and how a batch's report is
//! assembled from its files. Pure functions: the dataflow calls them once a batch is
//! complete, and tests call them directly.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use argus_parser::{CodeTally, ErrorCode, FileStats, Layout, RangeScan, merge_ts};
use serde::{Deserialize, Serialize};

/// Default number of entries in `top_errors`.
pub const DEFAULT_K: usize = 10;

/// A batch's final status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchStatus {
    Completed,
    Failed,
}

/// One batch report (`OUT/batches/<batch_id>.json`), fields in the spec's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchReport {
    pub batch_id: String,
    pub vin: Option<String>,
    pub status: BatchStatus,
    pub k: usize,
    pub records: u64,
    pub error_events: u64,
    pub first_ts_ns: Option<u64>,
    pub last_ts_ns: Option<u64>,
    pub files: Vec<FileEntry>,
    pub top_errors: Vec<TopError>,
}

/// A report's `files[]` entry: the parser's [`FileStats`] under the file's id (flattened:
/// `file_id` first, then the statistics' fields in their order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub file_id: String,
    #[serde(flatten)]
    pub stats: FileStats,
}

impl FileEntry {
    pub fn new(file_id: String, stats: FileStats) -> Self {
        Self { file_id, stats }
    }
}

/// A batch report's `top_errors[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopError {
    pub code: String,
    pub count: u64,
    /// ECU addresses (four uppercase hex digits) that raised the code, sorted.
    pub ecus: Vec<String>,
    pub first_ts_ns: u64,
    pub last_ts_ns: u64,
}

/// The fleet report (`OUT/fleet.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetReport {
    pub k: usize,
    pub batches: u64,
    pub records: u64,
    pub error_events: u64,
    pub top_errors: Vec<FleetTopError>,
}

/// A fleet report's `top_errors[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetTopError {
    pub code: String,
    pub count: u64,
    /// Distinct batches in which the code occurred.
    pub batches: u64,
    /// Distinct VINs in which the code occurred.
    pub vins: u64,
}

/// What is known of a batch besides its report: used by stores, not written to JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMeta {
    /// The most common firmware of the batch's readable files (ties: smallest).
    pub firmware: Option<String>,
    /// Where each file was read from, by file id.
    pub locations: BTreeMap<String, String>,
    /// Why the batch failed, when it did (no readable file, timed out, …).
    pub failure: Option<String>,
    /// When the source saw the batch's first event (ingest clock, ms): the start of its
    /// end-to-end latency.
    #[serde(default)]
    pub first_event_ms: Option<u64>,
}

/// A finished batch as handed to report writers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedBatch {
    pub report: BatchReport,
    pub meta: BatchMeta,
    /// Every error code of the batch with its count (not only the top `k`), sorted by
    /// code (the order of the spelled keys): what the fleet aggregates and what
    /// similar-batch searches compare.
    pub code_counts: Vec<(ErrorCode, u64)>,
}

/// A file as its header and chunk walk describe it, before its records are counted: what
/// the split learns of a file (and sends on in its [`crate::items::FileHead`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOutline {
    pub file_id: String,
    pub location: String,
    pub bytes: u64,
    /// Why the file was rejected (header invalid, or unreadable); `None` if accepted.
    pub rejection: Option<String>,
    pub vin: Option<String>,
    pub firmware: Option<String>,
    pub layout: Layout,
}

/// Everything the dataflow learned about one file of a batch: its outline and what its
/// records hold.
#[derive(Debug, Clone, Default)]
pub struct FileOutcome {
    pub outline: FileOutline,
    pub content: RangeScan,
}

impl FileOutcome {
    pub fn stats(&self) -> FileStats {
        let outline = &self.outline;
        match &outline.rejection {
            Some(reason) => FileStats::rejected(outline.bytes, reason.clone()),
            None => FileStats::accepted(outline.bytes, &outline.layout, &self.content),
        }
    }
}

/// Assembles a batch's report from its files (in any order).
pub fn assemble_batch(batch_id: &str, k: usize, mut files: Vec<FileOutcome>) -> FinishedBatch {
    files.sort_by(|a, b| a.outline.file_id.cmp(&b.outline.file_id));
    let readable: Vec<&FileOutcome> = files.iter().filter(|f| f.outline.rejection.is_none()).collect();
    let mut content = RangeScan::default();
    for file in &readable {
        content.records += file.content.records;
        content.error_events += file.content.error_events;
        content.ts_range = merge_ts(content.ts_range, file.content.ts_range);
        content.codes.merge(&file.content.codes);
    }
    let status = if readable.is_empty() { BatchStatus::Failed } else { BatchStatus::Completed };
    let report = BatchReport {
        batch_id: batch_id.to_owned(),
        vin: most_common(readable.iter().filter_map(|f| f.outline.vin.as_deref())),
        status,
        k,
        records: content.records,
        error_events: content.error_events,
        first_ts_ns: content.ts_range.map(|r| r.0),
        last_ts_ns: content.ts_range.map(|r| r.1),
        files: files.iter().map(|f| FileEntry::new(f.outline.file_id.clone(), f.stats())).collect(),
        top_errors: Vec::new(),
    };
    let totals = code_totals(&content.codes);
    let mut code_counts: Vec<(ErrorCode, u64)> = totals.iter().map(|(c, e)| (*c, e.count)).collect();
    code_counts.sort_unstable();
    let report = BatchReport { top_errors: rank(totals.into_values().collect(), k), ..report };
    let meta = BatchMeta {
        firmware: most_common(readable.iter().filter_map(|f| f.outline.firmware.as_deref())),
        locations: files.iter().map(|f| (f.outline.file_id.clone(), f.outline.location.clone())).collect(),
        failure: readable.is_empty().then(|| {
            if files.is_empty() { "batch has no files".to_owned() } else { "no file was readable".to_owned() }
        }),
        first_event_ms: None,
    };
    FinishedBatch { report, meta, code_counts }
}

/// The most frequent value; ties go to the smallest (byte order).
pub fn most_common<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    // max_by_key keeps the last maximum; iterate in reverse so that it is the smallest.
    counts.into_iter().rev().max_by_key(|(_, n)| *n).map(|(v, _)| v.to_owned())
}

/// Per-code totals of a tally.
pub fn code_totals(codes: &CodeTally) -> HashMap<ErrorCode, TopError> {
    let mut by_code: HashMap<ErrorCode, (u64, BTreeSet<u16>, u64, u64)> = HashMap::new();
    for (at, count) in codes.iter() {
        let e = by_code.entry(at.code()).or_insert((0, BTreeSet::new(), u64::MAX, 0));
        e.0 += count.count;
        e.1.insert(at.ecu());
        e.2 = e.2.min(count.first_ts_ns);
        e.3 = e.3.max(count.last_ts_ns);
    }
    by_code
        .into_iter()
        .map(|(code, (count, ecus, first, last))| {
            let entry = TopError {
                code: code.key(),
                count,
                ecus: ecus.into_iter().map(argus_parser::ecu_hex).collect(),
                first_ts_ns: first,
                last_ts_ns: last,
            };
            (code, entry)
        })
        .collect()
}

/// The `k` most frequent codes: count descending, then code ascending (byte order).
pub fn rank(all: Vec<TopError>, k: usize) -> Vec<TopError> {
    top_k(all, k, |e| (e.count, &e.code))
}

/// The `k` first of `all` in the order of every Top-K of the spec (a batch's and the
/// fleet's): count descending, then code ascending (byte order).
fn top_k<T>(mut all: Vec<T>, k: usize, key: impl Fn(&T) -> (u64, &str)) -> Vec<T> {
    all.sort_by(|a, b| {
        let ((a_count, a_code), (b_count, b_code)) = (key(a), key(b));
        b_count.cmp(&a_count).then_with(|| a_code.cmp(b_code))
    });
    all.truncate(k);
    all
}

impl FleetReport {
    /// The fleet report over `batches`, computed directly: the reference the incremental
    /// dataflow is tested against.
    pub fn from_batches<'a>(batches: impl IntoIterator<Item = &'a FinishedBatch>, k: usize) -> Self {
        let mut report = FleetReport { k, batches: 0, records: 0, error_events: 0, top_errors: Vec::new() };
        let mut per_code: BTreeMap<ErrorCode, (u64, u64, BTreeSet<&str>)> = BTreeMap::new();
        for batch in batches.into_iter().filter(|b| b.report.status == BatchStatus::Completed) {
            report.batches += 1;
            report.records += batch.report.records;
            report.error_events += batch.report.error_events;
            for (code, count) in &batch.code_counts {
                let e = per_code.entry(*code).or_default();
                e.0 += count;
                e.1 += 1;
                e.2.extend(batch.report.vin.as_deref());
            }
        }
        let all: Vec<FleetTopError> = per_code
            .into_iter()
            .map(|(code, (count, batches, vins))| FleetTopError {
                code: code.key(),
                count,
                batches,
                vins: vins.len() as u64,
            })
            .collect();
        report.top_errors = top_k(all, k, |e| (e.count, &e.code));
        report
    }
}
