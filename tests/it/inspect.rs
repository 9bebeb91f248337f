//! End-to-end tests of `argus inspect`: the conformance vectors, unreadable files, text.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::util::{argus, run_ok, vectors};

/// The report fields every `--json` line shares with a `files[]` entry.
const FIELDS: [&str; 9] = [
    "bytes",
    "status",
    "error",
    "records",
    "error_events",
    "chunks_good",
    "chunks_corrupt",
    "bytes_skipped",
    "truncated",
];

#[test]
fn json_lines_match_the_vectors_files_entries() {
    let mut expected: BTreeMap<PathBuf, Value> = BTreeMap::new();
    for entry in std::fs::read_dir(vectors().join("expected/batches")).unwrap() {
        let report: Value = serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        let batch = report["batch_id"].as_str().unwrap();
        for file in report["files"].as_array().unwrap() {
            let path = vectors().join("data").join(batch).join(file["file_id"].as_str().unwrap());
            expected.insert(path, file.clone());
        }
    }
    assert!(expected.len() > 10, "the vectors are there");
    let output = run_ok(argus().arg("inspect").arg("--json").args(expected.keys()));
    let lines: Vec<Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), expected.len());
    let mut vins: BTreeMap<PathBuf, Vec<Value>> = BTreeMap::new();
    for (line, (path, want)) in lines.iter().zip(&expected) {
        assert_eq!(line["file"], path.display().to_string());
        for field in FIELDS.iter().filter(|f| **f != "error") {
            assert_eq!(line[field], want[field], "{field} of {}", path.display());
        }
        // Error texts may differ; a rejected file must have one, and only a rejected file.
        assert_eq!(line["error"].is_null(), want["status"] != "rejected", "error of {}", path.display());
        if line["status"] != "rejected" {
            vins.entry(path.parent().unwrap().to_owned()).or_default().push(line["vin"].clone());
        }
    }
    // A batch's VIN is the most common of its files' VINs, so it is one of them.
    for (batch, found) in vins {
        assert!(found.contains(&want_vin(&batch)), "vins of {}: {found:?}", batch.display());
    }
}

/// The VIN of a vector batch's report.
fn want_vin(batch: &std::path::Path) -> Value {
    let batch = batch.file_name().unwrap().to_string_lossy().into_owned();
    let report: Value = serde_json::from_slice(
        &std::fs::read(vectors().join(format!("expected/batches/{batch}.json"))).unwrap(),
    )
    .unwrap();
    report["vin"].clone()
}

#[test]
fn unreadable_files_are_reported_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.rec");
    std::fs::write(&good, argus_parser::testing::sample_file()).unwrap();
    let missing = dir.path().join("missing.rec");
    let output =
        argus().arg("inspect").arg("--json").arg(&missing).arg(dir.path()).arg(&good).output().unwrap();
    assert!(!output.status.success(), "an unreadable file fails the run");
    let lines: Vec<Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    for (line, path) in lines.iter().zip([&missing, &dir.path().to_owned()]) {
        assert_eq!(line["file"], path.display().to_string());
        assert_eq!(line["status"], "unreadable");
        assert!(!line["error"].as_str().unwrap().is_empty());
    }
    assert!(lines[0]["error"].as_str().unwrap().contains("No such file"));
    assert_eq!(lines[2]["status"], "ok");
    assert_eq!(lines[2]["vin"], "WAUZZZ8V1KA000001");
    assert_eq!(lines[2]["firmware"], "fw-1.2.3");
    assert_eq!(lines[2]["records"], 200);

    let output = argus().arg("inspect").arg(&missing).arg(&good).output().unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains(&format!("{}: unreadable:", missing.display())), "{text}");
    assert!(text.contains("WAUZZZ8V1KA000001") && text.contains("records 200"), "{text}");
}

#[test]
fn text_shows_damage_and_top_codes() {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("datasets/sample");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&sample)
        .unwrap()
        .flat_map(|b| std::fs::read_dir(b.unwrap().path()).unwrap().map(|f| f.unwrap().path()))
        .collect();
    files.sort();
    let output = run_ok(argus().arg("inspect").args(&files));
    let text = String::from_utf8(output.stdout).unwrap();
    for says in
        [": ok, ", ": partial, ", ": rejected, ", "truncated", "corrupt", "bytes skipped", "top errors:"]
    {
        assert!(text.contains(says), "{says:?} missing from:\n{text}");
    }
    // A rejected file is exit code 0: it was read, and its header is what is wrong.
    assert!(text.contains("rejected") && output.status.success());
}
