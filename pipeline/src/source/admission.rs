//! The source's bookkeeping, kept apart from the operator so that it can be tested as a
//! plain struct: which batches are gathering their files, which are complete and may
//! enter the dataflow, how much is in flight, which are done, and the commit points.
//!
//! A batch enters the dataflow only once all its files are in (or it timed out): the
//! batches that share a time are then all complete, so one batch still waiting for a file
//! never holds back the reports of the others (the frontier is a minimum: a time held open
//! by a waiting batch would hold every later time too).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use crate::commit::CommitPoints;
use crate::feed::FeedEvent;
use crate::items::{FileReady, Position, SourceItem, Time};

/// A batch whose files are still arriving.
#[derive(Debug)]
struct Gathering {
    file_count: u32,
    files: Vec<FileReady>,
    ids: HashSet<String>,
    first_seen: Time,
    /// In the `ready` queue (complete, or timed out).
    ready: bool,
}

/// What the batches that entered at one time hold until they are durable.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    pub batches: usize,
    pub bytes: u64,
}

/// Ids of durably written batches, the most recent `capacity` of them.
#[derive(Debug, Default)]
struct RecentIds {
    capacity: usize,
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl RecentIds {
    fn insert(&mut self, id: String) {
        if self.capacity == 0 || !self.ids.insert(id.clone()) {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            let Some(oldest) = self.order.pop_front() else { break };
            self.ids.remove(&oldest);
        }
    }
}

/// The limits the admission keeps.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_batches: usize,
    pub max_bytes: u64,
    /// Files buffered in batches not yet in the dataflow before polling stops.
    pub max_buffered: usize,
    /// Durable batch ids remembered to ignore late repeats.
    pub remembered: usize,
    pub batch_timeout: Duration,
}

/// The source's state between activations.
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    gathering: HashMap<String, Gathering>,
    /// Complete (or timed-out) batches waiting for room, in the order they became ready.
    ready: VecDeque<String>,
    /// Files buffered in `gathering`.
    buffered: usize,
    /// Batches in the dataflow, not yet durable, with their time.
    done: HashMap<String, Time>,
    durable: RecentIds,
    in_flight: BTreeMap<Time, InFlight>,
    /// Set when a limit is reached, cleared when no more than half of each is in use.
    blocked: bool,
    commits: CommitPoints,
}

impl Admission {
    pub fn new(limits: Limits) -> Self {
        let limits =
            Limits { max_batches: limits.max_batches.max(1), max_bytes: limits.max_bytes.max(1), ..limits };
        Self {
            durable: RecentIds { capacity: limits.remembered, ..RecentIds::default() },
            limits,
            gathering: HashMap::new(),
            ready: VecDeque::new(),
            buffered: 0,
            done: HashMap::new(),
            in_flight: BTreeMap::new(),
            blocked: false,
            commits: CommitPoints::default(),
        }
    }

    /// Takes one event from the feed, read at `now`.
    pub fn offer(&mut self, event: FeedEvent, now: Time) {
        let (batch_id, file_count, position) = match &event {
            FeedEvent::Passed(at) => return self.commits.pass(*at),
            FeedEvent::File(file) => (file.batch_id.clone(), file.file_count, file.position),
            FeedEvent::EmptyBatch { batch_id } => (batch_id.clone(), 0, None),
        };
        if let Some(&time) = self.done.get(&batch_id) {
            if let Some(at) = position {
                self.commits.hold(time, at);
            }
            return; // a repeat of a batch in the dataflow
        }
        if self.durable.ids.contains(&batch_id) {
            return self.pass(position); // a repeat of a written batch
        }
        let batch = self.gathering.entry(batch_id.clone()).or_insert_with(|| Gathering {
            file_count,
            files: Vec::new(),
            ids: HashSet::new(),
            first_seen: now,
            ready: false,
        });
        if let FeedEvent::File(file) = event {
            // A file dropped here is passed: the batch's first delivery of a file sits at
            // a lower offset and holds the partition.
            if batch.ids.contains(&file.file_id) {
                return self.pass(position); // delivered again: the first delivery is kept
            }
            if file.file_count != batch.file_count {
                tracing::warn!(batch_id = %file.batch_id, first = batch.file_count, got = file.file_count,
                    "ignoring a file whose file_count disagrees with its batch's first event");
                return self.pass(position);
            }
            if let Some(at) = position {
                self.commits.wait(at);
            }
            batch.ids.insert(file.file_id.clone());
            batch.files.push(file);
            self.buffered += 1;
        }
        if batch.files.len() as u32 == batch.file_count && !batch.ready {
            batch.ready = true;
            self.ready.push_back(batch_id);
        }
    }

