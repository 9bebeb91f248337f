//! Checks 2 to 5 of a chunk, and zstd decompression into a reused buffer.

use crate::chunk::{CHUNK_HEADER_LEN, ChunkHeader, MAX_PAYLOAD_LEN};
use crate::record::{RecordError, validate_records};

/// The magic number that starts a standard zstd frame (RFC 8878, 3.1.1).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Why a chunk that passed check 1 is corrupt (its records do not count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    #[error("stored_len or raw_len over 64 MiB")]
    TooLarge,
    #[error("payload runs past the end of the file")]
    OutOfFile,
    #[error("payload CRC mismatch")]
    PayloadCrc,
    #[error("unknown compression {0}")]
    UnknownCompression(u8),
    #[error("raw_len differs from stored_len in an uncompressed chunk")]
    LengthMismatch,
    #[error("zstd payload does not decompress to exactly raw_len bytes")]
    Zstd,
    #[error(transparent)]
    Records(#[from] RecordError),
}

/// Validates chunks and yields their raw payloads. It owns the one buffer that zstd
/// chunks decompress into, so a scan's memory is bounded by its largest chunk.
pub struct ChunkDecoder {
    scratch: Vec<u8>,
    zstd: Option<zstd::bulk::Decompressor<'static>>,
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ChunkDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkDecoder").field("scratch_capacity", &self.scratch.capacity()).finish()
    }
}

impl ChunkDecoder {
    pub fn new() -> Self {
        Self { scratch: Vec::new(), zstd: None }
    }

    /// Runs checks 2 to 5 on the chunk whose header is at `offset`, returning its raw
    /// payload: borrowed from `file` when uncompressed, from the scratch buffer otherwise.
    pub fn payload<'a>(
        &'a mut self,
        file: &'a [u8],
        offset: usize,
        header: &ChunkHeader,
    ) -> Result<&'a [u8], Corruption> {
        let (raw, _) = self.raw_payload(file, offset, header, false)?;
        validate_records(raw, header.record_count)?;
        Ok(raw)
    }

    /// Checks 2 to 4 only: the raw payload, its records not yet walked. The scanner runs
    /// check 5 in the same pass that counts the records. With `defer_crc`, the payload CRC
    /// of an uncompressed chunk is not checked either but returned, for that pass to check
    /// while it walks (its raw payload is the stored one); compressed payloads are checked
    /// here, before zstd reads them.
    pub(crate) fn raw_payload<'a>(
        &'a mut self,
        file: &'a [u8],
        offset: usize,
        header: &ChunkHeader,
        defer_crc: bool,
    ) -> Result<(&'a [u8], Option<u32>), Corruption> {
        if header.stored_len > MAX_PAYLOAD_LEN || header.raw_len > MAX_PAYLOAD_LEN {
            return Err(Corruption::TooLarge);
        }
        let start = offset + CHUNK_HEADER_LEN;
        let stored = file.get(start..start + header.stored_len as usize).ok_or(Corruption::OutOfFile)?;
        if defer_crc && header.compression == 0 {
            if header.raw_len != header.stored_len {
                return Err(Corruption::LengthMismatch);
            }
            return Ok((stored, Some(header.payload_crc)));
        }
        if crate::crc::crc32c(stored) != header.payload_crc {
            return Err(Corruption::PayloadCrc);
        }
        let raw = match header.compression {
            0 if header.raw_len != header.stored_len => return Err(Corruption::LengthMismatch),
            0 => stored,
            1 => self.decompress(stored, header.raw_len as usize)?,
            other => return Err(Corruption::UnknownCompression(other)),
        };
        debug_assert_eq!(raw.len(), header.raw_len as usize);
        Ok((raw, None))
    }

    fn decompress(&mut self, stored: &[u8], raw_len: usize) -> Result<&[u8], Corruption> {
        // The spec's compression 1 is "one zstd frame holding the whole payload". libzstd
        // alone would also accept no bytes at all, several concatenated frames, skippable
        // frames and legacy (pre-1.0) frames; each is a payload that is not one frame.
        if !stored.starts_with(&ZSTD_MAGIC)
            || zstd::zstd_safe::find_frame_compressed_size(stored) != Ok(stored.len())
        {
            return Err(Corruption::Zstd);
        }
        if self.scratch.len() < raw_len {
            self.scratch.resize(raw_len, 0);
        }
        let zstd = match &mut self.zstd {
            Some(z) => z,
            slot => slot.insert(zstd::bulk::Decompressor::new().map_err(|_| Corruption::Zstd)?),
        };
        // A destination of exactly raw_len bytes: a frame that holds more fails here.
        let written =
            zstd.decompress_to_buffer(stored, &mut self.scratch[..raw_len]).map_err(|_| Corruption::Zstd)?;
        if written != raw_len {
            return Err(Corruption::Zstd);
        }
        Ok(&self.scratch[..raw_len])
    }
}
