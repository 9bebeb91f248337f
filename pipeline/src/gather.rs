//! The gather barrier: collects every part of a batch on one worker and emits the batch's
//! report exactly once, when the frontier passes the batch's time. No counters or polling:
//! timely's progress tracking proves that nothing more can arrive.

use std::collections::{BTreeMap, HashMap};

use argus_parser::{Layout, RangeScan};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::StreamVec;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

use crate::items::{FileHead, GatherPart, Time, route};
use crate::report::{BatchStatus, FileOutcome, FinishedBatch, assemble_batch};
use crate::write::Writers;

/// A batch being gathered.
#[derive(Default)]
struct BatchParts {
    file_count: u32,
    first_event_ms: Option<Time>,
    heads: HashMap<String, FileHead>,
    parsed: HashMap<String, Parsed>,
    /// Files whose head and every range arrived.
    files_parsed: u32,
}

/// What the parse found in a file's ranges.
#[derive(Default)]
struct Parsed {
    content: RangeScan,
    /// Found by the parse of a whole-file range only; a walked file's head has its layout.
    layout: Layout,
    ranges: u64,
}

impl BatchParts {
    fn finish(self, batch_id: &str, k: usize) -> FinishedBatch {
        let mut parsed = self.parsed;
        let files: Vec<FileOutcome> = self
            .heads
            .into_values()
            .map(|head| {
                let mut outline = head.outline;
                let Parsed { content, layout, .. } = parsed.remove(&outline.file_id).unwrap_or_default();
                outline.layout.merge(&layout);
                FileOutcome { outline, content }
            })
            .collect();
        debug_assert!(parsed.is_empty(), "ranges of a file without a head");
        let arrived = files.len() as u32;
        let mut finished = assemble_batch(batch_id, k, files);
        finished.meta.first_event_ms = self.first_event_ms;
        if arrived < self.file_count {
            // Timed out: the live service reports such a batch as failed, naming what is missing.
            finished.report.status = BatchStatus::Failed;
            finished.meta.failure = Some(format!(
                "timed out: {} of {} files missing",
                self.file_count - arrived,
                self.file_count
            ));
        }
        finished
    }
}

/// Gathers the parts of every batch; tells `writers` each time a batch has one more file
/// parsed, so that readers can follow a big batch's progress (the report does not depend
/// on it).
pub fn gather<'s>(
    parts: StreamVec<'s, Time, GatherPart>,
    k: usize,
    writers: Writers,
) -> StreamVec<'s, Time, (Time, FinishedBatch)> {
    let by_batch = Exchange::new(|p: &GatherPart| route(p.batch_id()));
    parts.unary_frontier::<CapacityContainerBuilder<Vec<(Time, FinishedBatch)>>, _, _, _>(
        by_batch,
        "Gather",
        move |_, _| {
            let mut pending: BTreeMap<Time, (Capability<Time>, BTreeMap<String, BatchParts>)> =
                BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each_stamp(|cap, data| {
                    for part in data.flat_map(|d| d.drain(..)) {
                        let time = part.time();
                        let (_, batches) =
                            pending.entry(time).or_insert_with(|| (cap.delayed(&time, 0), BTreeMap::new()));
                        if let Some(Progress { batch_id, files_parsed, file_count }) = add_part(batches, part)
                        {
                            for writer in writers.borrow_mut().iter_mut() {
                                writer.file_parsed(&batch_id, files_parsed, file_count);
                            }
                        }
                    }
                });
                while let Some((&time, _)) = pending.first_key_value() {
                    if frontier.less_equal(&time) {
                        break; // parts of this time may still arrive
                    }
                    let Some((_, (cap, batches))) = pending.pop_first() else { break };
                    let mut session = output.session(&cap);
                    for (batch_id, parts) in batches {
                        session.give((time, parts.finish(&batch_id, k)));
                    }
                }
            }
        },
    )
}

/// Files parsed so far of a batch, and of how many.
struct Progress {
    batch_id: String,
    files_parsed: u32,
    file_count: u32,
}

/// Adds a part to its batch; returns the batch's progress when the part completed a file.
fn add_part(batches: &mut BTreeMap<String, BatchParts>, part: GatherPart) -> Option<Progress> {
    let (batch_id, file_id) = match part {
        GatherPart::Open { batch_id, file_count, first_event_ms, .. } => {
            let batch = batches.entry(batch_id).or_default();
            batch.file_count = file_count;
            batch.first_event_ms = Some(first_event_ms);
            return None;
        }
        GatherPart::Head(head) => {
            let ids = (head.batch_id.clone(), head.outline.file_id.clone());
            let batch = batches.entry(head.batch_id.clone()).or_default();
            // The batch's opening part may come after its first files.
            batch.file_count = head.file_count;
            batch.heads.insert(head.outline.file_id.clone(), head);
            ids
        }
        GatherPart::Range { batch_id, file_id, part, .. } => {
            let parsed =
                batches.entry(batch_id.clone()).or_default().parsed.entry(file_id.clone()).or_default();
            part.add_to(&mut parsed.content);
            if let Some(layout) = &part.layout {
                parsed.layout.merge(layout);
            }
            parsed.ranges += 1;
            (batch_id, file_id)
        }
    };
    let batch = batches.get_mut(&batch_id)?;
    let head = batch.heads.get(&file_id)?;
    let ranges = batch.parsed.get(&file_id).map_or(0, |p| p.ranges);
    debug_assert!(ranges <= head.ranges, "more ranges of {file_id} than the split handed out");
    if ranges != head.ranges {
        return None;
    }
    batch.files_parsed += 1;
    Some(Progress { batch_id, files_parsed: batch.files_parsed, file_count: batch.file_count })
}
