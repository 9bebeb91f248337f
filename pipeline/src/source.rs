//! The source operator: turns feed events into [`SourceItem`]s at a time per batch and
//! holds a capability for each open batch until all its files are in (or it times out),
//! so that the frontier passing a batch's time means the batch is complete.
//!
//! Backpressure: at most `max_batches_in_flight` batches, and about `max_bytes_in_flight`
//! bytes of their files, are opened and not yet durable. The source asks its feed for one
//! event (one batch, for feeds that list whole batches) at a time and stops as soon as
//! either limit is reached; it opens more only once no more than half of each is in use,
//! so that batches share times (every time costs a fleet update, which one batch per time
//! would pay for every batch). While it is blocked it still polls when open batches wait
//! for files, because their files may be queued behind events of new batches: those new
//! events wait in the source (up to `max_waiting_events`) until there is room, in the
//! order they came.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::{OutputBuilderSession, source};
use timely::dataflow::{ProbeHandle, Scope, StreamVec};

use crate::feed::{Feed, FeedEvent, FeedState};
use crate::items::{FileReady, SourceItem, Time};

/// How the source paces itself.
#[derive(Clone)]
pub struct SourceConfig {
    /// Events taken from the feed per activation, at most. Default 256.
    pub events_per_activation: usize,
    /// Batches opened but not yet durable before the source stops opening more
    /// (backpressure, beside `max_bytes_in_flight`, which bounds the bytes mapped and
    /// spooled at once); it resumes when no more than half of them, and of the bytes, are
    /// in flight. The batches opened together share a time, and every time costs a fleet
    /// update and a round of progress on all workers, so more batches per time make a
    /// replay of many small batches faster; but the first report of a group waits for its
    /// whole group. Default 64: on 200 batches of 2 × 5 MiB, 16, 32, 64 and 128 gave `-w 2`
    /// 1.53, 1.61, 1.65 and 1.76 times the speed of `-w 1` (benches/README.md, section 1).
    pub max_batches_in_flight: usize,
    /// Bytes of the files of the batches in flight (as far as the feed knows their sizes)
    /// at which the source stops opening more; it resumes when no more than half are
    /// left. A batch opens whenever the source is not blocked, so one larger than this
    /// still goes through, and the bytes in flight stay below this plus one batch (plus,
    /// for feeds that send a batch's files one by one, the files still to come of the
    /// batches already open). Default 8 GiB: with GB-sized files the batch count alone
    /// would let tens of GB be mapped, and spooled to disk from an object store, at once;
    /// small batches never reach it.
    pub max_bytes_in_flight: u64,
    /// Events of not yet opened batches that the source holds while it is blocked and
    /// still looks for the files of open batches. Default 10,000.
    pub max_waiting_events: usize,
    /// An open batch still missing files this long after its first event is finalised as
    /// failed. Default 10 minutes.
    pub batch_timeout: Duration,
    /// How often an idle source wakes to advance time to "now". Default 100 ms.
    pub idle_tick: Duration,
    /// How often a blocked source looks at the durable probe again. Default 1 ms.
    pub blocked_tick: Duration,
    /// The ingest clock, in milliseconds since the Unix epoch.
    pub clock: crate::Clock,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            events_per_activation: 256,
            max_batches_in_flight: 64,
            max_bytes_in_flight: 8 << 30,
            max_waiting_events: 10_000,
            batch_timeout: Duration::from_secs(600),
            idle_tick: Duration::from_millis(100),
            blocked_tick: Duration::from_millis(1),
            clock: crate::system_clock(),
        }
    }
}

impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceConfig")
            .field("events_per_activation", &self.events_per_activation)
            .field("max_batches_in_flight", &self.max_batches_in_flight)
            .field("max_bytes_in_flight", &self.max_bytes_in_flight)
            .field("max_waiting_events", &self.max_waiting_events)
            .field("batch_timeout", &self.batch_timeout)
            .field("idle_tick", &self.idle_tick)
            .field("blocked_tick", &self.blocked_tick)
            .finish_non_exhaustive()
    }
}

type Output<'a> = OutputBuilderSession<'a, Time, CapacityContainerBuilder<Vec<SourceItem>>>;

/// A batch whose files are still arriving.
struct OpenBatch {
    cap: Capability<Time>,
    file_count: u32,
    files: HashSet<String>,
    opened_at: Time,
}

/// What the batches opened at one time hold until they are durable.
#[derive(Debug, Default, Clone, Copy)]
struct InFlight {
    batches: usize,
    bytes: u64,
}

/// What the source remembers between activations.
struct Batches {
    max_batches: usize,
    max_bytes: u64,
    open: BTreeMap<String, OpenBatch>,
    /// Batch ids already complete: repeats of their events change nothing. Grows with the
    /// number of batches seen in this run (ids only); the store dedupes across runs.
    done: HashSet<String>,
    /// Batches opened but not yet durable, by time.
    in_flight: BTreeMap<Time, InFlight>,
    /// Set when a limit is reached, cleared when no more than half of each is in use.
    blocked: bool,
    /// Events of batches not yet opened, held back while the source is blocked.
    waiting: VecDeque<FeedEvent>,
}