    /// An event that needs nothing: its position, if any, need not hold its partition.
    fn pass(&mut self, position: Option<Position>) {
        if let Some(at) = position {
            self.commits.pass(at);
        }
    }

    /// Marks the batches that waited longer than the timeout for their files as ready:
    /// they enter incomplete and are reported failed with the missing count.
    pub fn expire(&mut self, now: Time) {
        let timeout = self.limits.batch_timeout.as_millis() as Time;
        for (batch_id, batch) in &mut self.gathering {
            if batch.ready || now < batch.first_seen.saturating_add(timeout) {
                continue;
            }
            let missing = batch.file_count - batch.files.len() as u32;
            tracing::warn!(%batch_id, missing, "batch timed out");
            batch.ready = true;
            self.ready.push_back(batch_id.clone());
        }
    }

    /// Lets ready batches into the dataflow at `time` while there is room; appends their
    /// items to `out`. Returns how many entered.
    pub fn admit(&mut self, time: Time, out: &mut Vec<SourceItem>) -> usize {
        let mut entered = 0;
        while !self.blocked {
            let Some(batch_id) = self.ready.pop_front() else { break };
            let Some(batch) = self.gathering.remove(&batch_id) else { continue };
            self.buffered -= batch.files.len();
            let in_flight = self.in_flight.entry(time).or_default();
            in_flight.batches += 1;
            out.push(SourceItem::Open {
                time,
                batch_id: batch_id.clone(),
                file_count: batch.file_count,
                first_event_ms: batch.first_seen,
            });
            for file in batch.files {
                in_flight.bytes += file.size.unwrap_or(0);
                if let Some(at) = file.position {
                    self.commits.unwait(at);
                    self.commits.hold(time, at);
                }
                out.push(SourceItem::File { time, file });
            }
            self.done.insert(batch_id, time);
            self.blocked = self.is_full();
            entered += 1;
        }
        entered
    }

    /// Everything that entered before `durable_before` is written: forgets it, and returns
    /// the commit points this moved forward.
    pub fn acknowledge(&mut self, durable_before: Time) -> Vec<Position> {
        self.in_flight.retain(|t, _| *t >= durable_before);
        let InFlight { batches, bytes } = self.in_flight();
        self.blocked &= batches > self.limits.max_batches / 2 || bytes > self.limits.max_bytes / 2;
        let durable: Vec<String> =
            self.done.iter().filter(|(_, t)| **t < durable_before).map(|(id, _)| id.clone()).collect();
        for id in durable {
            self.done.remove(&id);
            self.durable.insert(id);
        }
        self.commits.advance(durable_before)
    }

    /// Whether to poll the feed: while there is room, or, when blocked, to find the files
    /// of batches still gathering them (they may be queued behind others, and their
    /// timeouts run) as long as the buffered files have room.
    pub fn wants_events(&self) -> bool {
        let still_gathering = self.gathering.len() > self.ready.len();
        !self.blocked || (still_gathering && self.buffered < self.limits.max_buffered)
    }

    pub fn in_flight(&self) -> InFlight {
        self.in_flight.values().fold(InFlight::default(), |sum, f| InFlight {
            batches: sum.batches + f.batches,
            bytes: sum.bytes + f.bytes,
        })
    }

    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// Whether every batch that entered is durable and none is ready to enter: what is
    /// left is still gathering its files.
    pub fn is_drained(&self) -> bool {
        self.done.is_empty() && self.ready.is_empty()
    }

    /// Whether no batch is gathering files either.
    pub fn is_empty(&self) -> bool {
        self.is_drained() && self.gathering.is_empty()
    }

    fn is_full(&self) -> bool {
        let InFlight { batches, bytes } = self.in_flight();
        batches >= self.limits.max_batches || bytes >= self.limits.max_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_batches: usize, max_bytes: u64) -> Limits {
        Limits {
            max_batches,
            max_bytes,
            max_buffered: 100,
            remembered: 10,
            batch_timeout: Duration::from_secs(1),
        }
    }

