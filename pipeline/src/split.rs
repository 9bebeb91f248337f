//! The split operator: maps each file (once per process), checks its header, walks its
//! chunk headers, and cuts it into ranges that all workers share.

use argus_parser::{FileHeader, split};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::StreamVec;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;

use crate::items::{FileHead, FileReady, RangeTask, Time, route};
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
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self { min_range: 4 << 20, max_range: 32 << 20, ranges_per_worker: 4 }
    }
}

impl SplitConfig {
    fn target(&self, file_len: u64, peers: u64) -> u64 {
        (file_len / (peers * self.ranges_per_worker).max(1)).clamp(self.min_range, self.max_range)
    }
}

pub fn split_files<'s>(
    files: StreamVec<'s, Time, (Time, FileReady)>,
    cache: MapCache,
    config: SplitConfig,
) -> StreamVec<'s, Time, SplitItem> {
    let peers = files.scope().peers() as u64;
    let route_file = Exchange::new(|(_, f): &(Time, FileReady)| route(&(&f.batch_id, &f.file_id)));
    files.unary::<CapacityContainerBuilder<Vec<SplitItem>>, _, _, _>(route_file, "Split", move |_, _| {
        move |input, output| {
            input.for_each_stamp(|cap, data| {
                for (time, file) in data.flat_map(|d| d.drain(..)) {
                    let at = cap.delayed(&time, 0);
                    let mut session = output.session(&at);
                    for item in split_one(time, file, &cache, config, peers) {
                        session.give(item);
                    }
                }
            });
        }
    })
}

fn split_one(
    time: Time,
    file: FileReady,
    cache: &MapCache,
    config: SplitConfig,
    peers: u64,
) -> Vec<SplitItem> {
    let mut head = FileHead {
        time,
        batch_id: file.batch_id.clone(),
        file_id: file.file_id.clone(),
        location: file.location.clone(),
        bytes: 0,
        rejection: None,
        vin: None,
        firmware: None,
        chunks: 0,
        bytes_skipped: 0,
        truncated: false,
    };
    let rec = match cache.open(&file.location, time) {
        Ok(rec) => rec,
        Err(error) => {
            tracing::warn!(batch_id = %file.batch_id, file_id = %file.file_id, %error, "file unreadable");
            head.rejection = Some(format!("unreadable: {error}"));
            return vec![SplitItem::Head(head)];
        }
    };
    let bytes = rec.bytes();
    head.bytes = bytes.len() as u64;
    let header = match FileHeader::parse(bytes) {
        Ok(header) => header,
        Err(rejection) => {
            head.rejection = Some(rejection.to_string());
            return vec![SplitItem::Head(head)];
        }
    };
    head.vin = Some(header.vin_text());
    head.firmware = Some(header.firmware_text());
    let (layout, ranges) = split(bytes, header.header_len, config.target(head.bytes, peers));
    head.chunks = layout.chunks;
    head.bytes_skipped = layout.bytes_skipped;
    head.truncated = layout.truncated;
    let mut items = vec![SplitItem::Head(head)];
    items.extend(ranges.into_iter().enumerate().map(|(seq, range)| {
        SplitItem::Range(RangeTask {
            time,
            seq: seq as u64,
            batch_id: file.batch_id.clone(),
            file_id: file.file_id.clone(),
            location: file.location.clone(),
            range,
        })
    }));
    items
}
