//! The rec file format, version 1 (`shared/spec/rec-format.md`).
//!
//! A rec file is a 64-byte header followed by chunks; a chunk is a 48-byte header and a
//! payload of packed records. This crate reads files in place (a record borrows its
//! message from the mapped file), survives every kind of corruption the spec names, and
//! splits one file into ranges of chunks that any number of workers parse in any order:
//!
//! ```
//! use argus_parser::{scan_file, split, FileHeader, Scanner, RangeScan};
//! # let bytes = argus_parser::testing::sample_file();
//! let header = FileHeader::parse(&bytes).unwrap();
//! let (layout, ranges) = split(&bytes, header.header_len, 1 << 20);
//! let mut total = RangeScan::default();
//! for range in ranges {
//!     // Any worker, any order.
//!     Scanner::new().scan_range(&bytes, range, &mut total);
//! }
//! assert_eq!(total, scan_file(&bytes).content);
//! # let _ = layout;
//! ```
//!
//! It does no I/O beyond opening and mapping a file ([`RecFile`]).

mod bytes;
mod chunk;
mod count;
mod crc;
mod decode;
mod event;
mod file;
#[cfg(target_arch = "x86_64")]
mod fused_crc;
mod header;
mod record;
mod scan;
mod split;
mod stats;
mod tally;
pub mod testing;
mod walk;
mod writer;

pub use chunk::{CHUNK_HEADER_LEN, CHUNK_MAGIC, ChunkHeader, Compression, MAX_PAYLOAD_LEN};
pub use decode::{ChunkDecoder, Corruption};
pub use event::{CodeAtEcu, ErrorCode, ParseCodeError, app_key, dtc_key, ecu_hex};
pub use file::RecFile;
pub use header::{
    FILE_HEADER_LEN, FILE_MAGIC, FORMAT_VERSION, FileHeader, Rejection, VIN_LEN, encode_file_header,
};
pub use record::{KIND_DTC, KIND_LOG, RECORD_HEADER_LEN, Record, RecordError, Records, validate_records};
pub use scan::{FileScan, RangeScan, Scanner, merge_ts, scan_file};
pub use split::{Splitter, split};
pub use stats::{FileStats, FileStatus};
pub use tally::{CodeCount, CodeTally};
pub use walk::{ChunkRange, ChunkWalk, Layout, Step};
pub use writer::{RecWriter, WriterConfig, write_chunk};
