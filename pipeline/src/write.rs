//! Sink operators: hand finished batches and fleet snapshots to the worker's writers.
//! Their outputs feed the `durable` probe: the probe passes a time once every worker's
//! writers acknowledged everything of that time as durably stored, never earlier, so
//! what the probe drives (Kafka offsets, the source's backpressure, the end of a run) only
//! ever counts stored batches.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use argus_parser::FileStatus;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::StreamVec;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

use crate::ack::{AckInbox, Acked, Ticket};
use crate::fleet::{Rank, Total};
use crate::items::Time;
use crate::metrics::Metrics;
use crate::report::{BatchStatus, FinishedBatch, FleetReport, FleetTopError};
use crate::sink::ReportWriter;

/// The writers of one worker.
pub type Writers = Rc<RefCell<Vec<Box<dyn ReportWriter>>>>;

/// The first write error of any worker of this process; once set, the run stops.
#[derive(Debug, Clone, Default)]
pub struct ErrorSlot(Arc<Mutex<Option<String>>>);

impl ErrorSlot {
    pub fn set(&self, error: String) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(error);
    }

    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A batch handed to the writers and not yet acknowledged by all of them.
struct Pending {
    /// Holds the batch's time open until every writer acknowledged the batch.
    cap: Capability<Time>,
    time: Time,
    batch_id: String,
    /// The batch's own status is `failed` (a report, not a write error).
    report_failed: bool,
    /// Its rejected and partial files.
    files_rejected: u64,
    files_partial: u64,
    /// Writers that have not answered yet.
    awaiting: usize,
    /// A writer failed the batch for good.
    write_failed: bool,
}

impl Pending {
    /// Counts the durable batch and returns the capability to emit its time with.
    fn durable(self, metrics: &Metrics) -> (Capability<Time>, Time) {
        tracing::debug!(batch_id = %self.batch_id, time = self.time, "batch durable");
        Metrics::add(&metrics.batches_finished, 1);
        if self.report_failed {
            Metrics::add(&metrics.batches_failed, 1);
        }
        Metrics::add(&metrics.files_rejected, self.files_rejected);
        Metrics::add(&metrics.files_partial, self.files_partial);
        (self.cap, self.time)
    }
}

fn count_files(batch: &FinishedBatch, status: FileStatus) -> u64 {
    batch.report.files.iter().filter(|f| f.stats.status == status).count() as u64
}

/// Hands every finished batch, on the worker that gathered it, to the worker's writers
/// without waiting for them, and emits the batch's time once every writer acknowledged
/// the batch as durably stored. A batch whose write failed for good keeps its time open
/// for the rest of the run (which `errors` stops): it never looks durable.
pub fn batch_sink<'s>(
    finished: StreamVec<'s, Time, (Time, FinishedBatch)>,
    writers: Writers,
    errors: ErrorSlot,
    metrics: Arc<Metrics>,
) -> StreamVec<'s, Time, Time> {
    let scope = finished.scope();
    finished.unary::<CapacityContainerBuilder<Vec<Time>>, _, _, _>(Pipeline, "BatchSink", move |_, info| {
        // Acks arrive from other threads; the activator schedules this operator (and
        // unparks the worker) for each, as `unary` is scheduled only when data arrives.
        let mut inbox = AckInbox::new(scope.worker().sync_activator_for(info.address.to_vec()));
        let mut pending: HashMap<Ticket, Pending> = HashMap::new();
        let mut never_durable: Vec<Capability<Time>> = Vec::new();
        move |input, output| {
            input.for_each_stamp(|cap, data| {
                let mut writers = writers.borrow_mut();
                for (time, batch) in data.flat_map(|d| d.drain(..)) {
                    let entry = Pending {
                        cap: cap.delayed(&time, 0),
                        time,
                        batch_id: batch.report.batch_id.clone(),
                        report_failed: batch.report.status == BatchStatus::Failed,
                        files_rejected: count_files(&batch, FileStatus::Rejected),
                        files_partial: count_files(&batch, FileStatus::Partial),
                        awaiting: writers.len(),
                        write_failed: false,
                    };
                    if writers.is_empty() {
                        let (cap, time) = entry.durable(&metrics);
                        output.session(&cap).give(time);
                        continue;
                    }
                    let ticket = inbox.ticket();
                    pending.insert(ticket, entry);
                    let batch = Arc::new(batch);
                    for writer in writers.iter_mut() {
                        writer.write_batch(batch.clone(), inbox.ack(ticket));
                    }
                }
            });
            for Acked { ticket, outcome } in inbox.drain() {
                let Some(batch) = pending.get_mut(&ticket) else {
                    debug_assert!(false, "an ack for a batch that is not pending");
                    continue;
                };
                debug_assert!(batch.awaiting > 0, "more acks than writers");
                batch.awaiting -= 1;
                if let Err(error) = outcome {
                    tracing::error!(batch_id = %batch.batch_id, %error, "batch write failed");
                    errors.set(format!("writing batch {}: {error}", batch.batch_id));
                    batch.write_failed = true;
                }
                if batch.awaiting > 0 {
                    continue;
                }
                let Some(batch) = pending.remove(&ticket) else { continue };
                if batch.write_failed {
                    never_durable.push(batch.cap);
                    continue;
                }
                let (cap, time) = batch.durable(&metrics);
                output.session(&cap).give(time);
            }
        }
    })
}

