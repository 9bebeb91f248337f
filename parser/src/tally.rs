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

impl CodeCount {
    fn merge(&mut self, other: &CodeCount) {
        self.count += other.count;
        self.first_ts_ns = self.first_ts_ns.min(other.first_ts_ns);
        self.last_ts_ns = self.last_ts_ns.max(other.last_ts_ns);
    }
}

/// Error-event counts by (code, ECU).
#[derive(Debug, Clone, Default)]
pub struct CodeTally {
    /// Packed keys; 0 marks an empty slot (a packed key is never 0).
    keys: Vec<u64>,
    counts: Vec<CodeCount>,
    len: usize,
}

const INITIAL_SLOTS: usize = 64;

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

    /// Adds a count (from another tally, or one event).
    #[inline(always)]
    pub fn add_count(&mut self, key: CodeAtEcu, count: CodeCount) {
        if (self.len + 1) * 4 > self.keys.len() * 3 {
            self.grow();
        }
        let bits = key.bits();
        let mask = self.keys.len() - 1;
        let mut slot = slot_of(bits, self.keys.len());
        loop {
            let here = self.keys[slot];
            if here == bits {
                self.counts[slot].merge(&count);
                return;
            }
            if here == 0 {
                self.keys[slot] = bits;
                self.counts[slot] = count;
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
        self.keys.iter().zip(&self.counts).filter(|(k, _)| **k != 0).map(|(k, c)| (CodeAtEcu(*k), *c))
    }

    /// The pairs sorted by key: a deterministic order for messages and tests.
    pub fn to_sorted_vec(&self) -> Vec<(CodeAtEcu, CodeCount)> {
        let mut all: Vec<_> = self.iter().collect();
        all.sort_unstable_by_key(|(k, _)| *k);
        all
    }

    fn grow(&mut self) {
        let slots = (self.keys.len() * 2).max(INITIAL_SLOTS);
        let keys = std::mem::replace(&mut self.keys, vec![0; slots]);
        let empty = CodeCount { count: 0, first_ts_ns: 0, last_ts_ns: 0 };
        let counts = std::mem::replace(&mut self.counts, vec![empty; slots]);
        self.len = 0;
        for (k, c) in keys.into_iter().zip(counts) {
            if k != 0 {
                self.add_count(CodeAtEcu(k), c);
            }
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
