//! Properties over random files: whatever the corruption, any split of a file into ranges,
//! parsed in any order and merged in any grouping, equals the sequential scan, and the
//! sequential scan equals the naive reference reader. Also writer → parser round trips,
//! and no panic on arbitrary bytes.

mod common;

use argus_parser::{
    ChunkDecoder, ChunkHeader, ChunkWalk, Compression, FileHeader, RangeScan, RecWriter, Record, Records,
    Scanner, Splitter, Step, WriterConfig, scan_file, split,
};
use common::reference;
use proptest::prelude::*;
use proptest::sample::Index;

/// An owned record, so that proptest can generate and shrink it.
#[derive(Debug, Clone, PartialEq)]
struct Rec {
    kind: u8,
    severity: u8,
    ecu: u16,
    ts_ns: u64,
    code: u32,
    dtc_status: u8,
    message: Vec<u8>,
}

impl Rec {
    fn as_record(&self) -> Record<'_> {
        let Rec { kind, severity, ecu, ts_ns, code, dtc_status, ref message } = *self;
        Record { kind, severity, ecu, ts_ns, code, dtc_status, message }
    }
}

fn record() -> impl Strategy<Value = Rec> {
    let message = prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => Just(b"ARGCHUNK".to_vec()),
        1 => Just(b"..ARGCHUNK..ARGUSREC..".to_vec()),
    ];
    (
        1u8..=2,
        0u8..8,
        prop_oneof![Just(0x07E0u16), Just(0x07E8), any::<u16>()],
        any::<u64>(),
        prop_oneof![0u32..3, Just(0x03_0100), Just(0xFFC1_0087), any::<u32>()],
        any::<u8>(),
        message,
    )
        .prop_map(|(kind, severity, ecu, ts_ns, code, dtc_status, message)| Rec {
            kind,
            severity,
            ecu,
            ts_ns,
            code,
            dtc_status,
            message,
        })
}

/// Records, each with the compression of the chunk it goes into, and a chunk size.
type FileSpec = (Vec<(Rec, bool)>, usize);

fn file_spec() -> impl Strategy<Value = FileSpec> {
    (proptest::collection::vec((record(), any::<bool>()), 0..80), 1usize..2048)
}

fn write(spec: &FileSpec) -> Vec<u8> {
    let (records, chunk_bytes) = spec;
    let config = WriterConfig { chunk_bytes: *chunk_bytes, compression: Compression::None, zstd_level: 1 };
    let mut w = RecWriter::new(Vec::new(), common::VIN, common::START_NS, "fw", config).unwrap();
    let mut current = false;
    for (rec, zstd) in records {
        // Switching compression ends the chunk, so every chunk's records share its compression.
        if *zstd != current {
            w.flush_chunk().unwrap();
            w.set_compression(if *zstd { Compression::Zstd } else { Compression::None });
            current = *zstd;
        }
        w.push(&rec.as_record()).unwrap();
    }
    w.finish().unwrap()
}

#[derive(Debug, Clone)]
enum Damage {
    Flip(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    /// Random bytes over a chunk header.
    Scribble(Index, Vec<u8>),
    /// A chunk header with random fields but a valid header CRC, over a real one.
    Forge(Index, u32, u32, u32, u8),
    /// A chunk magic, or a copy of a real (valid) chunk header, inserted anywhere.
    Magic(Index),
    CopyHeader(Index, Index),
    /// An empty chunk (valid) inserted anywhere.
    Empty(Index),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Damage::Flip(i, b)),
        1 => any::<Index>().prop_map(Damage::Truncate),
        2 => (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..64)).prop_map(|(i, v)| Damage::Insert(i, v)),
        2 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Damage::Delete(i, n)),
        1 => (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..48)).prop_map(|(i, v)| Damage::Scribble(i, v)),
        2 => (any::<Index>(), prop_oneof![0u32..200, any::<u32>()], prop_oneof![0u32..200, any::<u32>()], 0u32..5, 0u8..3)
            .prop_map(|(i, s, r, c, z)| Damage::Forge(i, s, r, c, z)),
        1 => any::<Index>().prop_map(Damage::Magic),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Damage::CopyHeader(a, b)),
        1 => any::<Index>().prop_map(Damage::Empty),
    ]
}

