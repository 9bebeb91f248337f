//! Commit points: a partition is acknowledged up to its lowest event whose batch is not
//! yet durable, never past it, and up to the next offset once everything is.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argus_pipeline::source::SourceConfig;
use argus_pipeline::{BatchStatus, DataflowConfig, Feed, FeedEvent, FeedState, FileReady, Position};

use crate::common::{Capture, job, run_to_end, write_batches};

/// What the source told the feed, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Told {
    Commit(Vec<Position>),
    Drained,
}

/// A feed over a fixed list of events with positions, logging what it is told and
/// checking, at every commit, that each batch with an event below the point is written.
struct LoggedFeed {
    events: std::collections::VecDeque<FeedEvent>,
    told: Arc<Mutex<Vec<Told>>>,
    /// The lowest offset of each batch's events.
    first_offsets: Vec<(String, i64)>,
    written: Arc<Mutex<Vec<argus_pipeline::FinishedBatch>>>,
}

impl Feed for LoggedFeed {
    fn poll(&mut self, max: usize, out: &mut Vec<FeedEvent>) -> FeedState {
        let n = max.min(self.events.len());
        out.extend(self.events.drain(..n));
        if self.events.is_empty() { FeedState::Finished } else { FeedState::Ready }
    }

    fn commit(&mut self, points: &[Position]) {
        let written = self.written.lock().unwrap();
        for point in points {
            for (batch_id, first) in &self.first_offsets {
                let is_written = written.iter().any(|b| &b.report.batch_id == batch_id);
                assert!(
                    *first >= point.offset || is_written,
                    "commit point {} passes offset {first} of batch {batch_id}, which is not written",
                    point.offset
                );
            }
        }
        self.told.lock().unwrap().push(Told::Commit(points.to_vec()));
    }

    fn drained(&mut self) {
        self.told.lock().unwrap().push(Told::Drained);
    }
}

fn at(offset: i64) -> Position {
    Position { partition: 0, offset }
}

fn placed(mut file: FileReady, offset: i64) -> FeedEvent {
    file.position = Some(at(offset));
    FeedEvent::File(file)
}

#[test]
fn an_incomplete_batch_holds_its_partition_until_it_is_finalised() {
    let dir = tempfile::tempdir().unwrap();
    let mut batches = write_batches(dir.path(), "b", 4);
    // Batch 0 has one file (seed 0), batch 1 two, batch 2 three; batch 3 again one.
    let incomplete = batches.remove(2);
    let (a, b, d) = (&batches[0], &batches[1], &batches[2]);
    let events = vec![
        placed(b[0].clone(), 0),
        placed(a[0].clone(), 1),
        FeedEvent::Passed(at(2)),         // a dead letter, say
        placed(incomplete[0].clone(), 3), // one of three files: never complete
        placed(b[1].clone(), 4),
        placed(a[0].clone(), 5), // delivered again
        placed(d[0].clone(), 6),
    ];
    let mut first_offsets: Vec<(String, i64)> = Vec::new();
    for event in &events {
        if let FeedEvent::File(FileReady { batch_id, position: Some(at), .. }) = event {
            if !first_offsets.iter().any(|(id, _)| id == batch_id) {
                first_offsets.push((batch_id.clone(), at.offset));
            }
        }
    }
    let told = Arc::new(Mutex::new(Vec::new()));
    let capture = Capture::default();
    let written = capture.batches.clone();
    let feed = LoggedFeed { events: events.into(), told: told.clone(), first_offsets, written };
    let config = DataflowConfig {
        source: SourceConfig { batch_timeout: Duration::from_secs(2), ..SourceConfig::default() },
        ..DataflowConfig::default()
    };
    run_to_end(job(Box::new(feed), capture.clone(), config, 2));

    let told = told.lock().unwrap().clone();
    let points: Vec<i64> = told
        .iter()
        .flat_map(|t| match t {
            Told::Commit(points) => points.iter().map(|p| p.offset).collect(),
            Told::Drained => vec![],
        })
        .collect();
    assert!(points.windows(2).all(|w| w[0] < w[1]), "points only move forward: {points:?}");
    let drained = told.iter().position(|t| *t == Told::Drained).expect("the source said it drained");
    let before_drained = told[..drained].iter().rev().find_map(|t| match t {
        Told::Commit(points) => Some(points[0].offset),
        Told::Drained => None,
    });
    assert_eq!(before_drained, Some(3), "the complete batches are durable; offset 3 waits: {told:?}");
    assert_eq!(points.last(), Some(&7), "once the incomplete batch failed, the next offset: {told:?}");

    let written = capture.batches.lock().unwrap();
    assert_eq!(written.len(), 4, "three complete batches and the one that timed out");
    let failed: Vec<_> = written.iter().filter(|b| b.report.status == BatchStatus::Failed).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].report.batch_id, incomplete[0].batch_id);
}
