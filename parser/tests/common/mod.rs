//! Hand-built rec bytes for the rule tests: every field can be set to a value the writer
//! would never produce, so each rule of rec-format.md is exercised on its own.
#![allow(dead_code)] // Each test binary uses a different subset.

pub mod reference;

use argus_parser::{
    CHUNK_HEADER_LEN, ChunkHeader, FileScan, KIND_DTC, KIND_LOG, Layout, RangeScan, Record,
    encode_file_header, scan_file,
};

pub const VIN: &[u8; 17] = b"WAUZZZ8V1KA000001";
pub const START_NS: u64 = 1_767_225_600_000_000_000;

/// A valid 64-byte file header.
pub fn file_header() -> Vec<u8> {
    encode_file_header(VIN, START_NS, "fw-1.2.3").to_vec()
}

/// A DTC record with the given 24-bit code (plus whatever high byte) and status.
pub fn dtc(ecu: u16, code: u32, status: u8, ts_ns: u64) -> Record<'static> {
    Record { kind: KIND_DTC, severity: 3, ecu, ts_ns, code, dtc_status: status, message: b"dtc" }
}

/// A LOG record.
pub fn log(ecu: u16, severity: u8, code: u32, ts_ns: u64, message: &'static [u8]) -> Record<'static> {
    Record { kind: KIND_LOG, severity, ecu, ts_ns, code, dtc_status: 0, message }
}

/// The records encoded back to back, as a raw payload.
pub fn payload(records: &[Record<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        r.encode_into(&mut out);
    }
    out
}

/// A correct header for an uncompressed payload holding `count` records.
pub fn header_for(stored: &[u8], count: u32) -> ChunkHeader {
    ChunkHeader {
        stored_len: stored.len() as u32,
        raw_len: stored.len() as u32,
        record_count: count,
        compression: 0,
        first_ts_ns: 0,
        last_ts_ns: 0,
        payload_crc: crc32c::crc32c(stored),
    }
}

/// Header bytes followed by the stored payload.
pub fn chunk_bytes(header: &ChunkHeader, stored: &[u8]) -> Vec<u8> {
    let mut out = header.encode().to_vec();
    out.extend_from_slice(stored);
    out
}

/// A good uncompressed chunk holding `records`.
pub fn good_chunk(records: &[Record<'_>]) -> Vec<u8> {
    let raw = payload(records);
    chunk_bytes(&header_for(&raw, records.len() as u32), &raw)
}

/// A good zstd chunk holding `records`.
pub fn zstd_chunk(records: &[Record<'_>]) -> Vec<u8> {
    let raw = payload(records);
    let stored = zstd::bulk::compress(&raw, 3).unwrap();
    let header = ChunkHeader {
        raw_len: raw.len() as u32,
        compression: 1,
        ..header_for(&stored, records.len() as u32)
    };
    chunk_bytes(&header, &stored)
}

/// A file: the valid header, then `parts` back to back.
pub fn file(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = file_header();
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// Sets a chunk header's raw bytes at `at` and recomputes its header CRC, so that a field
/// the writer would never set still passes check 1.
pub fn patch_header(chunk: &mut [u8], at: usize, bytes: &[u8]) {
    chunk[at..at + bytes.len()].copy_from_slice(bytes);
    let crc = crc32c::crc32c(&chunk[..44]);
    chunk[44..48].copy_from_slice(&crc.to_le_bytes());
}

/// Three simple records used where the content does not matter.
pub fn three() -> Vec<Record<'static>> {
    vec![
        dtc(0x07E0, 0x03_0100, 0x09, START_NS + 1),
        log(0x07E8, 2, 0, START_NS + 2, b"hello"),
        log(0x07E0, 4, 1234, START_NS + 3, b"boom"),
    ]
}

/// The short summary most rule tests assert on.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub good: u64,
    pub corrupt: u64,
    pub skipped: u64,
    pub truncated: bool,
    pub records: u64,
    pub events: u64,
}

pub fn summary(scan: &FileScan) -> Summary {
    let Layout { chunks, bytes_skipped, truncated } = scan.layout;
    let RangeScan { chunks_good, chunks_corrupt, records, error_events, .. } = &scan.content;
    assert_eq!(chunks, chunks_good + chunks_corrupt, "the walk and the parse agree on the chunks");
    Summary {
        good: *chunks_good,
        corrupt: *chunks_corrupt,
        skipped: bytes_skipped,
        truncated,
        records: *records,
        events: *error_events,
    }
}

/// Scans `bytes` and summarises; also checks the split path and the reference model agree.
pub fn scan(bytes: &[u8]) -> Summary {
    let whole = scan_file(bytes);
    assert_eq!(reference::read(bytes), reference::Outcome::of(&whole), "reference model disagrees");
    summary(&whole)
}

pub const HEADER: usize = CHUNK_HEADER_LEN;
