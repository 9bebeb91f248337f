//! Finished batches for tests: the conformance vectors (parsed with the real parser and
//! assembled with the pipeline's own function), and small synthetic batches.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use argus_parser::{ErrorCode, FileStats, FileStatus, RecFile, scan_file};
use argus_pipeline::report::{
    BatchMeta, BatchReport, BatchStatus, FileEntry, FileOutcome, FileOutline, FinishedBatch, TopError,
    assemble_batch, rank,
};

/// `spec/vectors` of the shared directory beside the repository (`ARGUS_VECTORS` overrides).
pub fn vectors_dir() -> PathBuf {
    std::env::var_os("ARGUS_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec/vectors"))
}

/// Every batch of the vectors, as replay would build it, with k = 10. The batches are
/// those of `expected/batches`; one without a data directory is an empty batch (git does
/// not keep empty directories).
pub fn vector_batches() -> Vec<FinishedBatch> {
    let dir = vectors_dir();
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("expected/batches"))
        .unwrap_or_else(|e| panic!("vectors not found at {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().trim_end_matches(".json").to_owned())
        .collect();
    ids.sort();
    ids.iter().map(|id| assemble_batch(id, 10, outcomes(&dir.join("data").join(id)))).collect()
}

/// The expected report of a vector batch.
pub fn expected_report(id: &str) -> serde_json::Value {
    let path = vectors_dir().join("expected/batches").join(format!("{id}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("expected report")).expect("expected json")
}

pub fn expected_fleet() -> serde_json::Value {
    let path = vectors_dir().join("expected/fleet.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("expected fleet")).expect("fleet json")
}

/// One outcome per `*.rec` file directly in `dir` (none when `dir` does not exist).
fn outcomes(dir: &Path) -> Vec<FileOutcome> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "rec"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let file_id = path.file_name().expect("file name").to_string_lossy().into_owned();
            let location = path.display().to_string();
            match RecFile::open(&path) {
                Ok(file) => {
                    let scan = scan_file(file.bytes());
                    let outline = FileOutline {
                        file_id,
                        location,
                        bytes: scan.bytes,
                        rejection: scan.rejection.map(|r| r.to_string()),
                        vin: scan.vin,
                        firmware: scan.firmware,
                        layout: scan.layout,
                    };
                    FileOutcome { outline, content: scan.content }
                }
                Err(e) => {
                    let outline = FileOutline {
                        file_id,
                        location,
                        rejection: Some(e.to_string()),
                        ..Default::default()
                    };
                    FileOutcome { outline, ..Default::default() }
                }
            }
        })
        .collect()
}

/// A completed one-file batch with the given code counts (ECU 07E0, timestamps from 1 s).
pub fn synthetic(id: &str, vin: &str, codes: &[(&str, u64)]) -> FinishedBatch {
    synthetic_over(id, vin, codes, 1_000_000_000)
}

/// [`synthetic`], each code logged from 1 s to 1 s + `span_ns`.
pub fn synthetic_over(id: &str, vin: &str, codes: &[(&str, u64)], span_ns: u64) -> FinishedBatch {
    let events: u64 = codes.iter().map(|(_, n)| n).sum();
    let records = events * 3 + 10;
    let mut code_counts: Vec<(ErrorCode, u64)> =
        codes.iter().map(|(c, n)| (c.parse().expect("a spelled code"), *n)).collect();
    code_counts.sort();
    let top = codes
        .iter()
        .map(|(code, count)| TopError {
            code: (*code).to_owned(),
            count: *count,
            ecus: vec!["07E0".to_owned()],
            first_ts_ns: 1_000_000_000,
            last_ts_ns: 1_000_000_000 + span_ns,
        })
        .collect();
    let stats = FileStats {
        bytes: 4096,
        status: FileStatus::Ok,
        error: None,
        records,
        error_events: events,
        chunks_good: 2,
        chunks_corrupt: 0,
        bytes_skipped: 0,
        truncated: false,
    };
    let file = FileEntry::new("seg-00.rec".into(), stats);
    FinishedBatch {
        report: BatchReport {
            batch_id: id.to_owned(),
            vin: Some(vin.to_owned()),
            status: BatchStatus::Completed,
            k: 10,
            records,
            error_events: events,
            first_ts_ns: Some(1_000_000_000),
            last_ts_ns: Some(2_000_000_000 + span_ns),
            files: vec![file],
            top_errors: rank(top, 10),
        },
        meta: BatchMeta {
            firmware: Some("fw-1.0".into()),
            locations: BTreeMap::from([("seg-00.rec".to_owned(), format!("batches/{id}/seg-00.rec"))]),
            failure: None,
            first_event_ms: None,
        },
        code_counts,
    }
}
