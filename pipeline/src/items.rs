//! The data that flows between operators (and between processes: every type here is
//! serde-encoded by timely's exchange channels, so no `flatten` or untagged enums).

use argus_parser::{ChunkRange, CodeAtEcu, CodeCount, Layout, RangeScan};
use serde::{Deserialize, Serialize};

use crate::report::FileOutline;

/// Dataflow time: ingest-time milliseconds since the Unix epoch.
pub type Time = u64;

/// A file of a batch is ready to be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileReady {
    pub batch_id: String,
    pub file_id: String,
    /// Where the file is: a path, or a location the [`crate::FileResolver`] understands.
    pub location: String,
    /// How many distinct files the batch has.
    pub file_count: u32,
    /// The file's size in bytes, when the feed knows it (a directory or object-store
    /// listing does, and the spec's Kafka event carries `size`). The source bounds the bytes of the
    /// batches in flight with it; an unknown size counts as nothing.
    pub size: Option<u64>,
    /// Where the feed read this event, for feeds that acknowledge their input (Kafka): the
    /// source derives commit points from it. `None` for listings that need no commits.
    pub position: Option<Position>,
}

/// A position in a partitioned log (a Kafka partition and offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub partition: i32,
    pub offset: i64,
}

/// What the source emits; `time` is the batch's time (items carry it so that operators
/// never have to infer it from a message's stamp).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceItem {
    /// A batch entered; `file_count` files follow (fewer when it timed out).
    Open {
        time: Time,
        batch_id: String,
        file_count: u32,
        /// When the source saw the batch's first event (ingest clock, ms).
        first_event_ms: Time,
    },
    File {
        time: Time,
        file: FileReady,
    },
}

/// One range of chunks of one file, for one worker to parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeTask {
    pub time: Time,
    /// Position among the file's ranges: consecutive ranges go to different workers.
    pub seq: u64,
    pub batch_id: String,
    pub file_id: String,
    pub location: String,
    pub range: ChunkRange,
    /// The split did not walk this file (it is small): the range runs from the first chunk
    /// to the file's end, its `chunks` is unknown (0), and the parse reports the file's
    /// layout as it finds it.
    pub whole_file: bool,
}

/// What the split learned of a file (its outline), with what the gather needs to place it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHead {
    pub time: Time,
    pub batch_id: String,
    /// Files in its batch (as the batch's events declare).
    pub file_count: u32,
    /// How many ranges the split handed out for this file: the gather knows the file is
    /// parsed once that many have arrived.
    pub ranges: u64,
    /// The layout of a file parsed as one whole-file range is left empty here: its parse
    /// finds it.
    pub outline: FileOutline,
}

impl FileHead {
    /// The task of parsing `range` of this file, the `seq`-th of its ranges.
    pub fn range_task(&self, seq: u64, range: ChunkRange, whole_file: bool) -> RangeTask {
        RangeTask {
            time: self.time,
            seq,
            batch_id: self.batch_id.clone(),
            file_id: self.outline.file_id.clone(),
            location: self.outline.location.clone(),
            range,
            whole_file,
        }
    }
}

/// A [`RangeScan`] in a form that crosses process boundaries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPart {
    pub chunks_good: u64,
    pub chunks_corrupt: u64,
    pub records: u64,
    pub error_events: u64,
    pub ts_range: Option<(u64, u64)>,
    /// (packed [`CodeAtEcu`], count), sorted by key.
    pub codes: Vec<(u64, CodeCount)>,
    /// The layout the parse found in a whole-file range ([`RangeTask::whole_file`]); for
    /// the ranges of a walked file, the file's head has it.
    pub layout: Option<Layout>,
}

impl From<&RangeScan> for ScanPart {
    fn from(scan: &RangeScan) -> Self {
        Self {
            chunks_good: scan.chunks_good,
            chunks_corrupt: scan.chunks_corrupt,
            records: scan.records,
            error_events: scan.error_events,
            ts_range: scan.ts_range,
            codes: scan.codes.to_sorted_vec().into_iter().map(|(k, c)| (k.bits(), c)).collect(),
            layout: None,
        }
    }
}

impl ScanPart {
    /// Adds this part to a scan being gathered.
    pub fn add_to(&self, scan: &mut RangeScan) {
        scan.chunks_good += self.chunks_good;
        scan.chunks_corrupt += self.chunks_corrupt;
        scan.records += self.records;
        scan.error_events += self.error_events;
        scan.ts_range = argus_parser::merge_ts(scan.ts_range, self.ts_range);
        for (bits, count) in &self.codes {
            // Bits come from CodeAtEcu::bits on the parsing worker; a bad value would be a bug.
            if let Some(code) = CodeAtEcu::from_bits(*bits) {
                scan.codes.add_count(code, *count);
            } else {
                debug_assert!(false, "invalid packed code {bits:#x}");
            }
        }
    }
}

/// Everything the gather operator receives, routed by batch id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GatherPart {
    Open { time: Time, batch_id: String, file_count: u32, first_event_ms: Time },
    Head(FileHead),
    Range { time: Time, batch_id: String, file_id: String, part: ScanPart },
}

impl GatherPart {
    pub fn batch_id(&self) -> &str {
        match self {
            GatherPart::Open { batch_id, .. } | GatherPart::Range { batch_id, .. } => batch_id,
            GatherPart::Head(head) => &head.batch_id,
        }
    }

    pub fn time(&self) -> Time {
        match self {
            GatherPart::Open { time, .. } | GatherPart::Range { time, .. } => *time,
            GatherPart::Head(head) => head.time,
        }
    }
}

/// A stable hash for routing (the same in every process and run).
pub fn route<H: std::hash::Hash + ?Sized>(value: &H) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    // DefaultHasher::default() has fixed keys (unlike RandomState), so every process agrees.
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(value);
    // The exchange uses the low bits; mix them.
    hash ^ (hash >> 29)
}
