//! Small builders for tests, examples and fuzz seeds (not for production paths).

use crate::chunk::Compression;
use crate::record::{KIND_DTC, KIND_LOG, Record};
use crate::writer::{RecWriter, WriterConfig};

/// A test VIN.
pub const VIN: &[u8; 17] = b"WAUZZZ8V1KA000001";

/// The `i`-th record of a simple deterministic stream: DTCs (every other one failed),
/// and log lines of every severity.
pub fn record(i: u64) -> Record<'static> {
    const MESSAGES: [&[u8]; 4] =
        [b"", b"misfire detected", b"bus off \xff\xfe", b"ARGCHUNK inside a message"];
    let ts_ns = 1_767_225_600_000_000_000 + i * 1_000_000;
    if i % 3 == 0 {
        Record {
            kind: KIND_LOG,
            severity: (i % 6) as u8,
            ecu: 0x07E0 + (i % 2) as u16,
            ts_ns,
            code: (i % 5) as u32 * 1000,
            dtc_status: 0,
            message: MESSAGES[(i % 4) as usize],
        }
    } else {
        Record {
            kind: KIND_DTC,
            severity: 3,
            ecu: 0x07E0 + (i % 3) as u16,
            ts_ns,
            code: [0x0003_0100, 0x00C1_0087, 0xFF04_2000, 0x009A_BC11][(i % 4) as usize],
            dtc_status: if i % 2 == 0 { 0x09 } else { 0x08 },
            message: MESSAGES[(i % 4) as usize],
        }
    }
}

/// Writes `records` records of [`record`] with the given chunk size and compression.
pub fn file_with(records: u64, chunk_bytes: usize, compression: Compression) -> Vec<u8> {
    let config = WriterConfig { chunk_bytes, compression, zstd_level: 1 };
    let mut writer = RecWriter::new(Vec::new(), VIN, 1_767_225_600_000_000_000, "fw-1.2.3", config)
        .expect("writing to memory");
    for i in 0..records {
        writer.push(&record(i)).expect("writing to memory");
    }
    writer.finish().expect("writing to memory")
}

/// A small valid file of a few chunks.
pub fn sample_file() -> Vec<u8> {
    file_with(200, 1024, Compression::None)
}
