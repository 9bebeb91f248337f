//! Per-code counts kept while parsing: an open-addressing table keyed by the packed
//! [`CodeAtEcu`], so that counting an error event is a multiply, a probe and three stores.

use crate::event::CodeAtEcu;

/// Count and time range of one (code, ECU) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeCount {
    pub count: u64,
    pub first_ts_ns: u64,
    pub last_ts_ns: u64,
}

/// Error-event counts by (code, ECU): an open-addressing table, its columns apart, so
/// that counting an event touches only the words it changes.
#[derive(Debug, Clone, Default)]
pub struct CodeTally {
    /// Packed keys; 0 marks an empty slot (a packed key is never 0).
    keys: Vec<u64>,
    counts: Vec<u64>,
    firsts: Vec<u64>,
    lasts: Vec<u64>,
    len: usize,
}

/// A file holds tens to a few hundred distinct pairs; at most a quarter of the slots are
/// used, so that nearly every event finds its pair in its home slot (a probe that goes on
/// is a mispredicted branch, and the events come in no predictable order).
const INITIAL_SLOTS: usize = 1024;

/// The home slot of `key` in a table of `slots` (a power of two) slots.
#[inline(always)]
fn slot_of(key: u64, slots: usize) -> usize {
    debug_assert!(slots.is_power_of_two() && slots >= INITIAL_SLOTS);
    // Fibonacci hashing takes the top bits of the product: every key bit reaches them. (Bits
    // 32 and up, masked, missed the ECU and tag bits: keys differing only in their ECU
    // collided, and probe chains grew long.)
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - slots.trailing_zeros())) as usize
}

impl CodeTally {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of distinct (code, ECU) pairs.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Counts one event at `ts_ns`.
    #[inline(always)]
    pub fn add(&mut self, key: CodeAtEcu, ts_ns: u64) {
        self.add_count(key, CodeCount { count: 1, first_ts_ns: ts_ns, last_ts_ns: ts_ns });
    }

    /// Adds a count (from another tally, or one event). The common case, a pair already
    /// in its home slot, is a few instructions; everything else is out of line.
    #[inline(always)]
    pub fn add_count(&mut self, key: CodeAtEcu, count: CodeCount) {
        let bits = key.bits();
        if !self.keys.is_empty() {
            let slot = slot_of(bits, self.keys.len());
            if self.keys[slot] == bits {
                self.merge_into(slot, &count);
                return;
            }
        }
        self.add_slow(bits, count);
    }

    #[inline(always)]
    fn merge_into(&mut self, slot: usize, count: &CodeCount) {
        self.counts[slot] += count.count;
        // Branches, not `min`/`max`: the comparisons are predictable (timestamps mostly
        // rise), and a branch does not make the next event of the same pair wait for this
        // store, as a conditional move would.
        if count.first_ts_ns < self.firsts[slot] {
            self.firsts[slot] = count.first_ts_ns;
        }
        if count.last_ts_ns > self.lasts[slot] {
            self.lasts[slot] = count.last_ts_ns;
        }
    }

    /// A pair away from its home slot, a new pair, or a table to grow.
    #[inline(never)]
    fn add_slow(&mut self, bits: u64, count: CodeCount) {
        if (self.len + 1) * 4 > self.keys.len() {
            self.grow();
        }
        let mask = self.keys.len() - 1;
        let mut slot = slot_of(bits, self.keys.len());
        loop {
            let here = self.keys[slot];
            if here == bits {
                self.merge_into(slot, &count);
                return;
            }
            if here == 0 {
                self.keys[slot] = bits;
                self.counts[slot] = count.count;
                self.firsts[slot] = count.first_ts_ns;
                self.lasts[slot] = count.last_ts_ns;
                self.len += 1;
                return;
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &CodeTally) {
        for (key, count) in other.iter() {
            self.add_count(key, count);
        }
    }

    /// The pairs and their counts, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (CodeAtEcu, CodeCount)> + '_ {
        (0..self.keys.len())
            .filter(|&slot| self.keys[slot] != 0)
            .map(|slot| (CodeAtEcu(self.keys[slot]), self.count_at(slot)))
    }

    fn count_at(&self, slot: usize) -> CodeCount {
        CodeCount { count: self.counts[slot], first_ts_ns: self.firsts[slot], last_ts_ns: self.lasts[slot] }
    }

    /// The pairs sorted by key: a deterministic order for messages and tests.
    pub fn to_sorted_vec(&self) -> Vec<(CodeAtEcu, CodeCount)> {
        let mut all: Vec<_> = self.iter().collect();
        all.sort_unstable_by_key(|(k, _)| *k);
        all
    }

    fn grow(&mut self) {
        let slots = (self.keys.len() * 2).max(INITIAL_SLOTS);
        let old = std::mem::replace(
            self,
            Self {
                keys: vec![0; slots],
                counts: vec![0; slots],
                firsts: vec![0; slots],
                lasts: vec![0; slots],
                len: 0,
            },
        );
        for (key, count) in old.iter() {
            self.add_slow(key.bits(), count);
        }
    }
}

impl PartialEq for CodeTally {
    fn eq(&self, other: &Self) -> bool {
        self.to_sorted_vec() == other.to_sorted_vec()
    }
}

impl Eq for CodeTally {}

impl FromIterator<(CodeAtEcu, CodeCount)> for CodeTally {
    fn from_iter<I: IntoIterator<Item = (CodeAtEcu, CodeCount)>>(iter: I) -> Self {
        let mut tally = Self::new();
        for (k, c) in iter {
            tally.add_count(k, c);
        }
        tally
    }
}
