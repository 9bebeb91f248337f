//! Per-file statistics as a report's `files[]` entry and `argus inspect --json` name them.

use serde::{Deserialize, Serialize};

use crate::header::Rejection;
use crate::scan::{FileScan, RangeScan};
use crate::walk::Layout;

/// A file's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Header valid, every chunk good, nothing skipped.
    Ok,
    /// Header valid, but some chunk corrupt, bytes skipped, or the file truncated.
    Partial,
    /// Header invalid: no record was read.
    Rejected,
}

/// The spec's per-file statistics (field names and order as in a report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStats {
    pub bytes: u64,
    pub status: FileStatus,
    pub error: Option<String>,
    pub records: u64,
    pub error_events: u64,
    pub chunks_good: u64,
    pub chunks_corrupt: u64,
    pub bytes_skipped: u64,
    pub truncated: bool,
}

impl FileStats {
    /// Statistics of a file that was rejected, or could not be read at all.
    pub fn rejected(bytes: u64, error: String) -> Self {
        Self {
            bytes,
            status: FileStatus::Rejected,
            error: Some(error),
            records: 0,
            error_events: 0,
            chunks_good: 0,
            chunks_corrupt: 0,
            bytes_skipped: 0,
            truncated: false,
        }
    }

    /// Statistics of a file with a valid header, from its layout and parsed content.
    pub fn accepted(bytes: u64, layout: &Layout, content: &RangeScan) -> Self {
        debug_assert_eq!(layout.chunks, content.chunks_good + content.chunks_corrupt);
        let damaged = content.chunks_corrupt > 0 || layout.bytes_skipped > 0 || layout.truncated;
        Self {
            bytes,
            status: if damaged { FileStatus::Partial } else { FileStatus::Ok },
            error: None,
            records: content.records,
            error_events: content.error_events,
            chunks_good: content.chunks_good,
            chunks_corrupt: content.chunks_corrupt,
            bytes_skipped: layout.bytes_skipped,
            truncated: layout.truncated,
        }
    }

    /// Statistics from a sequential scan.
    pub fn of_scan(scan: &FileScan) -> Self {
        match scan.rejection {
            Some(r) => Self::rejected(scan.bytes, Rejection::to_string(&r)),
            None => Self::accepted(scan.bytes, &scan.layout, &scan.content),
        }
    }
}
