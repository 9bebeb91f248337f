//! A mapped file whose parsed pages were released reads the same, and its mapping holds
//! no resident pages afterwards.

use argus_parser::testing::file_with;
use argus_parser::{Compression, RecFile, scan_file};

/// Resident bytes of the mapping that starts at `start`, from /proc/self/smaps.
#[cfg(target_os = "linux")]
fn resident(start: *const u8) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let header = format!("{:x}-", start as usize);
    let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&header)).skip(1);
    let rss = lines.find(|l| l.starts_with("Rss:")).expect("the mapping is listed");
    let kb: u64 = rss.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn released_pages_read_the_same_and_are_no_longer_resident() {
    let bytes = file_with(60_000, 256 << 10, Compression::None);
    assert!(bytes.len() > 2 << 20, "several MiB ({})", bytes.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.rec");
    std::fs::write(&path, &bytes).unwrap();
    let rec = RecFile::open(&path).unwrap();
    assert!(rec.is_mapped());
    let before = scan_file(rec.bytes());
    assert_eq!(before.content.records, 60_000);
    #[cfg(target_os = "linux")]
    assert!(resident(rec.bytes().as_ptr()) > 2 << 20, "scanning made the pages resident");

    let len = rec.bytes().len();
    // Unaligned, empty, reversed and past-the-end ranges are all fine.
    let reversed = std::ops::Range { start: 5000, end: 3000 };
    for range in [1..4095, 4097..3 * 4096 + 5, reversed, len - 1..len + 100, 0..0] {
        rec.release_pages(range);
    }
    rec.release_pages(0..len);
    #[cfg(target_os = "linux")]
    assert!(resident(rec.bytes().as_ptr()) < 4096 * 2, "released: at most the last partial page");
    assert_eq!(scan_file(rec.bytes()), before, "released pages fault in again with the same bytes");
}

#[test]
fn releasing_bytes_read_into_memory_changes_nothing() {
    let bytes = file_with(1000, 64 << 10, Compression::None);
    let rec = RecFile::from_bytes(bytes.clone());
    rec.release_pages(0..bytes.len());
    assert_eq!(rec.bytes(), &bytes[..]);
}
