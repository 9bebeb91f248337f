//! Cutting a file into ranges of whole chunks that workers parse independently: all at
//! once ([`split`]), or a piece of the walk at a time ([`Splitter`]), so that a caller can
//! hand out the first ranges of a large file while it walks on.

use crate::walk::{ChunkRange, ChunkWalk, Layout, Step};

/// Walks the whole file, returning its layout and the chunks cut into ranges of about
/// `target_bytes` each (a range never splits a chunk).
pub fn split(file: &[u8], start: usize, target_bytes: u64) -> (Layout, Vec<ChunkRange>) {
    let mut splitter = Splitter::new(start, target_bytes);
    let mut ranges = Vec::new();
    let done = splitter.advance(file, u64::MAX, &mut ranges);
    debug_assert!(done, "an unlimited budget walks to the end");
    (splitter.layout(), ranges)
}

/// A resumable [`split`]: each [`Splitter::advance`] walks on from where the last one
/// stopped. A walk depends only on the bytes from its position on, so the pieces add up to
/// exactly the ranges and layout of one whole walk, whatever the budgets.
#[derive(Debug, Clone)]
pub struct Splitter {
    pos: usize,
    target_bytes: u64,
    layout: Layout,
    /// The range being filled: it is emitted once it reaches the target or the file ends.
    open: Option<ChunkRange>,
    done: bool,
}

impl Splitter {
    /// A split of the chunks from `start` (the header's `header_len`).
    pub fn new(start: usize, target_bytes: u64) -> Self {
        Self { pos: start, target_bytes, layout: Layout::default(), open: None, done: false }
    }

    /// Walks about `budget` more bytes of `file` (at least one step), appending the ranges
    /// completed on the way to `out`. Returns `true` once the whole file is walked and
    /// its last range appended.
    pub fn advance(&mut self, file: &[u8], budget: u64, out: &mut Vec<ChunkRange>) -> bool {
        if self.done {
            return true;
        }
        let stop_at = (self.pos as u64).saturating_add(budget.max(1));
        let mut walk = ChunkWalk::new(file, self.pos);
        while let Some(step) = walk.next() {
            self.layout.add(&step);
            self.pos = walk.position();
            if let Step::Chunk { offset, header } = step {
                let end = offset as u64 + header.span_len();
                let range = self.open.get_or_insert(ChunkRange { start: offset as u64, end, chunks: 0 });
                range.end = end;
                range.chunks += 1;
                if range.end - range.start >= self.target_bytes {
                    out.extend(self.open.take());
                }
            }
            if self.pos as u64 >= stop_at {
                return false;
            }
        }
        out.extend(self.open.take());
        self.done = true;
        true
    }

    /// Where the walk stands: the offset of its next step.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// What the walk found so far (all of the file's layout once `advance` returned true).
    pub fn layout(&self) -> Layout {
        self.layout
    }
}
