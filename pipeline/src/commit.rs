//! Commit points: how far a partitioned input (Kafka) may be acknowledged.
//!
//! A partition's commit point is the lowest offset of any event whose batch is not yet
//! durably written, or the next offset to read when there is none: everything below it
//! has its report in the store, so a restart that resumes there loses nothing. Events are
//! *held* by the time of the batch they belong to (a batch's first event holds it lowest),
//! *waiting* while the source keeps them back before their batch opens, and *passed*
//! when they need no write (a repeat of a durable batch, a dead letter).

use std::collections::BTreeMap;

use crate::items::{Position, Time};

/// The source's record of the positions it has seen and what holds them back.
#[derive(Debug, Default)]
pub struct CommitPoints {
    /// The next offset to read, per partition seen.
    next: BTreeMap<i32, i64>,
    /// The lowest offset of each partition among the events of the batches at each time.
    held: BTreeMap<Time, BTreeMap<i32, i64>>,
    /// Offsets of events kept back before their batch opened (a multiset per partition).
    waiting: BTreeMap<i32, BTreeMap<i64, u32>>,
    /// The points last handed out, so that only forward moves are reported.
    committed: BTreeMap<i32, i64>,
}

impl CommitPoints {
    /// An event that needs nothing more (its batch is durable, or it is a dead letter).
    pub fn pass(&mut self, at: Position) {
        let next = self.next.entry(at.partition).or_insert(at.offset + 1);
        *next = (*next).max(at.offset + 1);
    }

    /// An event of a batch at `time`: held until `time` is durable.
    pub fn hold(&mut self, time: Time, at: Position) {
        self.pass(at);
        let lowest = self.held.entry(time).or_default().entry(at.partition).or_insert(at.offset);
        *lowest = (*lowest).min(at.offset);
    }

    /// An event kept back before its batch may open.
    pub fn wait(&mut self, at: Position) {
        self.pass(at);
        *self.waiting.entry(at.partition).or_default().entry(at.offset).or_default() += 1;
    }

    /// A kept-back event leaves the waiting room (to be held or passed right after).
    pub fn unwait(&mut self, at: Position) {
        let Some(offsets) = self.waiting.get_mut(&at.partition) else {
            debug_assert!(false, "unwait of a partition never waited on");
            return;
        };
        if let Some(count) = offsets.get_mut(&at.offset) {
            *count -= 1;
            if *count == 0 {
                offsets.remove(&at.offset);
            }
        }
        if offsets.is_empty() {
            self.waiting.remove(&at.partition);
        }
    }

    /// Forgets what the batches at times before `durable_before` held, and returns the
    /// commit points that moved forward since the last call.
    pub fn advance(&mut self, durable_before: Time) -> Vec<Position> {
        self.held = self.held.split_off(&durable_before);
        let points = self.points();
        let mut moved = Vec::new();
        for point in points {
            let last = self.committed.entry(point.partition).or_insert(i64::MIN);
            if point.offset > *last {
                *last = point.offset;
                moved.push(point);
            }
        }
        moved
    }

    /// The current commit point of every partition seen.
    pub fn points(&self) -> Vec<Position> {
        self.next
            .iter()
            .map(|(&partition, &next)| {
                let held = self.held.values().filter_map(|lowest| lowest.get(&partition).copied());
                let waiting = self.waiting.get(&partition).and_then(|o| o.keys().next().copied());
                let offset = held.chain(waiting).fold(next, i64::min);
                Position { partition, offset }
            })
            .collect()
    }

    /// Whether nothing is held or waiting (every event seen is durable or passed).
    pub fn is_clear(&self) -> bool {
        self.held.is_empty() && self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(partition: i32, offset: i64) -> Position {
        Position { partition, offset }
    }

    #[test]
    fn a_partition_commits_up_to_its_lowest_event_not_yet_durable() {
        let mut points = CommitPoints::default();
        points.hold(10, at(0, 5));
        points.hold(10, at(0, 7));
        points.hold(20, at(0, 6));
        points.pass(at(0, 8));
        assert_eq!(points.advance(0), vec![at(0, 5)]);
        assert_eq!(points.advance(11), vec![at(0, 6)], "time 10 is durable, 20 still holds 6");
        assert_eq!(points.advance(21), vec![at(0, 9)], "nothing held: the next offset to read");
        assert!(points.is_clear());
    }

    #[test]
    fn points_never_move_backwards_and_repeat_only_when_they_move() {
        let mut points = CommitPoints::default();
        points.pass(at(1, 3));
        assert_eq!(points.advance(0), vec![at(1, 4)]);
        assert_eq!(points.advance(0), vec![], "no move, nothing to report");
        // A re-read of an older offset (a restart of the feed) does not move it back.
        points.hold(5, at(1, 2));
        assert_eq!(points.advance(0), vec![]);
        assert_eq!(points.advance(6), vec![]);
        points.pass(at(1, 9));
        assert_eq!(points.advance(6), vec![at(1, 10)]);
    }

    #[test]
    fn a_waiting_event_holds_its_partition_until_placed() {
        let mut points = CommitPoints::default();
        points.wait(at(2, 4));
        points.hold(1, at(2, 5));
        assert_eq!(points.advance(2), vec![at(2, 4)], "offset 4 waits for its batch to open");
        points.unwait(at(2, 4));
        points.hold(3, at(2, 4));
        assert_eq!(points.advance(3), vec![], "placed at time 3, not yet durable");
        assert_eq!(points.advance(4), vec![at(2, 6)]);
    }

    #[test]
    fn partitions_are_independent() {
        let mut points = CommitPoints::default();
        points.hold(1, at(0, 0));
        points.pass(at(1, 0));
        assert_eq!(points.advance(0), vec![at(0, 0), at(1, 1)]);
        assert_eq!(points.advance(2), vec![at(0, 1)]);
    }
}