/// Which fleet report a fleet sink maintains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetView {
    /// Every completed batch.
    AllTime,
    /// The batches whose sessions ended within the configured window.
    Window,
}

/// A change to the fleet report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum FleetChange {
    Total(Total, isize),
    Top(Rank),
}

/// The fleet changes of one time, and the capability to report it done.
type PendingChanges = (Capability<Time>, Vec<(FleetChange, isize)>);

/// Keeps the fleet report on worker 0 and writes it whenever a time completes (and once
/// at the end, so an empty run still has a fleet report). The writes are synchronous (the
/// store's are no-ops, the JSON file's quick); a time whose write failed is never emitted
/// and keeps its capability for the rest of the run (which `errors` stops).
pub fn fleet_sink<'s>(
    changes: StreamVec<'s, Time, (FleetChange, Time, isize)>,
    k: usize,
    view: FleetView,
    writers: Writers,
    errors: ErrorSlot,
) -> StreamVec<'s, Time, Time> {
    let is_worker_0 = changes.scope().index() == 0;
    let to_worker_0 = Exchange::new(|_: &(FleetChange, Time, isize)| 0);
    changes.unary_frontier::<CapacityContainerBuilder<Vec<Time>>, _, _, _>(
        to_worker_0,
        "FleetSink",
        move |_, _| {
            // Every change goes to worker 0; the other workers see an empty input and write
            // nothing (not even the final report of an empty run).
            let mut pending: BTreeMap<Time, PendingChanges> = BTreeMap::new();
            let mut state: HashMap<FleetChange, isize> = HashMap::new();
            let mut written = false;
            let mut never_durable: Vec<Capability<Time>> = Vec::new();
            // Whether every writer stored the report.
            let write = move |report: &FleetReport| {
                let mut stored = true;
                for writer in writers.borrow_mut().iter_mut() {
                    let result = match view {
                        FleetView::AllTime => writer.write_fleet(report),
                        FleetView::Window => writer.write_fleet_window(report),
                    };
                    if let Err(error) = result {
                        tracing::error!(%error, "fleet write failed");
                        errors.set(format!("writing the fleet report: {error}"));
                        stored = false;
                    }
                }
                stored
            };
            move |(input, frontier), output| {
                input.for_each_stamp(|cap, data| {
                    for (change, time, diff) in data.flat_map(|d| d.drain(..)) {
                        let entry =
                            pending.entry(time).or_insert_with(|| (cap.delayed(&time, 0), Vec::new()));
                        entry.1.push((change, diff));
                    }
                });
                while let Some((&time, _)) = pending.first_key_value() {
                    if frontier.less_equal(&time) {
                        break;
                    }
                    let Some((_, (cap, changes))) = pending.pop_first() else { break };
                    for (change, diff) in changes {
                        let weight = state.entry(change.clone()).or_default();
                        *weight += diff;
                        if *weight == 0 {
                            state.remove(&change);
                        }
                    }
                    written = true;
                    if !write(&fleet_report(&state, k)) {
                        never_durable.push(cap);
                        continue;
                    }
                    output.session(&cap).give(time);
                }
                if frontier.is_empty() && !written && pending.is_empty() && is_worker_0 {
                    written = true;
                    write(&fleet_report(&state, k));
                }
            }
        },
    )
}

/// The fleet report from the accumulated changes.
fn fleet_report(state: &HashMap<FleetChange, isize>, k: usize) -> FleetReport {
    let mut report = FleetReport { k, batches: 0, records: 0, error_events: 0, top_errors: Vec::new() };
    let mut top: Vec<&Rank> = Vec::new();
    for (change, weight) in state {
        debug_assert_eq!(*weight, 1, "consolidated fleet changes have weight 1");
        match change {
            FleetChange::Total(total, amount) => {
                let amount = (*amount).max(0) as u64;
                match total {
                    Total::Batches => report.batches = amount,
                    Total::Records => report.records = amount,
                    Total::ErrorEvents => report.error_events = amount,
                }
            }
            FleetChange::Top(rank) => top.push(rank),
        }
    }
    top.sort();
    report.top_errors = top
        .into_iter()
        .take(k)
        .map(|r| FleetTopError { code: r.code.key(), count: r.count.0, batches: r.batches, vins: r.vins })
        .collect();
    report
}
