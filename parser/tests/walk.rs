//! The chunk walk: resynchronisation over bytes that start no chunk, truncation, the end of
//! the file, chunk magics where they do not start a chunk, and empty chunks.

mod common;

use argus_parser::{ChunkWalk, Step};
use common::{
    HEADER, Summary, chunk_bytes, dtc, file, good_chunk, header_for, log, patch_header, payload, scan, three,
    zstd_chunk,
};

fn steps(bytes: &[u8]) -> Vec<Step> {
    ChunkWalk::new(bytes, 64).collect()
}

fn clean(good: u64) -> Summary {
    Summary { good, corrupt: 0, skipped: 0, truncated: false, records: 3 * good, events: 2 * good }
}

#[test]
fn good_chunks_back_to_back_skip_nothing() {
    let (a, b) = (good_chunk(&three()), zstd_chunk(&three()));
    assert_eq!(scan(&file(&[&a, &b, &a])), clean(3));
    let kinds: Vec<_> = steps(&file(&[&a, &b])).iter().map(|s| matches!(s, Step::Chunk { .. })).collect();
    assert_eq!(kinds, [true, true]);
}

#[test]
fn a_bad_header_crc_resyncs_to_the_next_chunk() {
    let good = good_chunk(&three());
    for at in [0, 8, 20, 30, 44, 47] {
        let mut bad = good_chunk(&three());
        bad[at] ^= 0x10;
        let bytes = file(&[&good, &bad, &good]);
        // The whole broken chunk (header and payload) is passed over.
        assert_eq!(scan(&bytes), Summary { skipped: bad.len() as u64, ..clean(2) }, "byte {at}");
        let expected_skip = Step::Skipped { offset: 64 + good.len(), len: bad.len() };
        assert_eq!(steps(&bytes)[1], expected_skip);
    }
}

#[test]
fn garbage_between_chunks_is_skipped() {
    let good = good_chunk(&three());
    for garbage in [&b"x"[..], b"ARGCHUN", b"ARGCHUNK", b"ARGCHUNKARGCHUNK\0\0\0\0", &[0u8; 100]] {
        let bytes = file(&[garbage, &good, garbage, &good, garbage]);
        assert_eq!(scan(&bytes), Summary { skipped: 3 * garbage.len() as u64, ..clean(2) });
    }
}

#[test]
fn a_file_of_garbage_is_all_skipped() {
    let bytes = file(&[&[0xA5; 1000]]);
    assert_eq!(scan(&bytes), Summary { skipped: 1000, ..clean(0) });
    assert_eq!(steps(&bytes), [Step::Skipped { offset: 64, len: 1000 }]);
}

#[test]
fn a_payload_past_the_end_is_truncation() {
    let good = good_chunk(&three());
    let whole = file(&[&good, &good]);
    let second = 64 + good.len();
    // Cut anywhere inside the second payload: the second header is whole and valid.
    for cut in [second + HEADER, second + HEADER + 1, whole.len() - 1] {
        let s = scan(&whole[..cut]);
        let expected = Summary { skipped: (cut - second) as u64, truncated: true, ..clean(1) };
        assert_eq!(s, expected, "cut at {cut}");
        assert_eq!(steps(&whole[..cut]).last(), Some(&Step::Truncated { offset: second, len: cut - second }));
    }
}

#[test]
fn truncation_is_decided_by_stored_len_alone() {
    // stored_len far past the end (even past the 64 MiB limit): truncated, not corrupt.
    for stored_len in [1000u32, u32::MAX] {
        let mut bad = good_chunk(&three());
        patch_header(&mut bad, 8, &stored_len.to_le_bytes());
        let good = good_chunk(&three());
        let bytes = file(&[&good, &bad]);
        let expected = Summary { skipped: bad.len() as u64, truncated: true, ..clean(1) };
        assert_eq!(scan(&bytes), expected);
    }
}

#[test]
fn truncation_stops_the_walk_even_before_a_later_chunk() {
    // A chunk claiming a payload longer than the rest of the file hides the chunk after it.
    let good = good_chunk(&three());
    let mut liar = good_chunk(&three());
    let stored_len = (payload(&three()).len() + good.len() + 1) as u32;
    patch_header(&mut liar, 8, &stored_len.to_le_bytes());
    let s = scan(&file(&[&liar, &good]));
    assert_eq!(s, Summary { skipped: (liar.len() + good.len()) as u64, truncated: true, ..clean(0) });
}

#[test]
fn fewer_than_48_bytes_at_the_end_are_skipped_not_truncated() {
    let good = good_chunk(&three());
    let whole = file(&[&good, &good]);
    let second = 64 + good.len();
    for left in [1, 8, 47] {
        let s = scan(&whole[..second + left]);
        assert_eq!(s, Summary { skipped: left as u64, ..clean(1) }, "{left} bytes left");
    }
}

#[test]
fn a_chunk_header_inside_a_message_does_not_move_the_walk() {
    // A message holding a complete, valid chunk header (and its payload).
    let inner = good_chunk(&three());
    let message: &'static [u8] = Box::leak(inner.clone().into_boxed_slice());
    let outer_records = [log(0x07E0, 2, 0, 5, message), dtc(0x07E0, 0x03_0100, 0x01, 6)];
    let outer = good_chunk(&outer_records);
    let s = scan(&file(&[&outer]));
    assert_eq!((s.good, s.skipped, s.records, s.events), (1, 0, 2, 1));

    // With the outer header broken, resynchronisation finds the inner header: the bytes up
    // to it (outer header, the first record's header) are skipped, then the inner chunk is
    // good, then the rest of the outer payload is skipped.
    let mut broken = outer.clone();
    broken[10] ^= 1;
    let before = HEADER + 24;
    let after = outer.len() - before - inner.len();
    let s = scan(&file(&[&broken]));
    assert_eq!(s, Summary { skipped: (before + after) as u64, ..clean(1) });
}

#[test]
fn empty_chunks_are_good() {
    let empty = chunk_bytes(&header_for(&[], 0), &[]);
    assert_eq!(empty.len(), HEADER);
    assert_eq!(scan(&file(&[&empty])), clean(0).with_good(1));
    let good = good_chunk(&three());
    assert_eq!(scan(&file(&[&empty, &good, &empty])), Summary { good: 3, ..clean(1) });
}

#[test]
fn a_corrupt_chunk_is_passed_over_by_its_stored_len() {
    // A payload that is a whole valid chunk, not records (its first record_len would be
    // "ARGC"): the outer chunk is corrupt, and the walk jumps over it, not into it.
    let inner = good_chunk(&three());
    let outer = chunk_bytes(&header_for(&inner, 1), &inner);
    let s = scan(&file(&[&outer]));
    assert_eq!((s.good, s.corrupt, s.skipped, s.records), (0, 1, 0, 0));
}

trait WithGood {
    fn with_good(self, good: u64) -> Self;
}

impl WithGood for Summary {
    fn with_good(self, good: u64) -> Self {
        Summary { good, ..self }
    }
}
