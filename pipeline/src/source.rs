//! The source operator: turns feed events into [`SourceItem`]s at a time per batch and
//! holds a capability for each open batch until all its files are in (or it times out),
//! so that the frontier passing a batch's time means the batch is complete.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::source;
use timely::dataflow::{ProbeHandle, Scope, StreamVec};

use crate::feed::{Feed, FeedEvent, FeedState};
use crate::items::{FileReady, SourceItem, Time};

/// How the source paces itself.
#[derive(Clone)]
pub struct SourceConfig {
    /// Events taken from the feed per activation. Default 256.
    pub events_per_activation: usize,
    /// Batches emitted but not yet durable before the source stops polling (backpressure:
    /// bounds the memory a long replay needs). Default 8.
    pub max_batches_in_flight: usize,
    /// An open batch still missing files this long after its first event is finalised as
    /// failed. Default 10 minutes.
    pub batch_timeout: Duration,
    /// How often an idle source wakes to advance time to "now". Default 100 ms.
    pub idle_tick: Duration,
    /// The ingest clock, in milliseconds since the Unix epoch.
    pub clock: crate::Clock,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            events_per_activation: 256,
            max_batches_in_flight: 8,
            batch_timeout: Duration::from_secs(600),
            idle_tick: Duration::from_millis(100),
            clock: crate::system_clock(),
        }
    }
}

impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceConfig")
            .field("events_per_activation", &self.events_per_activation)
            .field("max_batches_in_flight", &self.max_batches_in_flight)
            .field("batch_timeout", &self.batch_timeout)
            .field("idle_tick", &self.idle_tick)
            .finish_non_exhaustive()
    }
}

/// A batch whose files are still arriving.
struct OpenBatch {
    cap: Capability<Time>,
    file_count: u32,
    files: HashSet<String>,
    opened_at: Time,
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
        let mut open: BTreeMap<String, OpenBatch> = BTreeMap::new();
        // Batch ids already complete: repeats of their events change nothing. Grows with the
        // number of batches seen in this run (ids only); the store dedupes across runs.
        let mut done: HashSet<String> = HashSet::new();
        // Batches emitted but not yet durable, by time.
        let mut in_flight: BTreeMap<Time, usize> = BTreeMap::new();
        let mut finished = false;
        let mut events = Vec::new();

        move |output| {
            let (Some(feed), Some(base_cap)) = (feed.as_mut(), base.as_mut()) else { return };
            let now = (config.clock)();
            if *base_cap.time() < now {
                base_cap.downgrade(&now);
            }
            let time = *base_cap.time();

            // Acknowledge what is durable, and make room for more batches.
            let durable_before = durable.with_frontier(|f| f.first().copied().unwrap_or(Time::MAX));
            in_flight.retain(|t, _| *t >= durable_before);
            feed.durable_before(durable_before);

            let mut state = FeedState::Idle;
            let blocked = in_flight.values().sum::<usize>() >= config.max_batches_in_flight;
            let mut opened = false;
            if !finished && !blocked {
                events.clear();
                state = feed.poll(config.events_per_activation, &mut events);
                finished = state == FeedState::Finished;
                for event in events.drain(..) {
                    match event {
                        FeedEvent::EmptyBatch { batch_id } => {
                            if done.insert(batch_id.clone()) {
                                *in_flight.entry(time).or_default() += 1;
                                opened = true;
                                output.session(&*base_cap).give(SourceItem::Open {
                                    time,
                                    batch_id,
                                    file_count: 0,
                                });
                            }
                        }
                        FeedEvent::File(file) => {
                            if done.contains(&file.batch_id) {
                                continue;
                            }
                            let batch = open.entry(file.batch_id.clone()).or_insert_with(|| {
                                *in_flight.entry(time).or_default() += 1;
                                opened = true;
                                OpenBatch {
                                    cap: base_cap.clone(),
                                    file_count: file.file_count,
                                    files: HashSet::new(),
                                    opened_at: now,
                                }
                            });
                            admit(batch, file, output);
                        }
                    }
                }
            }

            // Close complete batches, and those that waited too long.
            let timeout_ms = config.batch_timeout.as_millis() as Time;
            let closed: Vec<String> = open
                .iter()
                .filter(|(_, b)| b.files.len() as u32 >= b.file_count || now >= b.opened_at + timeout_ms)
                .map(|(id, _)| id.clone())
                .collect();
            for id in closed {
                if let Some(batch) = open.remove(&id) {
                    if (batch.files.len() as u32) < batch.file_count {
                        tracing::warn!(batch_id = %id, missing = batch.file_count - batch.files.len() as u32, "batch timed out");
                    }
                    done.insert(id);
                }
            }

            if finished && open.is_empty() {
                base = None; // the source is done: the frontier may pass every time
                return;
            }
            if opened {
                // New batches get a later time, so the frontier can pass `time` as soon as
                // the batches opened at it are done, without waiting for the clock to tick.
                base_cap.downgrade(&(time + 1));
            }
            let blocked = in_flight.values().sum::<usize>() >= config.max_batches_in_flight;
            match state {
                // Blocked on durability: look at the probe again soon.
                _ if blocked => activator.activate_after(Duration::from_millis(1)),
                FeedState::Ready => activator.activate(),
                _ => activator.activate_after(config.idle_tick),
            }
        }
    })
}

/// Emits a file of an open batch at the batch's time, once per file id.
fn admit(
    batch: &mut OpenBatch,
    file: FileReady,
    output: &mut timely::dataflow::operators::generic::OutputBuilderSession<
        '_,
        Time,
        CapacityContainerBuilder<Vec<SourceItem>>,
    >,
) {
    let time = *batch.cap.time();
    if batch.files.is_empty() {
        let open = SourceItem::Open { time, batch_id: file.batch_id.clone(), file_count: batch.file_count };
        output.session(&batch.cap).give(open);
    }
    if batch.files.insert(file.file_id.clone()) {
        output.session(&batch.cap).give(SourceItem::File { time, file });
    }
}
