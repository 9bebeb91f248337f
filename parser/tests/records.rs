//! Record contents read back as written: invalid UTF-8, unaligned fields, reserved bytes
//! and chunk timestamps that decide nothing.

mod common;

use argus_parser::{ChunkDecoder, ChunkHeader, Record, Records};
use common::{
    HEADER, chunk_bytes, dtc, file, good_chunk, header_for, log, patch_header, payload, scan, three,
};

/// A record's fields, owning the message.
type Fields = (u8, u8, u16, u64, u32, u8, Vec<u8>);

/// The records of the good chunk at the start of `chunk`.
fn read_back(chunk: &[u8]) -> Vec<Fields> {
    let header = ChunkHeader::at(chunk, 0).unwrap();
    let mut decoder = ChunkDecoder::new();
    let raw = decoder.payload(chunk, 0, &header).unwrap();
    Records::new(raw)
        .map(|r| (r.kind, r.severity, r.ecu, r.ts_ns, r.code, r.dtc_status, r.message.to_vec()))
        .collect()
}

#[test]
fn invalid_utf8_messages_are_kept_byte_for_byte() {
    let bad: &[u8] = b"\xff\xfe half \xe2\x82 end \xc0";
    let chunk = good_chunk(&[log(0x07E0, 2, 0, 1, bad), log(0x07E0, 2, 0, 2, b"")]);
    let back = read_back(&chunk);
    assert_eq!(back[0].6, bad);
    assert_eq!(String::from_utf8_lossy(&back[0].6), "\u{FFFD}\u{FFFD} half \u{FFFD} end \u{FFFD}");
    assert_eq!(back[1].6, b"");
    assert_eq!(scan(&file(&[&chunk])).records, 2);
}

#[test]
fn fields_at_odd_offsets_read_back() {
    // Messages of 1, 2 and 3 bytes put every later record at an unaligned offset.
    let records = [
        log(0x1234, 1, 0xDEAD_BEEF, u64::MAX, b"a"),
        dtc(0xFFFF, 0x00AB_CDEF, 0x5A, 0x0102_0304_0506_0708),
        log(0x0001, 5, 7, 0, b"bcd"),
        log(0x0002, 0, 0, 1, b"ef"),
    ];
    let back = read_back(&good_chunk(&records));
    let expected: Vec<_> = records
        .iter()
        .map(|r| (r.kind, r.severity, r.ecu, r.ts_ns, r.code, r.dtc_status, r.message.to_vec()))
        .collect();
    assert_eq!(back, expected);
}

#[test]
fn reserved_record_bytes_are_ignored() {
    let mut raw = payload(&three());
    let second = payload(&three()[..1]).len();
    for at in [21, 22, 23, second + 21, second + 23] {
        raw[at] = 0xFF;
    }
    let chunk = chunk_bytes(&header_for(&raw, 3), &raw);
    let back = read_back(&chunk);
    assert_eq!(back.len(), 3);
    assert_eq!((back[0].5, back[1].5), (three()[0].dtc_status, three()[1].dtc_status));
    let s = scan(&file(&[&chunk]));
    assert_eq!((s.good, s.corrupt, s.records, s.events), (1, 0, 3, 2));
}

#[test]
fn reserved_chunk_header_bytes_are_ignored() {
    let mut chunk = good_chunk(&three());
    patch_header(&mut chunk, 21, &[1, 0x80, 0xFF]);
    let s = scan(&file(&[&chunk]));
    assert_eq!((s.good, s.corrupt, s.records), (1, 0, 3));
}

#[test]
fn chunk_timestamps_are_not_checked() {
    // first_ts after last_ts, and neither matching any record.
    let mut chunk = good_chunk(&three());
    patch_header(&mut chunk, 24, &u64::MAX.to_le_bytes());
    patch_header(&mut chunk, 32, &0u64.to_le_bytes());
    let header = ChunkHeader::at(&chunk, 0).unwrap();
    assert_eq!((header.first_ts_ns, header.last_ts_ns), (u64::MAX, 0));
    let scan = argus_parser::scan_file(&file(&[&chunk]));
    assert_eq!((scan.content.chunks_good, scan.content.records), (1, 3));
    let ts: Vec<u64> = three().iter().map(|r| r.ts_ns).collect();
    assert_eq!(scan.content.ts_range, Some((ts[0], ts[2])));
}

#[test]
fn records_stops_without_panicking_on_a_malformed_payload() {
    let raw = payload(&three());
    // A record_len below 24 ends the iteration; it never yields a half record.
    let mut bad = raw.clone();
    let second = payload(&three()[..1]).len();
    bad[second..second + 4].copy_from_slice(&5u32.to_le_bytes());
    assert_eq!(Records::new(&bad).count(), 1);
    assert_eq!(Records::new(&raw[..raw.len() - 1]).count(), 2);
    assert_eq!(Records::new(&raw[..HEADER / 2]).count(), 0);
    let only: Vec<Record<'_>> = Records::new(&raw[..second]).collect();
    assert_eq!(only, three()[..1]);
}