impl Batches {
    fn new(max_batches: usize, max_bytes: u64) -> Self {
        Self {
            max_batches: max_batches.max(1),
            max_bytes: max_bytes.max(1),
            open: BTreeMap::new(),
            done: HashSet::new(),
            in_flight: BTreeMap::new(),
            blocked: false,
            waiting: VecDeque::new(),
        }
    }

    fn in_flight(&self) -> InFlight {
        self.in_flight.values().fold(InFlight::default(), |sum, f| InFlight {
            batches: sum.batches + f.batches,
            bytes: sum.bytes + f.bytes,
        })
    }

    /// Whether the batches in flight reach either limit.
    fn is_full(&self) -> bool {
        let InFlight { batches, bytes } = self.in_flight();
        batches >= self.max_batches || bytes >= self.max_bytes
    }

    /// Forgets the batches opened before `durable_before`: they are written.
    fn acknowledge(&mut self, durable_before: Time) {
        self.in_flight.retain(|t, _| *t >= durable_before);
        let InFlight { batches, bytes } = self.in_flight();
        self.blocked &= batches > self.max_batches / 2 || bytes > self.max_bytes / 2;
    }

    /// Takes the event if it belongs to a known batch or a new batch may open; returns it
    /// otherwise. A new batch opens at `base`'s time.
    fn offer(
        &mut self,
        event: FeedEvent,
        base: &Capability<Time>,
        now: Time,
        output: &mut Output<'_>,
    ) -> Option<FeedEvent> {
        let batch_id = event.batch_id();
        if self.done.contains(batch_id) {
            return None;
        }
        if self.open.contains_key(batch_id) {
            match event {
                FeedEvent::File(file) => self.admit(file, output),
                FeedEvent::EmptyBatch { batch_id } => {
                    tracing::warn!(%batch_id, "ignoring an empty-batch event for a batch with files");
                }
            }
            return None;
        }
        if self.blocked {
            return Some(event);
        }
        let time = *base.time();
        self.in_flight.entry(time).or_default().batches += 1;
        self.blocked = self.is_full();
        match event {
            FeedEvent::EmptyBatch { batch_id } => {
                output.session(base).give(SourceItem::Open {
                    time,
                    batch_id: batch_id.clone(),
                    file_count: 0,
                });
                self.done.insert(batch_id);
            }
            FeedEvent::File(file) => {
                let batch = OpenBatch {
                    cap: base.clone(),
                    file_count: file.file_count,
                    files: HashSet::new(),
                    opened_at: now,
                };
                output.session(base).give(SourceItem::Open {
                    time,
                    batch_id: file.batch_id.clone(),
                    file_count: file.file_count,
                });
                self.open.insert(file.batch_id.clone(), batch);
                self.admit(file, output);
            }
        }
        None
    }

    /// Emits a file of an open batch at the batch's time, once per file id, and closes the
    /// batch when it has all its files.
    fn admit(&mut self, file: FileReady, output: &mut Output<'_>) {
        let Some(batch) = self.open.get_mut(&file.batch_id) else { return };
        if !batch.files.insert(file.file_id.clone()) {
            return; // a repeat changes nothing
        }
        let time = *batch.cap.time();
        let (batch_id, size) = (file.batch_id.clone(), file.size.unwrap_or(0));
        output.session(&batch.cap).give(SourceItem::File { time, file });
        let complete = batch.files.len() as u32 >= batch.file_count;
        self.in_flight.entry(time).or_default().bytes += size;
        self.blocked |= self.is_full();
        if complete {
            self.open.remove(&batch_id);
            self.done.insert(batch_id);
        }
    }

    /// Offers the held-back events again, in order; those that still find no room stay.
    fn release_waiting(&mut self, base: &Capability<Time>, now: Time, output: &mut Output<'_>) {
        for _ in 0..self.waiting.len() {
            let Some(event) = self.waiting.pop_front() else { break };
            if let Some(event) = self.offer(event, base, now, output) {
                self.waiting.push_back(event);
            }
        }
    }

    /// Whether to poll the feed: while batches may open, or, when blocked, to find the
    /// files of open batches as long as the held-back events have room.
    fn wants_events(&self, max_waiting: usize) -> bool {
        !self.blocked || (!self.open.is_empty() && self.waiting.len() < max_waiting)
    }

    /// Finalises open batches that waited longer than `timeout` for their files.
    fn expire(&mut self, now: Time, timeout: Duration) {
        let timeout_ms = timeout.as_millis() as Time;
        let done = &mut self.done;
        self.open.retain(|batch_id, batch| {
            if now < batch.opened_at + timeout_ms {
                return true;
            }
            let missing = batch.file_count - batch.files.len() as u32;
            tracing::warn!(%batch_id, missing, "batch timed out");
            done.insert(batch_id.clone());
            false
        });
    }
}

