//! Checks 2 to 5: each way a chunk that passed check 1 can be corrupt. A corrupt chunk's
//! records do not count and the reader continues right after its payload.

mod common;

use argus_parser::{ChunkDecoder, ChunkHeader, Corruption, MAX_PAYLOAD_LEN, Record, RecordError, Records};
use common::{
    HEADER, Summary, chunk_bytes, file, good_chunk, header_for, log, patch_header, payload, scan, three,
    zstd_chunk,
};

/// The chunk passes check 1, fails with `why`, and in a file before a good chunk it counts
/// as one corrupt chunk without moving the reader (nothing skipped).
fn assert_corrupt(chunk: &[u8], why: Corruption) {
    let header = ChunkHeader::at(chunk, 0).expect("check 1 holds");
    assert_eq!(ChunkDecoder::new().payload(chunk, 0, &header).err(), Some(why));
    let good = good_chunk(&three());
    let expected = Summary { good: 1, corrupt: 1, skipped: 0, truncated: false, records: 3, events: 2 };
    assert_eq!(scan(&file(&[chunk, &good])), expected);
    assert_eq!(scan(&file(&[&good, chunk, &good])), Summary { good: 2, records: 6, events: 4, ..expected });
}

/// A good uncompressed chunk of `records` with `edit` applied to its raw payload, the
/// header's lengths and CRC recomputed so that only check 5 can fail.
fn with_records(records: &[Record<'_>], count: u32, edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut raw = payload(records);
    edit(&mut raw);
    chunk_bytes(&header_for(&raw, count), &raw)
}

#[test]
fn the_helpers_build_good_chunks() {
    for chunk in [good_chunk(&three()), zstd_chunk(&three()), with_records(&three(), 3, |_| {})] {
        let header = ChunkHeader::at(&chunk, 0).unwrap();
        let raw = ChunkDecoder::new().payload(&chunk, 0, &header).unwrap().to_vec();
        assert_eq!(Records::new(&raw).collect::<Vec<_>>(), three());
    }
}

#[test]
fn a_payload_byte_flip_is_a_payload_crc_mismatch() {
    let mut chunk = good_chunk(&three());
    chunk[HEADER + 30] ^= 0x04;
    assert_corrupt(&chunk, Corruption::PayloadCrc);
    let mut chunk = good_chunk(&three());
    patch_header(&mut chunk, 40, &[0xDE, 0xAD, 0xBE, 0xEF]);
    assert_corrupt(&chunk, Corruption::PayloadCrc);
}

#[test]
fn raw_len_over_64_mib_is_too_large() {
    for compression in [0u8, 1] {
        let mut chunk = if compression == 0 { good_chunk(&three()) } else { zstd_chunk(&three()) };
        patch_header(&mut chunk, 12, &(MAX_PAYLOAD_LEN + 1).to_le_bytes());
        assert_corrupt(&chunk, Corruption::TooLarge);
    }
}

#[test]
fn stored_len_over_64_mib_is_too_large_when_the_payload_is_in_the_file() {
    // Zeros: the limit is checked before the CRC and the records, so the content is moot.
    let stored = vec![0u8; MAX_PAYLOAD_LEN as usize + 1];
    let header = ChunkHeader { record_count: 0, ..header_for(&stored, 0) };
    assert_corrupt(&chunk_bytes(&header, &stored), Corruption::TooLarge);
}

#[test]
fn payloads_of_exactly_64_mib_are_allowed() {
    let message = vec![b'm'; MAX_PAYLOAD_LEN as usize - 24];
    let record = log(0x07E0, 4, 7, 1, &[]);
    let record = Record { message: &message, ..record };
    let chunk = good_chunk(&[record]);
    assert_eq!(chunk.len(), HEADER + MAX_PAYLOAD_LEN as usize);
    let s = scan(&file(&[&chunk]));
    assert_eq!((s.good, s.corrupt, s.records, s.events), (1, 0, 1, 1));
}

#[test]
fn unknown_compressions_are_corrupt() {
    for code in [2u8, 3, 0x80, 0xFF] {
        let mut chunk = good_chunk(&three());
        patch_header(&mut chunk, 20, &[code]);
        assert_corrupt(&chunk, Corruption::UnknownCompression(code));
    }
}

#[test]
fn uncompressed_raw_len_must_equal_stored_len() {
    let stored_len = payload(&three()).len() as u32;
    for raw_len in [0, stored_len - 1, stored_len + 1] {
        let mut chunk = good_chunk(&three());
        patch_header(&mut chunk, 12, &raw_len.to_le_bytes());
        assert_corrupt(&chunk, Corruption::LengthMismatch);
    }
}

/// A zstd chunk whose stored bytes are `stored` and whose header claims `raw_len`.
fn zstd_with(stored: &[u8], raw_len: usize) -> Vec<u8> {
    let header = ChunkHeader { raw_len: raw_len as u32, compression: 1, ..header_for(stored, 3) };
    chunk_bytes(&header, stored)
}

#[test]
fn zstd_must_decompress_to_exactly_raw_len() {
    let raw = payload(&three());
    let frame = zstd::bulk::compress(&raw, 1).unwrap();
    assert_eq!(ChunkHeader::at(&zstd_with(&frame, raw.len()), 0).unwrap().raw_len as usize, raw.len());
    // The frame records its content size; a frame made by a stream encoder does not, so
    // both the declared size and the decoded size are checked.
    let streamed = zstd::stream::encode_all(&raw[..], 1).unwrap();
    assert_ne!(frame, streamed);
    for stored in [&frame, &streamed] {
        assert_corrupt(&zstd_with(stored, raw.len() - 1), Corruption::Zstd); // decompresses to more
        assert_corrupt(&zstd_with(stored, raw.len() + 1), Corruption::Zstd); // to fewer
        assert_corrupt(&zstd_with(stored, 0), Corruption::Zstd);
        let s = scan(&file(&[&zstd_with(stored, raw.len())]));
        assert_eq!((s.good, s.records, s.events), (1, 3, 2));
    }
}

#[test]
fn zstd_payload_must_be_exactly_one_frame() {
    let raw = payload(&three());
    let frame = zstd::bulk::compress(&raw, 1).unwrap();
    assert_corrupt(&zstd_with(b"not zstd at all", raw.len()), Corruption::Zstd);
    assert_corrupt(&zstd_with(&frame[..frame.len() - 1], raw.len()), Corruption::Zstd);
    // Two frames that together hold the payload: not "one zstd frame".
    let (a, b) = raw.split_at(24 + 3);
    let mut two = zstd::bulk::compress(a, 1).unwrap();
    two.extend(zstd::bulk::compress(b, 1).unwrap());
    assert_corrupt(&zstd_with(&two, raw.len()), Corruption::Zstd);
    // A frame followed by bytes that belong to no frame.
    let mut trailing = frame.clone();
    trailing.extend_from_slice(&[0; 3]);
    assert_corrupt(&zstd_with(&trailing, raw.len()), Corruption::Zstd);
    // A skippable frame in front: a frame holding none of the payload.
    let mut skippable = vec![0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4];
    skippable.extend_from_slice(&frame);
    assert_corrupt(&zstd_with(&skippable, raw.len()), Corruption::Zstd);
}

#[test]
fn an_empty_zstd_chunk_needs_a_frame() {
    let frame = zstd::bulk::compress(&[], 1).unwrap();
    let header = ChunkHeader { compression: 1, ..header_for(&frame, 0) };
    let header = ChunkHeader { raw_len: 0, ..header };
    let s = scan(&file(&[&chunk_bytes(&header, &frame)]));
    assert_eq!((s.good, s.corrupt, s.records), (1, 0, 0));
    // No bytes at all are no frame.
    let header = ChunkHeader { compression: 1, ..header_for(&[], 0) };
    assert_corrupt(&chunk_bytes(&header, &[]), Corruption::Zstd);
}

#[test]
fn a_record_len_below_24_is_a_bad_length() {
    let second = payload(&three()[..1]).len();
    for len in [0u32, 1, 23] {
        let chunk = with_records(&three(), 3, |raw| raw[..4].copy_from_slice(&len.to_le_bytes()));
        assert_corrupt(&chunk, Corruption::Records(RecordError::BadLength(0)));
        let chunk =
            with_records(&three(), 3, |raw| raw[second..second + 4].copy_from_slice(&len.to_le_bytes()));
        assert_corrupt(&chunk, Corruption::Records(RecordError::BadLength(second)));
    }
}

#[test]
fn a_record_running_past_the_payload_is_a_bad_length() {
    let last = payload(&three()[..2]).len();
    let chunk = with_records(&three(), 3, |raw| {
        let len = (raw.len() - last) as u32 + 1;
        raw[last..last + 4].copy_from_slice(&len.to_le_bytes());
    });
    assert_corrupt(&chunk, Corruption::Records(RecordError::BadLength(last)));
    let chunk = with_records(&three(), 3, |raw| raw[..4].copy_from_slice(&u32::MAX.to_le_bytes()));
    assert_corrupt(&chunk, Corruption::Records(RecordError::BadLength(0)));
}

#[test]
fn reserved_kinds_are_corrupt() {
    let second = payload(&three()[..1]).len();
    for kind in [0u8, 3, 4, 0xFF] {
        let chunk = with_records(&three(), 3, |raw| raw[second + 4] = kind);
        assert_corrupt(&chunk, Corruption::Records(RecordError::BadKind(second, kind)));
    }
}

#[test]
fn records_must_end_exactly_at_raw_len() {
    let end = payload(&three()).len();
    for extra in [1usize, 8, 23, 24] {
        // Trailing bytes shorter than a record header, or a zero record_len.
        let chunk = with_records(&three(), 3, |raw| raw.resize(end + extra, 0));
        assert_corrupt(&chunk, Corruption::Records(RecordError::BadLength(end)));
    }
}

#[test]
fn record_count_must_match() {
    for count in [0u32, 2, 4, u32::MAX] {
        let chunk = with_records(&three(), count, |_| {});
        assert_corrupt(&chunk, Corruption::Records(RecordError::CountMismatch { expected: count, found: 3 }));
    }
    let chunk = with_records(&[], 1, |_| {});
    assert_corrupt(&chunk, Corruption::Records(RecordError::CountMismatch { expected: 1, found: 0 }));
}

#[test]
fn record_rules_hold_inside_zstd_chunks_too() {
    let mut raw = payload(&three());
    raw[4] = 9;
    let stored = zstd::bulk::compress(&raw, 1).unwrap();
    assert_corrupt(&zstd_with(&stored, raw.len()), Corruption::Records(RecordError::BadKind(0, 9)));
}