/// Offsets of the chunks a walk finds now.
fn chunk_offsets(bytes: &[u8]) -> Vec<usize> {
    ChunkWalk::new(bytes, 64.min(bytes.len()))
        .filter_map(|s| if let Step::Chunk { offset, .. } = s { Some(offset) } else { None })
        .collect()
}

/// Applies one damage. Positions avoid the file header (damaging it only rejects the file,
/// which the rule tests cover) so that the chunk walk is what gets exercised.
fn apply(bytes: &mut Vec<u8>, d: &Damage) {
    let body = bytes.len() - 64;
    let at = |i: &Index, extra: usize| 64 + i.index(body + extra);
    match d {
        Damage::Flip(i, bit) if body > 0 => bytes[at(i, 0)] ^= 1 << bit,
        Damage::Truncate(i) => bytes.truncate(at(i, 1)),
        Damage::Insert(i, v) => drop(bytes.splice(at(i, 1)..at(i, 1), v.iter().copied())),
        Damage::Delete(i, n) if body > 0 => {
            let from = at(i, 0);
            bytes.drain(from..(from + n).min(bytes.len()));
        }
        Damage::Scribble(i, _) | Damage::Forge(i, ..) | Damage::CopyHeader(i, _) => {
            let chunks = chunk_offsets(bytes);
            if chunks.is_empty() {
                return;
            }
            let chunk = chunks[i.index(chunks.len())];
            match d {
                Damage::Scribble(_, v) => {
                    let end = (chunk + v.len()).min(bytes.len());
                    bytes[chunk..end].copy_from_slice(&v[..end - chunk]);
                }
                Damage::Forge(_, stored_len, raw_len, record_count, compression) => {
                    let real = ChunkHeader::at(bytes, chunk).expect("walk found it");
                    let forged = ChunkHeader {
                        stored_len: *stored_len,
                        raw_len: *raw_len,
                        record_count: *record_count,
                        compression: *compression,
                        ..real
                    };
                    bytes[chunk..chunk + 48].copy_from_slice(&forged.encode());
                }
                Damage::CopyHeader(_, to) => {
                    let header: Vec<u8> = bytes[chunk..chunk + 48].to_vec();
                    let to = at(to, 1);
                    bytes.splice(to..to, header);
                }
                _ => unreachable!(),
            }
        }
        Damage::Magic(i) => drop(bytes.splice(at(i, 1)..at(i, 1), *b"ARGCHUNK")),
        Damage::Empty(i) => {
            let empty = common::chunk_bytes(&common::header_for(&[], 0), &[]);
            drop(bytes.splice(at(i, 1)..at(i, 1), empty));
        }
        _ => {}
    }
}

/// A tiny deterministic generator for orders and groupings (splitmix64).
struct Mix(u64);

