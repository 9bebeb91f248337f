//! Small files are parsed as one whole-file range without the split's walk; their reports
//! must be exactly those of the walked path, damaged files included.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use argus_parser::{Compression, FileStatus, testing};
use argus_pipeline::split::SplitConfig;
use argus_pipeline::{DataflowConfig, FeedEvent, FileReady, FinishedBatch, Metrics, VecFeed};

use crate::common::{Capture, job, run_to_end};

fn vector_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec/vectors/data")
}

/// One event per file of each batch directory under `root`.
fn list(root: &Path) -> Vec<FileReady> {
    let mut files = Vec::new();
    let mut batches: Vec<_> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).collect();
    batches.sort();
    for batch in batches.iter().filter(|b| b.is_dir()) {
        let mut paths: Vec<_> = std::fs::read_dir(batch).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in &paths {
            files.push(FileReady {
                batch_id: batch.file_name().unwrap().to_string_lossy().into_owned(),
                file_id: path.file_name().unwrap().to_string_lossy().into_owned(),
                location: path.to_string_lossy().into_owned(),
                file_count: paths.len() as u32,
                size: Some(std::fs::metadata(path).unwrap().len()),
                position: None,
            });
        }
    }
    files
}

/// Replays `files`; returns the finished batches in batch-id order and the ranges parsed.
fn replay(files: &[FileReady], split: SplitConfig, workers: usize) -> (Vec<FinishedBatch>, u64) {
    let (batches, metrics) = replay_counted(files, split, workers);
    (batches, Metrics::get(&metrics.ranges_parsed))
}

/// Replays `files`; returns the finished batches in batch-id order and the run's counters.
fn replay_counted(
    files: &[FileReady],
    split: SplitConfig,
    workers: usize,
) -> (Vec<FinishedBatch>, Arc<Metrics>) {
    let capture = Capture::default();
    let config = DataflowConfig { split, ..DataflowConfig::default() };
    let feed = VecFeed::new(files.iter().cloned().map(FeedEvent::File));
    let mut job = job(Box::new(feed), capture.clone(), config, workers);
    let metrics = Arc::new(Metrics::default());
    job.metrics = metrics.clone();
    run_to_end(job);
    let mut batches = capture.batches.lock().unwrap().clone();
    batches.sort_by(|a, b| a.report.batch_id.cmp(&b.report.batch_id));
    (batches, metrics)
}

#[test]
fn a_whole_file_range_reports_exactly_what_the_walked_ranges_report() {
    let mut files = list(&vector_data());
    // A file of many chunks with a damaged chunk header halfway, and one cut short: bytes
    // skipped inside what the walked path cuts into several ranges, and a truncation.
    let dir = tempfile::tempdir().unwrap();
    let mut damaged = testing::file_with(40_000, 16 << 10, Compression::None);
    let middle = damaged.len() / 2;
    let chunk = damaged[middle..].windows(8).position(|w| w == argus_parser::CHUNK_MAGIC).unwrap();
    damaged[middle + chunk] ^= 0xFF;
    let mut cut = testing::file_with(20_000, 16 << 10, Compression::Zstd);
    cut.truncate(cut.len() - 100);
    let cut_len = cut.len() as u64;
    std::fs::create_dir_all(dir.path().join("damaged")).unwrap();
    std::fs::write(dir.path().join("damaged/middle.rec"), damaged).unwrap();
    std::fs::write(dir.path().join("damaged/cut.rec"), cut).unwrap();
    files.extend(list(dir.path()));

    // Every file walked, in ranges of a few chunks; no file walked.
    let walked =
        SplitConfig { min_range: 1, max_range: 64 << 10, whole_file_max_bytes: 0, ..SplitConfig::default() };
    let whole = SplitConfig { whole_file_max_bytes: u64::MAX, ..SplitConfig::default() };
    let (reference, metrics) = replay_counted(&files, walked, 1);
    let walked_ranges = Metrics::get(&metrics.ranges_parsed);

    let entries = || reference.iter().flat_map(|b| &b.report.files);
    assert!(entries().any(|f| f.stats.bytes_skipped > 0 && !f.stats.truncated), "a file with skipped bytes");
    assert!(entries().any(|f| f.stats.truncated), "a truncated file");
    assert!(entries().any(|f| f.stats.chunks_corrupt > 0), "a file with corrupt chunks");
    let readable = entries().filter(|f| f.stats.status != FileStatus::Rejected).count() as u64;
    let counted = |status| entries().filter(|f| f.stats.status == status).count() as u64;
    assert!(counted(FileStatus::Rejected) > 0 && counted(FileStatus::Partial) > 0);
    assert_eq!(
        Metrics::get(&metrics.files_rejected),
        counted(FileStatus::Rejected),
        "rejected files counted"
    );
    assert_eq!(Metrics::get(&metrics.files_partial), counted(FileStatus::Partial), "salvaged files counted");
    assert!(walked_ranges > 2 * readable, "{walked_ranges} ranges for {readable} readable files");

    for workers in [1, 2] {
        let (batches, ranges) = replay(&files, whole, workers);
        assert_eq!(ranges, readable, "-w {workers}: one range per readable file");
        assert_same(&batches, &reference, &format!("whole files, -w {workers}"));
        let (batches, _) = replay(&files, walked, workers);
        assert_same(&batches, &reference, &format!("walked files, -w {workers}"));
    }

    // The bound is inclusive: a file of exactly that size is one range, a byte more is walked.
    let (at, ranges_at) = replay(&files, SplitConfig { whole_file_max_bytes: cut_len, ..walked }, 2);
    let (below, ranges_below) =
        replay(&files, SplitConfig { whole_file_max_bytes: cut_len - 1, ..walked }, 2);
    assert!(ranges_at < ranges_below, "cut.rec: {ranges_at} ranges at its size, {ranges_below} below");
    assert_same(&at, &reference, "bound at cut.rec's size");
    assert_same(&below, &reference, "bound a byte below cut.rec's size");
}

/// Equal batches, naming the first file entry that differs.
fn assert_same(got: &[FinishedBatch], want: &[FinishedBatch], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: batches");
    for (got, want) in got.iter().zip(want) {
        let batch = &want.report.batch_id;
        for (got, want) in got.report.files.iter().zip(&want.report.files) {
            assert_eq!(got, want, "{what}: {batch}");
        }
        // When the source saw the first event is the run's clock, not the batch's content.
        let meta = |b: &FinishedBatch| argus_pipeline::BatchMeta { first_event_ms: None, ..b.meta.clone() };
        assert_eq!(got.report, want.report, "{what}: {batch}");
        assert_eq!(got.code_counts, want.code_counts, "{what}: {batch}");
        assert!(meta(got) == meta(want), "{what}: {batch} differs beyond its report");
    }
}
