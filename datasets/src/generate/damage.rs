//! Damage to a generated file, in the ways rec-format.md says readers must survive. Garbage
//! is inserted between chunks while the file streams out; the other kinds patch a few bytes
//! of the finished file in place or cut its tail, so no file is ever held in memory.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

use argus_parser::{CHUNK_HEADER_LEN, CHUNK_MAGIC, FILE_HEADER_LEN};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a damaged file is damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Damage {
    /// One bit of one chunk's payload flipped: that chunk is corrupt.
    PayloadBitFlip,
    /// One bit of one chunk header flipped: the reader resynchronises past the chunk.
    ChunkHeader,
    /// Random bytes (sometimes with a false chunk magic) between two chunks: skipped.
    Garbage,
    /// The upload stopped inside the last chunk's payload: the file is truncated.
    TruncatedTail,
    /// The file header is invalid: the whole file is rejected.
    RejectedHeader,
}

impl Damage {
    pub const ALL: [Damage; 5] = [
        Damage::PayloadBitFlip,
        Damage::ChunkHeader,
        Damage::Garbage,
        Damage::TruncatedTail,
        Damage::RejectedHeader,
    ];

    /// A damage kind; a rejected header is the rare one, as uploads mostly tear, not vanish.
    pub fn choose(rng: &mut impl Rng) -> Self {
        match rng.random_range(0..100) {
            0..35 => Damage::PayloadBitFlip,
            35..60 => Damage::ChunkHeader,
            60..80 => Damage::Garbage,
            80..95 => Damage::TruncatedTail,
            _ => Damage::RejectedHeader,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Damage::PayloadBitFlip => "payload bit flip",
            Damage::ChunkHeader => "broken chunk header",
            Damage::Garbage => "garbage between chunks",
            Damage::TruncatedTail => "truncated tail",
            Damage::RejectedHeader => "rejected header",
        }
    }
}

/// Where a chunk lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSpan {
    pub offset: u64,
    pub stored_len: u64,
}

/// Follows the chunks of a file being written and damages it.
#[derive(Debug)]
pub struct Damager {
    damage: Damage,
    rng: ChaCha8Rng,
    chunks: u64,
    /// A uniformly chosen chunk so far (reservoir sampling: one slot, constant memory).
    victim: Option<ChunkSpan>,
    last: Option<ChunkSpan>,
    /// Garbage goes after this chunk (or at the end when the file has fewer chunks).
    garbage_after: u64,
    garbage_written: bool,
}

impl Damager {
    /// `expected_chunks` spreads the garbage over the file; it need not be exact.
    pub fn new(damage: Damage, seed: u64, expected_chunks: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let garbage_after = rng.random_range(0..expected_chunks.max(1));
        Self { damage, rng, chunks: 0, victim: None, last: None, garbage_after, garbage_written: false }
    }

    pub fn damage(&self) -> Damage {
        self.damage
    }

    /// Called after each chunk is written to `out`; may write garbage right after it.
    /// Returns the bytes written.
    pub fn after_chunk(&mut self, span: ChunkSpan, out: &mut impl Write) -> io::Result<u64> {
        self.chunks += 1;
        if self.rng.random_range(0..self.chunks) == 0 {
            self.victim = Some(span);
        }
        self.last = Some(span);
        if self.damage == Damage::Garbage && !self.garbage_written && self.chunks > self.garbage_after {
            self.garbage_written = true;
            return self.write_garbage(out);
        }
        Ok(0)
    }

    fn write_garbage(&mut self, out: &mut impl Write) -> io::Result<u64> {
        let mut garbage = vec![0u8; self.rng.random_range(1..=4096)];
        self.rng.fill_bytes(&mut garbage);
        // A false chunk magic (whose header CRC cannot match) makes the reader work harder.
        if garbage.len() >= CHUNK_HEADER_LEN && self.rng.random_bool(0.5) {
            let at = self.rng.random_range(0..=garbage.len() - CHUNK_HEADER_LEN);
            garbage[at..at + CHUNK_MAGIC.len()].copy_from_slice(&CHUNK_MAGIC);
        }
        out.write_all(&garbage)?;
        Ok(garbage.len() as u64)
    }

    /// Applies the damage to the finished file of `len` bytes; returns its new length.
    pub fn finish(mut self, file: &mut File, len: u64) -> io::Result<u64> {
        let fallback = self.last.is_none() && self.damage != Damage::RejectedHeader;
        match (self.damage, self.victim, self.last) {
            // A file without chunks can only be damaged by appending garbage or breaking its header.
            _ if fallback || (self.damage == Damage::Garbage && !self.garbage_written) => {
                file.seek(SeekFrom::End(0))?;
                Ok(len + self.write_garbage(file)?)
            }
            (Damage::PayloadBitFlip, Some(chunk), _) => {
                let at = chunk.offset
                    + CHUNK_HEADER_LEN as u64
                    + self.rng.random_range(0..chunk.stored_len.max(1));
                self.flip_bit(file, at.min(len.saturating_sub(1)))?;
                Ok(len)
            }
            (Damage::ChunkHeader, Some(chunk), _) => {
                let at = chunk.offset + self.rng.random_range(0..CHUNK_HEADER_LEN as u64);
                self.flip_bit(file, at)?;
                Ok(len)
            }
            (Damage::TruncatedTail, _, Some(last)) => {
                // Cut inside the payload so that the last header still announces it.
                let keep =
                    last.offset + CHUNK_HEADER_LEN as u64 + self.rng.random_range(0..last.stored_len.max(1));
                file.set_len(keep)?;
                Ok(keep)
            }
            (Damage::Garbage, _, _) => Ok(len),
            _ => self.reject(file, len),
        }
    }

    fn flip_bit(&mut self, file: &mut File, at: u64) -> io::Result<()> {
        let mut byte = [0u8];
        file.seek(SeekFrom::Start(at))?;
        io::Read::read_exact(file, &mut byte)?;
        byte[0] ^= 1 << self.rng.random_range(0..8);
        file.seek(SeekFrom::Start(at))?;
        file.write_all(&byte)
    }

    /// Breaks the file header in one of the ways the spec rejects.
    fn reject(&mut self, file: &mut File, len: u64) -> io::Result<u64> {
        let (at, bytes): (u64, Vec<u8>) = match self.rng.random_range(0..5) {
            0 => {
                let keep = self.rng.random_range(0..FILE_HEADER_LEN as u64).min(len);
                file.set_len(keep)?;
                return Ok(keep);
            }
            1 => (self.rng.random_range(0..8), vec![b'#']),
            2 => (8, self.rng.random_range(2u16..=u16::MAX).to_le_bytes().to_vec()),
            3 => (10, self.rng.random_range(0u16..FILE_HEADER_LEN as u16).to_le_bytes().to_vec()),
            _ => (12, (1u32 << self.rng.random_range(0..32)).to_le_bytes().to_vec()),
        };
        if at + bytes.len() as u64 <= len {
            file.seek(SeekFrom::Start(at))?;
            file.write_all(&bytes)?;
        }
        Ok(len)
    }
}
