//! One chunk of fuzzer bytes: check 1, checks 2 to 5 and the record iterator never panic,
//! and a chunk that decodes holds exactly record_count well-formed records.
//!
//! The first byte is a mode. With bit 0 set the harness writes the correct header CRC (and
//! with bit 1 the correct payload CRC) before parsing, so the fuzzer gets past the CRCs and
//! explores decompression and the record walk; with both clear the bytes are used as given.
#![no_main]

use argus_parser::{
    CHUNK_HEADER_LEN, ChunkDecoder, ChunkHeader, CodeAtEcu, RECORD_HEADER_LEN, Records, validate_records,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else { return };
    let mut data = rest.to_vec();
    fix_crcs(&mut data, mode);

    // The record walk on the raw bytes, as if they were a payload.
    let count = Records::new(&data).count() as u64;
    if validate_records(&data, count as u32).is_ok() {
        let total: usize = Records::new(&data).map(|r| RECORD_HEADER_LEN + r.message.len()).sum();
        assert_eq!(total, data.len());
    }

    let Some(header) = ChunkHeader::at(&data, 0) else { return };
    let mut decoder = ChunkDecoder::new();
    if let Ok(raw) = decoder.payload(&data, 0, &header) {
        assert_eq!(raw.len(), header.raw_len as usize);
        let mut n = 0u32;
        for record in Records::new(raw) {
            n += 1;
            if let Some(code) = CodeAtEcu::of(&record) {
                let _ = code.code().key();
            }
        }
        assert_eq!(n, header.record_count);
    }
});

fn fix_crcs(data: &mut [u8], mode: u8) {
    if data.len() < CHUNK_HEADER_LEN {
        return;
    }
    if mode & 2 != 0 {
        let stored_len = u32::from_le_bytes(data[8..12].try_into().unwrap()) as usize;
        if let Some(stored) = data.get(CHUNK_HEADER_LEN..CHUNK_HEADER_LEN.saturating_add(stored_len)) {
            let crc = crc32c::crc32c(stored);
            data[40..44].copy_from_slice(&crc.to_le_bytes());
        }
    }
    if mode & 1 != 0 {
        let crc = crc32c::crc32c(&data[..44]);
        data[44..48].copy_from_slice(&crc.to_le_bytes());
    }
}
