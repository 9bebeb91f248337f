//! The parse operator: parses ranges of chunks zero-copy and pre-aggregates them, so that
//! what leaves it is counts per (file, code), never one item per record.

use std::collections::VecDeque;
use std::sync::Arc;

use argus_parser::{Layout, RangeScan, RecFile, Scanner};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::StreamVec;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

use crate::items::{GatherPart, RangeTask, ScanPart, Time, route};
use crate::metrics::Metrics;
use crate::resolve::MapCache;

/// Bytes one activation parses before yielding to the rest of the worker (a long
/// activation would stall progress and exchange). Default 64 MiB.
pub const DEFAULT_BYTES_PER_ACTIVATION: u64 = 64 << 20;

pub fn parse_ranges<'s>(
    ranges: StreamVec<'s, Time, RangeTask>,
    cache: MapCache,
    metrics: Arc<Metrics>,
    bytes_per_activation: u64,
) -> StreamVec<'s, Time, GatherPart> {
    let scope = ranges.scope();
    let by_seq = Exchange::new(|t: &RangeTask| route(&(&t.batch_id, &t.file_id)).wrapping_add(t.seq));
    ranges.unary_frontier::<CapacityContainerBuilder<Vec<GatherPart>>, _, _, _>(
        by_seq,
        "Parse",
        move |_, info| {
            let activator = scope.activator_for(info.address.clone());
            let mut queue: VecDeque<(Capability<Time>, RangeTask, Option<Arc<RecFile>>)> = VecDeque::new();
            let mut scanner = Scanner::new();
            move |(input, frontier), output| {
                input.for_each_stamp(|cap, data| {
                    for task in data.flat_map(|d| d.drain(..)) {
                        // Take the mapping now: the cache may forget it once the frontier moves on.
                        let file = cache.open(&task.location, task.time).ok();
                        queue.push_back((cap.delayed(&task.time, 0), task, file));
                    }
                });
                let mut budget = bytes_per_activation;
                while budget > 0 {
                    let Some((cap, task, file)) = queue.pop_front() else { break };
                    let len = task.range.end - task.range.start;
                    let mut scan = RangeScan::default();
                    let layout = match &file {
                        Some(file) => scan_task(&mut scanner, file, &task, &mut scan),
                        None => lost_task(&task, &mut scan),
                    };
                    Metrics::add(&metrics.ranges_parsed, 1);
                    Metrics::add(&metrics.bytes_parsed, len);
                    Metrics::add(&metrics.records_parsed, scan.records);
                    let part = ScanPart { layout, ..ScanPart::from(&scan) };
                    let gather = GatherPart::Range {
                        time: task.time,
                        batch_id: task.batch_id,
                        file_id: task.file_id,
                        part,
                    };
                    output.session(&cap).give(gather);
                    budget = budget.saturating_sub(len.max(1));
                }
                if !queue.is_empty() {
                    activator.activate();
                }
                cache.evict_before(frontier.frontier().first().copied().unwrap_or(Time::MAX));
            }
        },
    )
}

/// Parses a task's range; for a whole-file range, also returns the layout its walk found.
fn scan_task(
    scanner: &mut Scanner,
    file: &RecFile,
    task: &RangeTask,
    scan: &mut RangeScan,
) -> Option<Layout> {
    let (start, end) = (task.range.start as usize, task.range.end as usize);
    let layout = if task.whole_file {
        if file.bytes().len() != end {
            // Mapped again since the split read its header, and changed meanwhile: the
            // layout would not describe the file the head does.
            tracing::warn!(batch_id = %task.batch_id, file_id = %task.file_id, "file changed while parsed");
            return lost_task(task, scan);
        }
        let mut layout = Layout::default();
        scanner.scan_from(file.bytes(), start, &mut layout, scan);
        Some(layout)
    } else {
        scanner.scan_range(file.bytes(), task.range, scan);
        None
    };
    // Done with these bytes: this worker unmaps them now, in parallel with the others,
    // rather than one thread unmapping the whole file when its batch is finished.
    file.release_pages(start..end);
    layout
}

/// Accounts for a range whose file could no longer be mapped, or changed since the split
/// read it (deleted or rewritten under us, after the map cache let go of the split's
/// mapping), so that its bytes show up as lost rather than silently missing: a walked
/// range's chunks count as corrupt; a whole-file range, whose chunks nobody counted, counts
/// as skipped bytes. (The cache keeps a mapping until the frontier passes the latest batch
/// that opened it, and a whole-file range is parsed on the split's own worker, so a
/// whole-file range meets this only if the file was opened again after that.)
fn lost_task(task: &RangeTask, scan: &mut RangeScan) -> Option<Layout> {
    if !task.whole_file {
        scan.chunks_corrupt = task.range.chunks;
        return None;
    }
    Some(Layout { chunks: 0, bytes_skipped: task.range.end - task.range.start, truncated: false })
}
