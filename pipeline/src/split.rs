//! The split operator: maps each file (once per process), checks its header, walks its
//! chunk headers, and cuts it into ranges that all workers share.
//!
//! The walk of a large file is itself work (tens of milliseconds for 4 GiB, mostly page
//! faults on the chunk headers): it goes `walk_bytes_per_activation` at a time and hands
//! out the ranges found so far after each piece, so the other workers start parsing
//! while it walks on. A small file is not walked at all: it becomes one whole-file range,
//! whose parse finds the layout in the same pass over the chunk headers.

use std::collections::VecDeque;
use std::sync::Arc;

use argus_parser::{ChunkRange, FileHeader, RecFile, Splitter};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::StreamVec;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

use crate::items::{FileHead, FileReady, RangeTask, Time, route};
use crate::report::FileOutline;
use crate::resolve::MapCache;

/// What the split emits: a file's head for the gather, its ranges for the parsers.
#[derive(Debug, Clone)]
pub enum SplitItem {
    Head(FileHead),
    Range(RangeTask),
}

/// Range sizes: big enough that per-range overhead vanishes, small enough that every
/// worker gets several ranges of one large file.
#[derive(Debug, Clone, Copy)]
pub struct SplitConfig {
    /// Smallest range, in bytes. Default 4 MiB.
    pub min_range: u64,
    /// Largest range, in bytes. Default 32 MiB.
    pub max_range: u64,
    /// Ranges wanted per worker for one file, when the file is large. Default 4.
    pub ranges_per_worker: u64,
    /// File bytes walked per activation before the ranges found are handed out.
    /// Default 256 MiB (a few milliseconds).
    pub walk_bytes_per_activation: u64,
    /// Files of at most this many bytes are not walked: one range covers all their chunks
    /// and the parse finds their layout, which saves a second pass over the chunk headers
    /// (each one a cache miss, and a page fault the first time). Such a file parses in a
    /// few milliseconds on one worker; the files of a batch still spread over the workers,
    /// but a batch of one such file gains nothing from more workers. Default
    /// 16 MiB: on 200 batches of 2 × 5 MiB, `-w 1` went from 0.83 to 0.87 of the parser
    /// (benches/README.md, section 1). 0 walks every file.
    pub whole_file_max_bytes: u64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            min_range: 4 << 20,
            max_range: 32 << 20,
            ranges_per_worker: 4,
            walk_bytes_per_activation: 256 << 20,
            whole_file_max_bytes: 16 << 20,
        }
    }
}

impl SplitConfig {
    /// The range size for a file of `file_len` bytes shared by `peers` workers.
    pub fn target(&self, file_len: u64, peers: u64) -> u64 {
        (file_len / (peers * self.ranges_per_worker).max(1)).clamp(self.min_range, self.max_range)
    }

    /// The one range of a file of `file_len` bytes whose chunks start at `header_len`, when
    /// the file is small enough not to be walked (`whole_file_max_bytes`); its `chunks` is
    /// unknown (0) until the parse walks it.
    pub fn whole_file_range(&self, header_len: usize, file_len: u64) -> Option<ChunkRange> {
        (file_len <= self.whole_file_max_bytes).then_some(ChunkRange {
            start: header_len as u64,
            end: file_len,
            chunks: 0,
        })
    }
}

/// A file whose chunk walk is under way.
struct Walking {
    cap: Capability<Time>,
    head: FileHead,
    rec: Arc<RecFile>,
    splitter: Splitter,
    /// Ranges handed out so far.
    ranges: u64,
}

impl Walking {
    /// Walks on within `budget` bytes, handing out the ranges found; returns the bytes
    /// walked and whether the file is done (its head then handed out too).
    fn advance(&mut self, budget: u64, found: &mut Vec<ChunkRange>, output: &mut Output<'_>) -> (u64, bool) {
        let before = self.splitter.position();
        let done = self.splitter.advance(self.rec.bytes(), budget, found);
        let mut session = output.session(&self.cap);
        for range in found.drain(..) {
            session.give(SplitItem::Range(self.head.range_task(self.ranges, range, false)));
            self.ranges += 1;
        }
        if done {
            self.head.outline.layout = self.splitter.layout();
            self.head.ranges = self.ranges;
            session.give(SplitItem::Head(self.head.clone()));
        }
        ((self.splitter.position() - before) as u64, done)
    }
}

