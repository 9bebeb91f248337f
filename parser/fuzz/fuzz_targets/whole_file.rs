//! A whole file of fuzzer bytes: the sequential scan never panics, and the split path
//! (header walk, ranges of a fuzzer-chosen size parsed in reverse order) adds up to it.
#![no_main]

use argus_parser::{FileHeader, FileStats, RangeScan, RecFile, Scanner, scan_file, split};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = scan_file(data);
    let _ = FileStats::of_scan(&whole);
    assert_eq!(RecFile::from_bytes(data.to_vec()).bytes(), data);

    let Ok(header) = FileHeader::parse(data) else {
        assert!(whole.rejection.is_some());
        return;
    };
    assert!(whole.rejection.is_none());
    let _ = (header.vin_text(), header.firmware_text());
    // The last two bytes choose the range size. They stay part of the file, so the seed
    // corpus (real rec files) is used as it is.
    let target = match data {
        [.., a, b] => u64::from(u16::from_le_bytes([*a, *b])),
        _ => 1,
    };
    let (layout, ranges) = split(data, header.header_len, target);
    assert_eq!(layout, whole.layout);
    let mut parts = RangeScan::default();
    let mut scanner = Scanner::new();
    for range in ranges.iter().rev() {
        let mut part = RangeScan::default();
        scanner.scan_range(data, *range, &mut part);
        parts.merge(&part);
    }
    assert_eq!(parts, whole.content);
});
