//! The sequential header walk: where chunks start, which bytes are skipped, and whether
//! the file is truncated. It reads only chunk headers (check 1 and `stored_len`), never
//! payloads, so it is quick and its result does not depend on payload corruption.

use memchr::memmem;

use crate::chunk::{CHUNK_MAGIC, ChunkHeader};

/// One step of the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A chunk header passing check 1 at `offset`, its payload inside the file.
    Chunk { offset: usize, header: ChunkHeader },
    /// `len` bytes at `offset` that start no chunk (passed over while resynchronising).
    Skipped { offset: usize, len: usize },
    /// A chunk header at `offset` whose payload runs past the end of the file; the `len`
    /// bytes from `offset` to the end are skipped and the walk stops.
    Truncated { offset: usize, len: usize },
}

/// Iterates the [`Step`]s of a file from a given offset.
#[derive(Debug)]
pub struct ChunkWalk<'a> {
    file: &'a [u8],
    pos: usize,
    /// The walk stops once it reaches this offset (the file's end, or a range's end).
    stop: usize,
    finder: memmem::Finder<'static>,
}

impl<'a> ChunkWalk<'a> {
    /// Walks the whole file from `start` (the header's `header_len`).
    pub fn new(file: &'a [u8], start: usize) -> Self {
        Self::range(file, start, file.len())
    }

    /// Walks from `start`, a chunk start found by a previous walk, and stops at `stop`.
    /// Because a walk depends only on the bytes from its position on, this yields exactly
    /// the steps a whole-file walk yields between the two offsets.
    pub fn range(file: &'a [u8], start: usize, stop: usize) -> Self {
        debug_assert!(stop <= file.len());
        Self { file, pos: start, stop: stop.min(file.len()), finder: memmem::Finder::new(&CHUNK_MAGIC) }
    }

    /// Where the next step starts (the file's length once the walk hit a truncation).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The first offset after `from` where a header passing check 1 starts.
    fn resync(&self, from: usize) -> Option<usize> {
        let mut at = from;
        while at < self.file.len() {
            let found = at + self.finder.find(&self.file[at..])?;
            if ChunkHeader::at(self.file, found).is_some() {
                return Some(found);
            }
            at = found + 1;
        }
        None
    }
}

impl Iterator for ChunkWalk<'_> {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        if self.pos >= self.stop {
            return None;
        }
        let offset = self.pos;
        let Some(header) = ChunkHeader::at(self.file, offset) else {
            let next = self.resync(offset + 1).unwrap_or(self.file.len());
            self.pos = next;
            return Some(Step::Skipped { offset, len: next - offset });
        };
        let end = offset as u64 + header.span_len();
        if end > self.file.len() as u64 {
            self.pos = self.file.len();
            self.stop = self.pos;
            return Some(Step::Truncated { offset, len: self.file.len() - offset });
        }
        self.pos = end as usize;
        Some(Step::Chunk { offset, header })
    }
}

/// What the walk of a whole file found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Layout {
    /// Chunks found (good or corrupt; which is decided when they are parsed).
    pub chunks: u64,
    pub bytes_skipped: u64,
    pub truncated: bool,
}

impl Layout {
    /// Accounts for one step.
    pub fn add(&mut self, step: &Step) {
        match *step {
            Step::Chunk { .. } => self.chunks += 1,
            Step::Skipped { len, .. } => self.bytes_skipped += len as u64,
            Step::Truncated { len, .. } => {
                self.bytes_skipped += len as u64;
                self.truncated = true;
            }
        }
    }

    /// Adds what another walk of the same file found (the file's layout, when the walks
    /// cover disjoint parts of it).
    pub fn merge(&mut self, other: &Layout) {
        self.chunks += other.chunks;
        self.bytes_skipped += other.bytes_skipped;
        self.truncated |= other.truncated;
    }
}

/// A run of whole chunks, `[start, end)` in file offsets, that one worker parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ChunkRange {
    pub start: u64,
    pub end: u64,
    pub chunks: u64,
}
