//! The parse operator: parses ranges of chunks zero-copy and pre-aggregates them, so that
//! what leaves it is counts per (file, code), never one item per record.

use std::collections::VecDeque;
use std::sync::Arc;

use argus_parser::{RangeScan, RecFile, Scanner};
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
                    if let Some(file) = &file {
                        scanner.scan_range(file.bytes(), task.range, &mut scan);
                        // Done with these bytes: this worker unmaps them now, in parallel
                        // with the others, rather than one thread unmapping the whole file
                        // when its batch is finished.
                        file.release_pages(task.range.start as usize..task.range.end as usize);
                    } else {
                        // The split mapped this file moments ago; losing it now (deleted under us)
                        // makes its chunks corrupt rather than silently missing.
                        scan.chunks_corrupt = task.range.chunks;
                    }
                    Metrics::add(&metrics.ranges_parsed, 1);
                    Metrics::add(&metrics.bytes_parsed, len);
                    Metrics::add(&metrics.records_parsed, scan.records);
                    let part = ScanPart::from(&scan);
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