    fn file(batch: &str, file: &str, file_count: u32, size: u64, offset: Option<i64>) -> FeedEvent {
        FeedEvent::File(FileReady {
            batch_id: batch.into(),
            file_id: file.into(),
            location: format!("/{batch}/{file}"),
            file_count,
            size: Some(size),
            position: offset.map(|offset| Position { partition: 0, offset }),
        })
    }

    /// Offers one complete one-file batch of `size` bytes per entry and admits them at
    /// times 1, 2, …
    fn enter(admission: &mut Admission, sizes: &[u64]) {
        for (time, &size) in (1..).zip(sizes) {
            admission.offer(file(&format!("b{time}"), "f", 1, size, None), 0);
            admission.admit(time, &mut Vec::new());
        }
    }

    #[test]
    fn a_source_blocked_by_its_count_resumes_at_half_of_it() {
        let mut admission = Admission::new(limits(4, 1 << 30));
        enter(&mut admission, &[1, 1, 1, 1]);
        assert!(admission.is_blocked(), "4 of 4 batches");
        admission.acknowledge(2);
        assert!(admission.is_blocked(), "3 of 4 batches: more than half still in flight");
        admission.acknowledge(3);
        assert!(!admission.is_blocked(), "2 of 4 batches");
    }

    #[test]
    fn a_source_blocked_by_its_bytes_resumes_at_half_of_them() {
        let mut admission = Admission::new(limits(100, 1000));
        enter(&mut admission, &[300, 500, 150, 100]);
        assert!(admission.is_blocked(), "1050 of 1000 bytes");
        admission.acknowledge(2);
        assert!(admission.is_blocked(), "750 bytes, 3 of 100 batches: the bytes hold it");
        admission.acknowledge(3);
        assert!(!admission.is_blocked(), "250 bytes");
    }

    #[test]
    fn a_source_resumes_only_when_both_limits_are_half_free() {
        let mut admission = Admission::new(limits(4, 1000));
        enter(&mut admission, &[10, 10, 10, 900]);
        assert!(admission.is_blocked());
        admission.acknowledge(3);
        assert!(admission.is_blocked(), "2 of 4 batches, but 910 of 1000 bytes");
        admission.acknowledge(5);
        assert!(!admission.is_blocked(), "nothing in flight");
    }

    #[test]
    fn a_batch_enters_only_with_all_its_files_and_once() {
        let mut admission = Admission::new(limits(10, 1 << 30));
        let mut out = Vec::new();
        admission.offer(file("b", "1", 2, 5, Some(0)), 0);
        admission.offer(file("b", "1", 2, 5, Some(1)), 0);
        assert_eq!(admission.admit(7, &mut out), 0, "one of two files");
        admission.offer(file("b", "2", 2, 5, Some(2)), 0);
        assert_eq!(admission.admit(7, &mut out), 1);
        assert_eq!(out.len(), 3, "open and two files: {out:?}");
        admission.offer(file("b", "2", 2, 5, Some(3)), 0);
        assert_eq!(admission.admit(8, &mut out), 0, "a repeat of a batch in the dataflow");
        let first = vec![Position { partition: 0, offset: 0 }];
        assert_eq!(admission.acknowledge(7), first, "time 7 not yet durable: offset 0 holds");
        assert_eq!(admission.acknowledge(8), vec![Position { partition: 0, offset: 4 }]);
        admission.offer(file("b", "1", 2, 5, Some(4)), 0);
        assert_eq!(admission.admit(9, &mut out), 0, "a repeat of a written batch");
        assert!(admission.is_empty());
    }

    #[test]
    fn a_batch_missing_files_enters_after_its_timeout() {
        let mut admission = Admission::new(limits(10, 1 << 30));
        let mut out = Vec::new();
        admission.offer(file("late", "1", 3, 5, Some(0)), 1000);
        admission.expire(1999);
        assert_eq!(admission.admit(1, &mut out), 0);
        assert!(admission.is_drained() && !admission.is_empty(), "only a gathering batch is left");
        admission.expire(2000);
        assert_eq!(admission.admit(2, &mut out), 1);
        assert!(matches!(out[0], SourceItem::Open { file_count: 3, .. }), "it still says 3 files");
    }
}