impl Mix {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// Splits at `target`, parses the ranges in a random order (sometimes sharing one scanner,
/// sometimes one each), merges the partial results in a random tree, and checks the sum.
fn check_split(bytes: &[u8], target: u64, seed: u64) -> Result<(), TestCaseError> {
    let whole = scan_file(bytes);
    prop_assert_eq!(reference::read(bytes), reference::Outcome::of(&whole));
    let Ok(header) = FileHeader::parse(bytes) else {
        prop_assert!(whole.rejection.is_some());
        return Ok(());
    };
    let (layout, mut ranges) = split(bytes, header.header_len, target);
    prop_assert_eq!(layout, whole.layout);
    // The same walk in pieces of a random budget gives the same layout and ranges.
    let budget = 1 + seed % (bytes.len() as u64 / 3 + 1);
    let mut splitter = Splitter::new(header.header_len, target);
    let mut pieces = Vec::new();
    while !splitter.advance(bytes, budget, &mut pieces) {}
    prop_assert_eq!(splitter.layout(), layout);
    prop_assert_eq!(&pieces, &ranges);
    prop_assert_eq!(ranges.iter().map(|r| r.chunks).sum::<u64>(), layout.chunks);
    prop_assert!(ranges.windows(2).all(|w| w[0].end <= w[1].start), "ranges in order, disjoint");
    let mut mix = Mix(seed);
    for i in (1..ranges.len()).rev() {
        ranges.swap(i, mix.below(i + 1));
    }
    let mut shared = Scanner::new();
    let mut parts: Vec<RangeScan> = Vec::new();
    for range in ranges {
        let mut part = RangeScan::default();
        if mix.below(2) == 0 {
            shared.scan_range(bytes, range, &mut part);
        } else {
            Scanner::new().scan_range(bytes, range, &mut part);
        }
        parts.push(part);
    }
    while parts.len() > 1 {
        let a = parts.swap_remove(mix.below(parts.len()));
        let b = mix.below(parts.len());
        parts[b].merge(&a);
    }
    prop_assert_eq!(parts.pop().unwrap_or_default(), whole.content);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn any_split_of_a_damaged_file_equals_the_sequential_scan(
        spec in file_spec(),
        damages in proptest::collection::vec(damage(), 0..6),
        targets in proptest::collection::vec(prop_oneof![0u64..200, 0u64..100_000, Just(u64::MAX)], 1..4),
        seed in any::<u64>(),
    ) {
        let mut bytes = write(&spec);
        for d in &damages {
            apply(&mut bytes, d);
        }
        for (i, target) in targets.iter().enumerate() {
            check_split(&bytes, *target, seed.wrapping_add(i as u64))?;
        }
    }

    #[test]
    fn records_written_are_read_back(spec in file_spec()) {
        let bytes = write(&spec);
        let scan = scan_file(&bytes);
        let n = spec.0.len() as u64;
        prop_assert_eq!((scan.layout.bytes_skipped, scan.layout.truncated, scan.content.chunks_corrupt), (0, false, 0));
        prop_assert_eq!(scan.content.records, n);
        let ts = spec.0.iter().map(|(r, _)| r.ts_ns);
        let expected_range = ts.clone().min().map(|min| (min, ts.max().unwrap()));
        prop_assert_eq!(scan.content.ts_range, expected_range);
        // Chunk by chunk: record_count, timestamps, compression and every field.
        let mut back = Vec::new();
        let mut decoder = ChunkDecoder::new();
        for offset in chunk_offsets(&bytes) {
            let header = ChunkHeader::at(&bytes, offset).unwrap();
            let first = back.len();
            let raw = decoder.payload(&bytes, offset, &header).unwrap();
            for r in Records::new(raw) {
                back.push(Rec { kind: r.kind, severity: r.severity, ecu: r.ecu, ts_ns: r.ts_ns, code: r.code,
                    dtc_status: r.dtc_status, message: r.message.to_vec() });
            }
            let mine = &back[first..];
            prop_assert_eq!(mine.len() as u64, u64::from(header.record_count));
            prop_assert_eq!((header.first_ts_ns, header.last_ts_ns), (mine[0].ts_ns, mine[mine.len() - 1].ts_ns));
            let zstd = spec.0[first + mine.len() - 1].1;
            prop_assert_eq!(header.compression, u8::from(zstd));
        }
        let written: Vec<Rec> = spec.0.into_iter().map(|(r, _)| r).collect();
        prop_assert_eq!(back, written);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check_split(&bytes, 64, 1)?;
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_header_never_panic(
        body in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'A')], 0..1500),
        magics in proptest::collection::vec(any::<Index>(), 0..6),
        target in 0u64..600,
    ) {
        let mut bytes = common::file_header();
        bytes.extend(body);
        for m in magics {
            let at = 64 + m.index(bytes.len() - 63);
            bytes.splice(at..at, *b"ARGCHUNK");
        }
        check_split(&bytes, target, target)?;
    }
}

/// The damage generator is not idle: over a few hundred files it produces corrupt chunks,
/// skipped bytes, truncation and zstd chunks, so the split property is tested on them.
#[test]
fn the_damages_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (file_spec(), proptest::collection::vec(damage(), 1..6));
    let (mut corrupt, mut skipped, mut truncated, mut zstd_good) = (0, 0, 0, 0);
    for _ in 0..300 {
        let (spec, damages) = strategy.new_tree(&mut runner).unwrap().current();
        let mut bytes = write(&spec);
        for d in &damages {
            apply(&mut bytes, d);
        }
        let scan = scan_file(&bytes);
        corrupt += usize::from(scan.content.chunks_corrupt > 0);
        skipped += usize::from(scan.layout.bytes_skipped > 0);
        truncated += usize::from(scan.layout.truncated);
        zstd_good += usize::from(spec.0.iter().any(|r| r.1) && scan.content.chunks_good > 0);
    }
    let counts = (corrupt, skipped, truncated, zstd_good);
    assert!(counts.0 >= 30 && counts.1 >= 30 && counts.2 >= 10 && counts.3 >= 30, "{counts:?}");
}
