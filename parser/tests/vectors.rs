//! Per-file statistics of every conformance vector equal the `files[]` entries of the
//! expected reports made by an independent implementation.

use std::path::PathBuf;

use argus_parser::{FileHeader, FileStats, FileStatus, RangeScan, RecFile, Scanner, scan_file, split};

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec/vectors")
}

/// (batch dir, file id, expected entry) for every file named by an expected report.
fn expected_files() -> Vec<(String, String, serde_json::Value)> {
    let dir = vectors().join("expected/batches");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("vectors present beside the repository") {
        let path = entry.unwrap().path();
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let batch = report["batch_id"].as_str().unwrap().to_owned();
        for file in report["files"].as_array().unwrap() {
            out.push((batch.clone(), file["file_id"].as_str().unwrap().to_owned(), file.clone()));
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

#[test]
fn every_vector_file_matches_its_expected_statistics() {
    let files = expected_files();
    assert!(files.len() >= 20, "expected the vectors' files, found {}", files.len());
    for (batch, file_id, expected) in files {
        let path = vectors().join("data").join(&batch).join(&file_id);
        let rec = RecFile::open(&path).unwrap();
        let stats = FileStats::of_scan(&scan_file(rec.bytes()));
        let mut got = serde_json::to_value(&stats).unwrap();
        got["file_id"] = expected["file_id"].clone();
        // Error texts may differ; a rejected file must have one, any other file none.
        assert_eq!(stats.error.is_some(), stats.status == FileStatus::Rejected);
        assert_eq!(expected["error"].is_null(), stats.error.is_none(), "{batch}/{file_id}");
        got["error"] = expected["error"].clone();
        assert_eq!(got, expected, "{batch}/{file_id}");
    }
}

#[test]
fn every_vector_file_splits_into_the_sequential_result() {
    for (batch, file_id, _) in expected_files() {
        let rec = RecFile::open(&vectors().join("data").join(&batch).join(&file_id)).unwrap();
        let bytes = rec.bytes();
        let Ok(header) = FileHeader::parse(bytes) else { continue };
        let whole = scan_file(bytes);
        for target in [1, 4096, 65536] {
            let (layout, ranges) = split(bytes, header.header_len, target);
            let mut parts = RangeScan::default();
            for range in ranges.iter().rev() {
                Scanner::new().scan_range(bytes, *range, &mut parts);
            }
            assert_eq!(layout, whole.layout, "{batch}/{file_id}");
            assert_eq!(parts, whole.content, "{batch}/{file_id} split at {target}");
        }
    }
}