/// Builds the source. Only the worker given a feed produces anything; the others drop
/// their capability at once so the frontier is not held back.
pub fn file_source<'s>(
    scope: Scope<'s, Time>,
    feed: Option<Box<dyn Feed>>,
    config: SourceConfig,
    durable: ProbeHandle<Time>,
) -> StreamVec<'s, Time, SourceItem> {
    source::<_, CapacityContainerBuilder<Vec<SourceItem>>, _, _>(scope, "Source", move |cap, info| {
        let activator = scope.activator_for(info.address.clone());
        let mut feed = feed;
        let mut base = feed.as_ref().map(|_| cap);
        let mut batches = Batches::new(config.max_batches_in_flight, config.max_bytes_in_flight);
        let mut finished = false;
        let mut polled = Vec::new();

        move |output| {
            let (Some(feed), Some(base_cap)) = (feed.as_mut(), base.as_mut()) else { return };
            let now = (config.clock)();
            if *base_cap.time() < now {
                base_cap.downgrade(&now);
            }
            let time = *base_cap.time();

            // Acknowledge what is durable, and make room for more batches.
            let durable_before = durable.with_frontier(|f| f.first().copied().unwrap_or(Time::MAX));
            batches.acknowledge(durable_before);
            feed.durable_before(durable_before);
            let in_flight_before = batches.in_flight().batches;

            batches.release_waiting(base_cap, now, output);
            // Poll one event (or batch) at a time, so that no poll overshoots the limit. A
            // blocked source polls on only to find the files of its open batches.
            let mut budget = config.events_per_activation.max(1);
            let mut state = if finished { FeedState::Finished } else { FeedState::Idle };
            while !finished && budget > 0 && batches.wants_events(config.max_waiting_events) {
                state = feed.poll(1, &mut polled);
                finished = state == FeedState::Finished;
                budget = budget.saturating_sub(polled.len().max(1));
                for event in polled.drain(..) {
                    if let Some(event) = batches.offer(event, base_cap, now, output) {
                        batches.waiting.push_back(event);
                    }
                }
                if state != FeedState::Ready {
                    break;
                }
            }
            batches.expire(now, config.batch_timeout);

            if finished && batches.open.is_empty() && batches.waiting.is_empty() {
                base = None; // the source is done: the frontier may pass every time
                return;
            }
            if batches.in_flight().batches > in_flight_before {
                // New batches get a later time, so the frontier can pass `time` as soon as
                // the batches opened at it are done, without waiting for the clock to tick.
                base_cap.downgrade(&(time + 1));
            }
            if batches.blocked {
                activator.activate_after(config.blocked_tick);
            } else if state == FeedState::Ready {
                activator.activate();
            } else {
                activator.activate_after(config.idle_tick);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches opened at times 1, 2, …, with these sizes, as `offer` and `admit` count them.
    fn opened(batches: &mut Batches, sizes: &[u64]) {
        for (time, &bytes) in (1..).zip(sizes) {
            batches.in_flight.insert(time, InFlight { batches: 1, bytes });
            batches.blocked |= batches.is_full();
        }
    }

    #[test]
    fn a_source_blocked_by_its_count_resumes_at_half_of_it() {
        let mut batches = Batches::new(4, 1 << 30);
        opened(&mut batches, &[1, 1, 1, 1]);
        assert!(batches.blocked, "4 of 4 batches");
        batches.acknowledge(2);
        assert!(batches.blocked, "3 of 4 batches: more than half still in flight");
        batches.acknowledge(3);
        assert!(!batches.blocked, "2 of 4 batches");
    }

    #[test]
    fn a_source_blocked_by_its_bytes_resumes_at_half_of_them() {
        let mut batches = Batches::new(100, 1000);
        opened(&mut batches, &[300, 500, 150, 100]);
        assert!(batches.blocked, "1050 of 1000 bytes");
        batches.acknowledge(2);
        assert!(batches.blocked, "750 bytes, 3 of 100 batches: the bytes hold it");
        batches.acknowledge(3);
        assert!(!batches.blocked, "250 bytes");
    }

    #[test]
    fn a_source_resumes_only_when_both_limits_are_half_free() {
        let mut batches = Batches::new(4, 1000);
        opened(&mut batches, &[10, 10, 10, 900]);
        assert!(batches.blocked);
        batches.acknowledge(3);
        assert!(batches.blocked, "2 of 4 batches, but 910 of 1000 bytes");
        batches.acknowledge(5);
        assert!(!batches.blocked, "nothing in flight");
        // An acknowledgement never blocks a source that was not blocked.
        opened(&mut batches, &[1]);
        batches.acknowledge(0);
        assert!(!batches.blocked);
    }
}
