//! The source operator: turns feed events into [`SourceItem`]s. A batch enters the
//! dataflow once all its files are in (or it timed out), at the source's current time, so
//! that the frontier passing that time means its batches are complete; the operator is a
//! thin shell around [`Admission`], which keeps the books.
//!
//! Backpressure: at most `max_batches_in_flight` batches, and about `max_bytes_in_flight`
//! bytes of their files, are in the dataflow and not yet durable. The source asks its feed
//! for one event (one batch, for feeds that list whole batches) at a time and stops as
//! soon as either limit is reached; it lets more in only once no more than half of each is
//! in use, so that batches share times (every time costs a fleet update, which one batch
//! per time would pay for every batch). While it is blocked it still polls, buffering the
//! files of gathering batches (up to `max_waiting_events`), whose timeouts run.

mod admission;

use std::time::Duration;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::source;
use timely::dataflow::{ProbeHandle, Scope, StreamVec};

pub use admission::{Admission, InFlight, Limits};

use crate::feed::{Feed, FeedState};
use crate::items::{SourceItem, Time};

/// How the source paces itself.
#[derive(Clone)]
pub struct SourceConfig {
    /// Events taken from the feed per activation, at most. Default 256.
    pub events_per_activation: usize,
    /// Batches in the dataflow but not yet durable before the source stops letting more in
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
    /// Files of batches not yet in the dataflow that the source buffers while it is
    /// blocked and still looks for the files of gathering batches. Default 10,000.
    pub max_waiting_events: usize,
    /// A batch still missing files this long after its first event enters the dataflow
    /// as it is and is reported failed. Default 10 minutes.
    pub batch_timeout: Duration,
    /// How often an idle source wakes to advance time to "now". Default 100 ms.
    pub idle_tick: Duration,
    /// How often a blocked source looks at the durable probe again. Default 1 ms.
    pub blocked_tick: Duration,
    /// Ids of durably written batches remembered so that late repeats of their events
    /// change nothing; the oldest are forgotten beyond this many (the store, which a
    /// streaming feed asks before it passes on a new batch, remembers the rest). Repeats
    /// come soon after the first delivery (a redelivered poll, a producer's retry), so a
    /// few thousand suffice; a large ring is memory that grows through a long run until
    /// it fills. Default 4,096.
    pub remembered_batches: usize,
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
            remembered_batches: 4096,
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
            .field("remembered_batches", &self.remembered_batches)
            .finish_non_exhaustive()
    }
}

/// Builds the source. Only a worker given a feed produces anything; the others drop
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
        if let Some(feed) = feed.as_mut() {
            feed.wake_with(scope.worker().sync_activator_for(info.address.to_vec()));
        }
        let mut base = feed.as_ref().map(|_| cap);
        let mut admission = Admission::new(Limits {
            max_batches: config.max_batches_in_flight,
            max_bytes: config.max_bytes_in_flight,
            max_buffered: config.max_waiting_events,
            remembered: config.remembered_batches,
            batch_timeout: config.batch_timeout,
        });
        let mut finished = false;
        let mut drained = false;
        let (mut polled, mut items) = (Vec::new(), Vec::new());

        move |output| {
            let (Some(feed), Some(base_cap)) = (feed.as_mut(), base.as_mut()) else { return };
            let now = (config.clock)();
            if *base_cap.time() < now {
                base_cap.downgrade(&now);
            }
            let time = *base_cap.time();

            // Acknowledge what is durable, and make room for more batches.
            let durable_before = durable.with_frontier(|f| f.first().copied().unwrap_or(Time::MAX));
            feed.durable_before(durable_before);
            let points = admission.acknowledge(durable_before);
            if !points.is_empty() {
                feed.commit(&points);
            }

            // Poll one event (or batch) at a time, letting complete batches in as they
            // come, so that no poll overshoots the limits.
            let mut entered = admission.admit(time, &mut items);
            let mut budget = config.events_per_activation.max(1);
            let mut state = if finished { FeedState::Finished } else { FeedState::Idle };
            while !finished && budget > 0 && admission.wants_events() {
                state = feed.poll(1, &mut polled);
                finished = state == FeedState::Finished;
                budget = budget.saturating_sub(polled.len().max(1));
                for event in polled.drain(..) {
                    admission.offer(event, now);
                }
                entered += admission.admit(time, &mut items);
                if state != FeedState::Ready {
                    break;
                }
            }
            admission.expire(now);
            entered += admission.admit(time, &mut items);
            if !items.is_empty() {
                output.session(&*base_cap).give_iterator(items.drain(..));
            }

            if finished && admission.is_drained() {
                if !drained {
                    drained = true;
                    feed.drained();
                }
                if admission.is_empty() {
                    base = None; // the source is done: the frontier may pass every time
                    return;
                }
            }
            if entered > 0 {
                // Later batches get a later time, so the frontier can pass `time` as soon
                // as the batches at it are done, without waiting for the clock to tick.
                base_cap.downgrade(&(time + 1));
            }
            if admission.is_blocked() || finished {
                // Blocked, or finished and waiting for the last batches to be durable.
                activator.activate_after(config.blocked_tick);
            } else if state == FeedState::Ready {
                activator.activate();
            } else {
                activator.activate_after(config.idle_tick);
            }
        }
    })
}
