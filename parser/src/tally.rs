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

/// Error-event counts by (code, ECU): an open-addressing table whose slot holds a key
/// and its count side by side, so that counting an event touches one cache line.
#[derive(Debug, Clone, Default)]
pub struct CodeTally {
    slots: Vec<Slot>,
    len: usize,
}

/// A packed key and its count; key 0 marks an empty slot (a packed key is never 0).
#[derive(Debug, Clone, Copy)]
#[repr(align(32))]
struct Slot {
    key: u64,
    count: CodeCount,
}

const EMPTY: Slot = Slot { key: 0, count: CodeCount { count: 0, first_ts_ns: 0, last_ts_ns: 0 } };

/// A file holds tens to a few hundred distinct pairs; at most a quarter of the slots are
/// used, so that nearly every event finds its pair in its home slot (a probe that goes on
/// is a mispredicted branch, and the events come in no predictable order).
const INITIAL_SLOTS: usize = 1024;

/// The home slot of `key` in a table of `2^(64 - shift)` slots.
#[inline(always)]
fn slot_of(key: u64, shift: u32) -> usize {
    // Fibonacci hashing takes the top bits of the product: every key bit reaches them. (Bits
    // 32 and up, masked, missed the ECU and tag bits: keys differing only in their ECU
    // collided, and probe chains grew long.)
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

/// The shift of [`slot_of`] for a table of `slots` slots (a power of two).
fn shift_for(slots: usize) -> u32 {
    debug_assert!(slots.is_power_of_two() && slots >= INITIAL_SLOTS);
    64 - slots.trailing_zeros()
}

impl CodeCount {
    /// The count of one event at `ts_ns`.
    #[inline(always)]
    fn one(ts_ns: u64) -> Self {
        Self { count: 1, first_ts_ns: ts_ns, last_ts_ns: ts_ns }
    }

    #[inline(always)]
    fn merge(&mut self, other: &CodeCount) {
        self.count += other.count;
        // Branches, not `min`/`max`: the comparisons are predictable (timestamps mostly
        // rise), and a branch does not make the next event of the same pair wait for this
        // store, as a conditional move would.
        if other.first_ts_ns < self.first_ts_ns {
            self.first_ts_ns = other.first_ts_ns;
        }
        if other.last_ts_ns > self.last_ts_ns {
            self.last_ts_ns = other.last_ts_ns;
        }
    }
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
    pub fn add(&mut self, key: CodeAtEcu, ts_ns: u64) {
        self.add_count(key, CodeCount::one(ts_ns));
    }

    /// Counts each event `(key, ts_ns)` of `events`. The common case, a pair already in
    /// its home slot, is a multiply, a compare and the count's update, with the table's
    /// address and size kept in registers; everything else is out of line.
    #[inline(always)]
    pub fn add_events(&mut self, events: impl IntoIterator<Item = (CodeAtEcu, u64)>) {
        let mut events = events.into_iter();
        while let Some((key, ts_ns)) = self.add_home_hits(&mut events) {
            self.add(key, ts_ns);
        }
    }

    /// Counts events while each finds its pair in its home slot; returns the first that
    /// does not.
    #[inline(always)]
    fn add_home_hits(
        &mut self,
        events: &mut impl Iterator<Item = (CodeAtEcu, u64)>,
    ) -> Option<(CodeAtEcu, u64)> {
        if self.slots.is_empty() {
            return events.next();
        }
        let shift = shift_for(self.slots.len());
        let slots = self.slots.as_mut_slice();
        for (key, ts_ns) in events {
            let Some(slot) = slots.get_mut(slot_of(key.bits(), shift)) else { return Some((key, ts_ns)) };
            if slot.key != key.bits() {
                return Some((key, ts_ns));
            }
            slot.count.merge(&CodeCount::one(ts_ns));
        }
        None
    }

    /// Adds a count (from another tally, or one event).
    pub fn add_count(&mut self, key: CodeAtEcu, count: CodeCount) {
        if (self.len + 1) * 4 > self.slots.len() {
            self.grow();
        }
        let bits = key.bits();
        let mask = self.slots.len() - 1;
        let mut at = slot_of(bits, shift_for(self.slots.len()));
        loop {
            let slot = &mut self.slots[at];
            if slot.key == bits {
                slot.count.merge(&count);
                return;
            }
            if slot.key == 0 {
                *slot = Slot { key: bits, count };
                self.len += 1;
                return;
            }
            at = (at + 1) & mask;
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
        self.slots.iter().filter(|slot| slot.key != 0).map(|slot| (CodeAtEcu(slot.key), slot.count))
    }

    /// The pairs sorted by key: a deterministic order for messages and tests.
    pub fn to_sorted_vec(&self) -> Vec<(CodeAtEcu, CodeCount)> {
        let mut all: Vec<_> = self.iter().collect();
        all.sort_unstable_by_key(|(k, _)| *k);
        all
    }

    fn grow(&mut self) {
        let slots = (self.slots.len() * 2).max(INITIAL_SLOTS);
        let old = std::mem::replace(self, Self { slots: vec![EMPTY; slots], len: 0 });
        for (key, count) in old.iter() {
            self.add_count(key, count);
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::record::{KIND_DTC, KIND_LOG};

    proptest! {
        /// Counting events one by one or in a batch gives what a plain map gives, through
        /// collisions, probes and growth (up to 3,000 pairs grow the table twice).
        #[test]
        fn counts_like_a_map(events in proptest::collection::vec((any::<bool>(), 0u16..64, 0u32..48, any::<u64>()), 0..3000)) {
            let events: Vec<_> = events
                .into_iter()
                .map(|(dtc, ecu, code, ts)| {
                    (CodeAtEcu::of_event(if dtc { KIND_DTC } else { KIND_LOG }, ecu, code), ts)
                })
                .collect();
            let mut expected = BTreeMap::<CodeAtEcu, CodeCount>::new();
            for &(key, ts) in &events {
                let c = expected.entry(key).or_insert(CodeCount { count: 0, first_ts_ns: ts, last_ts_ns: ts });
                c.merge(&CodeCount::one(ts));
            }
            let expected: Vec<_> = expected.into_iter().collect();

            let mut one_by_one = CodeTally::new();
            for &(key, ts) in &events {
                one_by_one.add(key, ts);
            }
            let mut batched = CodeTally::new();
            let (head, tail) = events.split_at(events.len() / 2);
            batched.add_events(head.iter().copied());
            batched.add_events(tail.iter().copied());
            prop_assert_eq!(one_by_one.to_sorted_vec(), expected.clone());
            prop_assert_eq!(batched.to_sorted_vec(), expected.clone());
            prop_assert_eq!(batched.len(), expected.len());
        }
    }
}
