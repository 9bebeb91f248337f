//! What the Kafka feed remembers of the batches whose events it passed on: their declared
//! file count (an event that disagrees is poison), the distinct files seen (for the
//! `gathering` step), the spool files to remove, and how far their events reach in each
//! partition, so each is forgotten once the commit points pass it. Its size follows the
//! batches in flight, not the batches ever seen.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use argus_pipeline::Position;

use crate::event::{FileReadyEvent, Poison};

/// What an event means for its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The batch's first event: it is `scattering`.
    First,
    /// A further event.
    More,
    /// The event that brought the batch's last missing file: it is `gathering`.
    Complete,
    /// An event of a file already seen (delivered again).
    Repeat,
}

#[derive(Debug)]
struct Batch {
    /// `None` for a batch the store already holds as final: its events are passed over.
    file_count: Option<u32>,
    files: HashSet<String>,
    spooled: Vec<PathBuf>,
    /// The highest offset of its events in each partition.
    reach: BTreeMap<i32, i64>,
}

/// The feed's batches in flight.
#[derive(Debug, Default)]
pub struct BatchTracker {
    batches: HashMap<String, Batch>,
}

impl BatchTracker {
    /// Whether the batch is known: `Some(true)` when the store already holds it as final.
    pub fn known(&self, batch_id: &str) -> Option<bool> {
        self.batches.get(batch_id).map(|b| b.file_count.is_none())
    }

    /// Remembers a batch found final in the store, so that its other events are passed
    /// over without asking the store again.
    pub fn final_in_store(&mut self, batch_id: &str, at: Position) {
        let batch = self.batches.entry(batch_id.to_owned()).or_insert_with(|| Batch {
            file_count: None,
            files: HashSet::new(),
            spooled: Vec::new(),
            reach: BTreeMap::new(),
        });
        extend_reach(&mut batch.reach, at);
    }

    /// Whether this file of the batch was seen already (the event is delivered again).
    pub fn has_file(&self, event: &FileReadyEvent) -> bool {
        self.batches.get(&event.batch_id).is_some_and(|b| b.files.contains(&event.file_id))
    }

    /// Checks an event against its batch before anything is fetched for it.
    pub fn check(&self, event: &FileReadyEvent) -> Result<(), Poison> {
        let Some(first) = self.batches.get(&event.batch_id).and_then(|b| b.file_count) else { return Ok(()) };
        if first != event.file_count {
            return Err(Poison::FileCountMismatch {
                batch_id: event.batch_id.clone(),
                first,
                got: event.file_count,
            });
        }
        Ok(())
    }

    /// Records a checked event (and the spool file fetched for it, if any).
    pub fn record(&mut self, event: &FileReadyEvent, at: Position, spooled: Option<PathBuf>) -> Seen {
        let mut first = false;
        let batch = self.batches.entry(event.batch_id.clone()).or_insert_with(|| {
            first = true;
            Batch {
                file_count: Some(event.file_count),
                files: HashSet::new(),
                spooled: Vec::new(),
                reach: BTreeMap::new(),
            }
        });
        debug_assert_eq!(batch.file_count, Some(event.file_count), "check() runs first");
        extend_reach(&mut batch.reach, at);
        batch.spooled.extend(spooled);
        if !batch.files.insert(event.file_id.clone()) {
            return Seen::Repeat;
        }
        let complete = batch.files.len() as u32 == event.file_count;
        match (first, complete) {
            (_, true) => Seen::Complete,
            (true, false) => Seen::First,
            (false, false) => Seen::More,
        }
    }

    /// Forgets the batches all of whose events lie below the commit points, and returns
    /// their spool files (the dataflow is done with them).
    pub fn forget_committed(&mut self, points: &BTreeMap<i32, i64>) -> Vec<PathBuf> {
        let mut released = Vec::new();
        self.batches.retain(|_, batch| {
            let committed = batch.reach.iter().all(|(p, last)| points.get(p).is_some_and(|next| next > last));
            if committed {
                released.append(&mut batch.spooled);
            }
            !committed
        });
        released
    }

    /// Batches remembered (for tests and metrics).
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }
}

fn extend_reach(reach: &mut BTreeMap<i32, i64>, at: Position) {
    let last = reach.entry(at.partition).or_insert(at.offset);
    *last = (*last).max(at.offset);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(batch: &str, file: &str, file_count: u32) -> FileReadyEvent {
        FileReadyEvent {
            batch_id: batch.into(),
            file_id: file.into(),
            uri: format!("{batch}/{file}"),
            size: 1,
            file_count,
            vin: None,
            vehicle_id: None,
            uploaded_at: None,
        }
    }

    fn at(partition: i32, offset: i64) -> Position {
        Position { partition, offset }
    }

    #[test]
    fn steps_follow_the_distinct_files_of_a_batch() {
        let mut tracker = BatchTracker::default();
        assert_eq!(tracker.record(&event("b", "1", 3), at(0, 0), None), Seen::First);
        assert_eq!(tracker.record(&event("b", "1", 3), at(0, 1), None), Seen::Repeat);
        assert_eq!(tracker.record(&event("b", "2", 3), at(0, 2), None), Seen::More);
        assert_eq!(tracker.record(&event("b", "3", 3), at(0, 3), None), Seen::Complete);
        assert_eq!(tracker.record(&event("c", "1", 1), at(0, 4), None), Seen::Complete, "one file: complete");
    }

    #[test]
    fn a_file_count_that_disagrees_with_the_first_event_is_poison() {
        let mut tracker = BatchTracker::default();
        tracker.record(&event("b", "1", 3), at(0, 0), None);
        assert!(tracker.check(&event("b", "2", 3)).is_ok());
        assert_eq!(tracker.check(&event("b", "2", 4)).unwrap_err().kind(), "file_count_mismatch");
        assert!(tracker.check(&event("other", "2", 4)).is_ok());
    }

    #[test]
    fn a_batch_is_forgotten_once_every_partition_it_reached_is_committed_past_it() {
        let mut tracker = BatchTracker::default();
        tracker.record(&event("b", "1", 2), at(0, 5), Some("/spool/1".into()));
        tracker.record(&event("b", "2", 2), at(1, 7), Some("/spool/2".into()));
        tracker.final_in_store("old", at(0, 6));
        assert_eq!(tracker.known("old"), Some(true));
        assert_eq!(tracker.known("b"), Some(false));
        let points = |p0, p1| BTreeMap::from([(0, p0), (1, p1)]);
        assert!(tracker.forget_committed(&points(6, 7)).is_empty(), "offset 7 of partition 1 not yet");
        assert_eq!(tracker.len(), 2);
        let released = tracker.forget_committed(&points(7, 8));
        assert_eq!(released, vec![PathBuf::from("/spool/1"), PathBuf::from("/spool/2")]);
        assert_eq!(tracker.len(), 0, "both batches are below the points");
    }
}
