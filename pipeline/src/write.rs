//! Sink operators: hand finished batches and fleet snapshots to the worker's writers.
//! Their outputs feed the `durable` probe: the probe passes a time once every worker has
//! written everything of that time.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::StreamVec;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

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

/// Writes every finished batch, on the worker that gathered it.
pub fn batch_sink<'s>(
    finished: StreamVec<'s, Time, (Time, FinishedBatch)>,
    writers: Writers,
    errors: ErrorSlot,
    metrics: Arc<Metrics>,
) -> StreamVec<'s, Time, Time> {
    finished.unary::<CapacityContainerBuilder<Vec<Time>>, _, _, _>(Pipeline, "BatchSink", move |_, _| {
        move |input, output| {
            input.for_each_stamp(|cap, data| {
                for (time, batch) in data.flat_map(|d| d.drain(..)) {
                    for writer in writers.borrow_mut().iter_mut() {
                        if let Err(error) = writer.write_batch(&batch) {
                            let id = &batch.report.batch_id;
                            tracing::error!(batch_id = %id, %error, "batch write failed");
                            errors.set(format!("writing batch {id}: {error}"));
                        }
                    }
                    Metrics::add(&metrics.batches_finished, 1);
                    if batch.report.status == BatchStatus::Failed {
                        Metrics::add(&metrics.batches_failed, 1);
                    }
                    output.session(&cap.delayed(&time, 0)).give(time);
                }
            });
        }
    })
}

/// Which fleet report a fleet sink maintains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetView {
    AllTime,
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
/// at the end, so an empty run still has a fleet report).
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
            let write = move |report: &FleetReport| {
                for writer in writers.borrow_mut().iter_mut() {
                    let result = match view {
                        FleetView::AllTime => writer.write_fleet(report),
                        FleetView::Window => writer.write_fleet_window(report),
                    };
                    if let Err(error) = result {
                        tracing::error!(%error, "fleet write failed");
                        errors.set(format!("writing the fleet report: {error}"));
                    }
                }
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
                    write(&fleet_report(&state, k));
                    written = true;
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
