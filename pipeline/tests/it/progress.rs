//! The gather tells the writers each time a batch has one more file parsed: once per
//! file, counting up to the batch's file count, however its files were cut into ranges
//! and spread over workers.

use std::collections::BTreeMap;

use argus_pipeline::split::SplitConfig;
use argus_pipeline::{DataflowConfig, FeedEvent, VecFeed};

use crate::common::{Capture, job, run_to_end, write_batches};

fn progress_by_batch(split: SplitConfig, workers: usize) -> (BTreeMap<String, Vec<(u32, u32)>>, Capture) {
    let dir = tempfile::tempdir().unwrap();
    let batches = write_batches(dir.path(), "progress", 12);
    let capture = Capture::default();
    let feed = VecFeed::new(batches.into_iter().flatten().map(FeedEvent::File));
    let config = DataflowConfig { split, ..DataflowConfig::default() };
    run_to_end(job(Box::new(feed), capture.clone(), config, workers));
    let mut by_batch: BTreeMap<String, Vec<(u32, u32)>> = BTreeMap::new();
    for (batch_id, parsed, count) in capture.progress.lock().unwrap().iter() {
        by_batch.entry(batch_id.clone()).or_default().push((*parsed, *count));
    }
    (by_batch, capture)
}

fn assert_counts_up(split: SplitConfig, workers: usize) {
    let (by_batch, capture) = progress_by_batch(split, workers);
    let batches = capture.batches.lock().unwrap();
    assert_eq!(by_batch.len(), batches.len(), "progress for every batch");
    for batch in batches.iter() {
        let files = batch.report.files.len() as u32;
        let calls = &by_batch[&batch.report.batch_id];
        let expected: Vec<(u32, u32)> = (1..=files).map(|n| (n, files)).collect();
        assert_eq!(calls, &expected, "{}: one call per parsed file", batch.report.batch_id);
    }
}

#[test]
fn each_file_parsed_is_reported_once_when_files_are_whole_ranges() {
    assert_counts_up(SplitConfig::default(), 2);
}

#[test]
fn a_file_cut_into_many_ranges_counts_once_all_its_ranges_are_in() {
    let walked =
        SplitConfig { min_range: 1, max_range: 4 << 10, whole_file_max_bytes: 0, ..SplitConfig::default() };
    assert_counts_up(walked, 1);
    assert_counts_up(walked, 3);
}
