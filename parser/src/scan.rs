//! Parsing chunks into counts: one range of chunks ([`Scanner::scan_range`]) or a whole
//! file ([`scan_file`]). Partial results merge, so any split of a file into ranges adds up
//! to the sequential result.

use crate::count::RecordPass;
use crate::decode::ChunkDecoder;
use crate::header::{FileHeader, Rejection};
use crate::tally::CodeTally;
use crate::walk::{ChunkRange, ChunkWalk, Layout, Step};

/// What the good chunks of a range (or a file) hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeScan {
    pub chunks_good: u64,
    pub chunks_corrupt: u64,
    pub records: u64,
    pub error_events: u64,
    /// Smallest and largest `ts_ns` of any record of a good chunk.
    pub ts_range: Option<(u64, u64)>,
    pub codes: CodeTally,
}

impl RangeScan {
    /// Adds another part of the same file or batch.
    pub fn merge(&mut self, other: &RangeScan) {
        self.chunks_good += other.chunks_good;
        self.chunks_corrupt += other.chunks_corrupt;
        self.records += other.records;
        self.error_events += other.error_events;
        self.ts_range = merge_ts(self.ts_range, other.ts_range);
        self.codes.merge(&other.codes);
    }
}

/// Union of two optional `(first, last)` ranges.
pub fn merge_ts(a: Option<(u64, u64)>, b: Option<(u64, u64)>) -> Option<(u64, u64)> {
    match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
        (x, None) | (None, x) => x,
    }
}

/// Parses chunks with a reused decoding buffer.
#[derive(Debug, Default)]
pub struct Scanner {
    decoder: ChunkDecoder,
    pass: RecordPass,
}

impl Scanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the chunks of `range` (found by a walk of `file`) into `out`.
    pub fn scan_range(&mut self, file: &[u8], range: ChunkRange, out: &mut RangeScan) {
        let (Ok(start), Ok(stop)) = (usize::try_from(range.start), usize::try_from(range.end)) else {
            return;
        };
        if start > stop || stop > file.len() {
            return;
        }
        for step in ChunkWalk::range(file, start, stop) {
            if let Step::Chunk { offset, header } = step {
                self.scan_chunk(file, offset, &header, out);
            }
        }
    }

    /// Parses every chunk from `start` (the header's `header_len`) to the end of the file,
    /// as the sequential walk finds them, adding the walk's steps to `layout`: one pass over
    /// the chunk headers where a [`crate::split`] and its ranges take two.
    pub fn scan_from(&mut self, file: &[u8], start: usize, layout: &mut Layout, out: &mut RangeScan) {
        for step in ChunkWalk::new(file, start) {
            layout.add(&step);
            if let Step::Chunk { offset, header } = step {
                self.scan_chunk(file, offset, &header, out);
            }
        }
    }

    /// Checks 2 to 5 and the counting of one chunk; its records count only when it is good.
    fn scan_chunk(
        &mut self,
        file: &[u8],
        offset: usize,
        header: &crate::chunk::ChunkHeader,
        out: &mut RangeScan,
    ) {
        let good = match self.decoder.raw_payload(file, offset, header, true) {
            Ok((raw, crc)) => self.pass.run(raw, header.record_count, crc, out).is_ok(),
            Err(_) => false,
        };
        if good {
            out.chunks_good += 1;
        } else {
            out.chunks_corrupt += 1;
        }
    }
}

/// Everything one sequential pass learns about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileScan {
    pub bytes: u64,
    pub vin: Option<String>,
    pub firmware: Option<String>,
    pub session_start_ns: Option<u64>,
    pub rejection: Option<Rejection>,
    pub layout: Layout,
    pub content: RangeScan,
}

/// Reads a whole file sequentially, exactly as the spec describes.
pub fn scan_file(file: &[u8]) -> FileScan {
    let mut scan = FileScan {
        bytes: file.len() as u64,
        vin: None,
        firmware: None,
        session_start_ns: None,
        rejection: None,
        layout: Layout::default(),
        content: RangeScan::default(),
    };
    let header = match FileHeader::parse(file) {
        Ok(h) => h,
        Err(rejection) => {
            scan.rejection = Some(rejection);
            return scan;
        }
    };
    scan.vin = Some(header.vin_text());
    scan.firmware = Some(header.firmware_text());
    scan.session_start_ns = Some(header.session_start_ns);
    Scanner::new().scan_from(file, header.header_len, &mut scan.layout, &mut scan.content);
    scan
}
