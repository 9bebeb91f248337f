//! The 48-byte chunk header and check 1 of the spec (the one that moves the reader).

use crate::bytes::{read_u32, read_u64};

/// ASCII `ARGCHUNK`.
pub const CHUNK_MAGIC: [u8; 8] = *b"ARGCHUNK";
/// Size of a chunk header.
pub const CHUNK_HEADER_LEN: usize = 48;
/// Largest allowed `stored_len` and `raw_len` (64 MiB).
pub const MAX_PAYLOAD_LEN: u32 = 64 * 1024 * 1024;

/// Payload compression of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Zstd,
}

impl Compression {
    pub fn code(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Zstd => 1,
        }
    }
}

/// A chunk header that passed check 1 (inside the file, magic and header CRC match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    pub stored_len: u32,
    pub raw_len: u32,
    pub record_count: u32,
    /// The raw compression byte; anything but 0 or 1 makes the chunk corrupt.
    pub compression: u8,
    pub first_ts_ns: u64,
    pub last_ts_ns: u64,
    pub payload_crc: u32,
}

impl ChunkHeader {
    /// Check 1: reads a chunk header at `offset`, or `None` when none starts there.
    #[inline]
    pub fn at(file: &[u8], offset: usize) -> Option<Self> {
        let head = file.get(offset..offset.checked_add(CHUNK_HEADER_LEN)?)?;
        if head[..8] != CHUNK_MAGIC || crate::crc::crc32c(&head[..44]) != read_u32(head, 44) {
            return None;
        }
        Some(Self {
            stored_len: read_u32(head, 8),
            raw_len: read_u32(head, 12),
            record_count: read_u32(head, 16),
            compression: head[20],
            first_ts_ns: read_u64(head, 24),
            last_ts_ns: read_u64(head, 32),
            payload_crc: read_u32(head, 40),
        })
    }

    /// Total bytes of header and stored payload.
    pub fn span_len(&self) -> u64 {
        CHUNK_HEADER_LEN as u64 + u64::from(self.stored_len)
    }

    /// Encodes this header, computing `header_crc`.
    pub fn encode(&self) -> [u8; CHUNK_HEADER_LEN] {
        let mut out = [0u8; CHUNK_HEADER_LEN];
        out[..8].copy_from_slice(&CHUNK_MAGIC);
        out[8..12].copy_from_slice(&self.stored_len.to_le_bytes());
        out[12..16].copy_from_slice(&self.raw_len.to_le_bytes());
        out[16..20].copy_from_slice(&self.record_count.to_le_bytes());
        out[20] = self.compression;
        out[24..32].copy_from_slice(&self.first_ts_ns.to_le_bytes());
        out[32..40].copy_from_slice(&self.last_ts_ns.to_le_bytes());
        out[40..44].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crate::crc::crc32c(&out[..44]);
        out[44..48].copy_from_slice(&crc.to_le_bytes());
        out
    }
}