type Output<'a> = timely::dataflow::operators::generic::OutputBuilderSession<
    'a,
    Time,
    CapacityContainerBuilder<Vec<SplitItem>>,
>;

/// Splits every file into ranges for the parsers, and emits each file's head (header and
/// layout) once its walk is done, all at the batch's time.
pub fn split_files<'s>(
    files: StreamVec<'s, Time, (Time, FileReady)>,
    cache: MapCache,
    config: SplitConfig,
) -> StreamVec<'s, Time, SplitItem> {
    let scope = files.scope();
    let peers = scope.peers() as u64;
    let route_file = Exchange::new(|(_, f): &(Time, FileReady)| route(&(&f.batch_id, &f.file_id)));
    files.unary::<CapacityContainerBuilder<Vec<SplitItem>>, _, _, _>(route_file, "Split", move |_, info| {
        let activator = scope.activator_for(info.address.clone());
        let mut walking: VecDeque<Walking> = VecDeque::new();
        let mut found = Vec::new();
        move |input, output| {
            input.for_each_stamp(|cap, data| {
                for (time, file) in data.flat_map(|d| d.drain(..)) {
                    let cap = cap.delayed(&time, 0);
                    match start(time, file, &cache, config, peers) {
                        Plan::Walk(head, rec, splitter) => {
                            walking.push_back(Walking { cap, head, rec, splitter, ranges: 0 })
                        }
                        Plan::Whole(mut head, range) => {
                            head.ranges = 1;
                            let task = SplitItem::Range(head.range_task(0, range, true));
                            output.session(&cap).give_iterator([task, SplitItem::Head(head)].into_iter());
                        }
                        Plan::Done(head) => output.session(&cap).give(SplitItem::Head(head)),
                    }
                }
            });
            // A walk that stops short of its file's end has used up the budget.
            let mut budget = config.walk_bytes_per_activation.max(1);
            while budget > 0
                && let Some(file) = walking.front_mut()
            {
                let (walked, done) = file.advance(budget, &mut found, output);
                budget = budget.saturating_sub(walked.max(1));
                if done {
                    walking.pop_front();
                }
            }
            if !walking.is_empty() {
                // Hand out what was found (at the end of this activation) and come back.
                activator.activate();
            }
        }
    })
}

/// What becomes of a file once its header is read.
enum Plan {
    /// Walk its chunk headers and cut it into ranges.
    Walk(FileHead, Arc<RecFile>, Splitter),
    /// Parse it as one range from its first chunk to its end, without a walk.
    Whole(FileHead, ChunkRange),
    /// Nothing to parse: unreadable or rejected.
    Done(FileHead),
}

/// Maps the file and checks its header.
fn start(time: Time, file: FileReady, cache: &MapCache, config: SplitConfig, peers: u64) -> Plan {
    let mut head = FileHead {
        time,
        batch_id: file.batch_id.clone(),
        file_count: file.file_count,
        ranges: 0,
        outline: FileOutline {
            file_id: file.file_id.clone(),
            location: file.location.clone(),
            ..FileOutline::default()
        },
    };
    let rec = match cache.open(&file.location, time) {
        Ok(rec) => rec,
        Err(error) => {
            tracing::warn!(batch_id = %file.batch_id, file_id = %file.file_id, %error, "file unreadable");
            head.outline.rejection = Some(format!("unreadable: {error}"));
            return Plan::Done(head);
        }
    };
    head.outline.bytes = rec.bytes().len() as u64;
    let header = match FileHeader::parse(rec.bytes()) {
        Ok(header) => header,
        Err(rejection) => {
            head.outline.rejection = Some(rejection.to_string());
            return Plan::Done(head);
        }
    };
    head.outline.vin = Some(header.vin_text());
    head.outline.firmware = Some(header.firmware_text());
    if let Some(range) = config.whole_file_range(header.header_len, head.outline.bytes) {
        return Plan::Whole(head, range);
    }
    let splitter = Splitter::new(header.header_len, config.target(head.outline.bytes, peers));
    Plan::Walk(head, rec, splitter)
}
