//! The file header: every reason a file is rejected as a whole, and a header_len beyond 64.

mod common;

use argus_parser::{FileHeader, FileScan, Layout, RangeScan, Rejection, scan_file};
use common::{START_NS, VIN, file, file_header, good_chunk, scan, three};

/// A rejected file reads no chunk, no record and skips nothing.
fn assert_rejected(bytes: &[u8], why: Rejection) {
    assert_eq!(FileHeader::parse(bytes), Err(why));
    let FileScan { rejection, layout, content, vin, .. } = scan_file(bytes);
    assert_eq!(rejection, Some(why));
    assert_eq!(layout, Layout::default());
    assert_eq!(content, RangeScan::default());
    assert_eq!(vin, None);
}

/// A valid file (header and one good chunk) with `edit` applied to its header.
fn edited(edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = file(&[&good_chunk(&three())]);
    edit(&mut bytes);
    bytes
}

#[test]
fn the_unedited_file_is_accepted() {
    let bytes = edited(|_| {});
    let header = FileHeader::parse(&bytes).unwrap();
    assert_eq!((header.header_len, header.vin, header.session_start_ns), (64, VIN, START_NS));
    assert_eq!(header.firmware_text(), "fw-1.2.3");
    assert_eq!(scan(&bytes).records, 3);
}

#[test]
fn every_header_shorter_than_64_bytes_is_short() {
    let header = file_header();
    for len in 0..64 {
        assert_rejected(&header[..len], Rejection::ShortHeader);
    }
    // Exactly 64 bytes is a valid, empty file (header_len 64 equals the file's length).
    let s = scan(&header);
    assert_eq!((s.good, s.skipped, s.records), (0, 0, 0));
}

#[test]
fn any_wrong_magic_byte_is_bad_magic() {
    for i in 0..8 {
        assert_rejected(&edited(|b| b[i] ^= 0x20), Rejection::BadMagic);
    }
    // The chunk magic is not a file magic.
    assert_rejected(&edited(|b| b[..8].copy_from_slice(b"ARGCHUNK")), Rejection::BadMagic);
}

#[test]
fn any_version_but_1_is_bad_version() {
    for version in [0u16, 2, 0x0100, u16::MAX] {
        assert_rejected(&edited(|b| b[8..10].copy_from_slice(&version.to_le_bytes())), Rejection::BadVersion);
    }
}

#[test]
fn header_len_below_64_is_bad() {
    for len in [0u16, 1, 48, 63] {
        assert_rejected(&edited(|b| b[10..12].copy_from_slice(&len.to_le_bytes())), Rejection::BadHeaderLen);
    }
}

#[test]
fn header_len_past_the_end_is_bad_but_up_to_the_end_is_fine() {
    let len = edited(|_| {}).len() as u16;
    assert_rejected(
        &edited(|b| b[10..12].copy_from_slice(&(len + 1).to_le_bytes())),
        Rejection::BadHeaderLen,
    );
    assert_rejected(&edited(|b| b[10..12].copy_from_slice(&u16::MAX.to_le_bytes())), Rejection::BadHeaderLen);
    // header_len equal to the length: accepted, no chunk left to read.
    let at_end = edited(|b| b[10..12].copy_from_slice(&len.to_le_bytes()));
    assert_eq!(FileHeader::parse(&at_end).unwrap().header_len, usize::from(len));
    let s = scan(&at_end);
    assert_eq!((s.good, s.corrupt, s.skipped, s.truncated, s.records), (0, 0, 0, false, 0));
}

#[test]
fn any_flag_bit_is_bad_flags() {
    for bit in 0..32 {
        assert_rejected(
            &edited(|b| b[12..16].copy_from_slice(&(1u32 << bit).to_le_bytes())),
            Rejection::BadFlags,
        );
    }
}

#[test]
fn rejections_are_checked_in_the_spec_order() {
    // Bad magic and bad flags: magic first. Bad version and bad header_len: version first.
    assert_rejected(
        &edited(|b| {
            b[0] = b'x';
            b[12] = 1;
        }),
        Rejection::BadMagic,
    );
    assert_rejected(
        &edited(|b| {
            b[8] = 9;
            b[10] = 0;
        }),
        Rejection::BadVersion,
    );
    assert_rejected(
        &edited(|b| {
            b[10] = 0;
            b[12] = 1;
        }),
        Rejection::BadHeaderLen,
    );
}

#[test]
fn a_longer_header_is_skipped_up_to_header_len() {
    // A later version's 32 extra header bytes, holding something that looks like a chunk
    // magic: the reader starts at header_len and never looks at them.
    let mut extra = b"ARGCHUNK".to_vec();
    extra.resize(32, 0xEE);
    let chunk = good_chunk(&three());
    let mut bytes = file(&[&extra, &chunk]);
    bytes[10..12].copy_from_slice(&96u16.to_le_bytes());
    assert_eq!(FileHeader::parse(&bytes).unwrap().header_len, 96);
    let s = scan(&bytes);
    assert_eq!((s.good, s.corrupt, s.skipped, s.records), (1, 0, 0, 3));

    // The same bytes with header_len 64: the extra bytes are now garbage before the chunk.
    bytes[10..12].copy_from_slice(&64u16.to_le_bytes());
    let s = scan(&bytes);
    assert_eq!((s.good, s.skipped, s.records), (1, 32, 3));
}

#[test]
fn reserved_header_bytes_are_ignored_and_the_vin_is_shown_lossily() {
    let bytes = edited(|b| {
        b[33..40].fill(0xAB); // reserved
        b[16] = 0xC3; // not ASCII
        b[48..64].copy_from_slice(b"fw-9.9.9-long-ab"); // firmware without NUL padding
    });
    let header = FileHeader::parse(&bytes).unwrap();
    assert_eq!(header.vin_text(), "\u{FFFD}AUZZZ8V1KA000001");
    assert_eq!(header.firmware_text(), "fw-9.9.9-long-ab");
    assert_eq!(scan(&bytes).records, 3);
}
