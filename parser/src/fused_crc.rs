//! An uncompressed payload's CRC-32C computed a few words per record inside the record
//! walk (count.rs) instead of in a pass of its own.
//!
//! The walk is a dependent chain (each record's offset comes from the previous record's
//! length) that leaves most of the core idle; the CRC is independent work. So the payload
//! is cut into three equal word-aligned segments, each with its own CRC register, and
//! every record of the walk advances all three by [`WORDS`] words: three independent
//! `crc32` chains that fill the walk's gaps. Whatever the walk did not reach is finished
//! afterwards by the whole-buffer kernel ([`continue_raw`]), and the three registers are
//! joined by shifting (see [`shift`]).

use std::arch::x86_64::_mm_crc32_u64;
use std::sync::OnceLock;

use crate::crc::continue_raw;

/// Words each stream advances per record. Records average about 7 words, so 3 streams of
/// 3 words keep pace with the walk on typical data; big records leave a remainder.
/// (2 measured the same.)
const WORDS: usize = 3;

/// The CRC state beside one walk over `payload`.
#[derive(Clone, Copy)]
pub(crate) struct FusedCrc<'a> {
    /// Stream 0's next word; streams 1 and 2 read `seg` and `2 * seg` bytes further.
    next: *const u8,
    /// Where stream 0 stops stepping: a whole number of steps, within its segment.
    stop: *const u8,
    /// Bytes per segment (a multiple of 8); the last segment also takes the tail.
    seg: usize,
    /// Raw CRC registers (not inverted). Stream 0 starts as the CRC's initial value,
    /// streams 1 and 2 from zero, which is what [`shift`] joining needs.
    regs: [u64; 3],
    payload: &'a [u8],
}

impl<'a> FusedCrc<'a> {
    /// The state at the start of `payload`, or `None` when the CPU lacks SSE 4.2 (std
    /// caches the detection, so this costs a load per chunk).
    pub(crate) fn new(payload: &'a [u8]) -> Option<Self> {
        if !is_x86_feature_detected!("sse4.2") {
            return None;
        }
        let seg = payload.len() / 24 * 8;
        let steps = seg / (8 * WORDS);
        Some(Self {
            next: payload.as_ptr(),
            // In bounds: steps * 8 * WORDS <= seg <= payload.len().
            stop: payload[steps * 8 * WORDS..].as_ptr(),
            seg,
            regs: [0xFFFF_FFFF, 0, 0],
            payload,
        })
    }

    /// Advances each stream by [`WORDS`] words, unless they are done. Meant to be inlined
    /// into a function compiled with SSE 4.2 (count.rs `walk_sse42`).
    #[inline(always)]
    pub(crate) fn step(&mut self) {
        if self.next < self.stop {
            for w in 0..WORDS {
                // SAFETY: `next < stop` and both step by 8 * WORDS from the payload's
                // start, so `next + 8 * WORDS <= stop <= payload + seg`: stream 0 reads
                // within segment 0, and streams 1 and 2 within segments 1 and 2, which
                // end at or before `payload + 3 * seg <= payload + len`. Unaligned reads.
                // `new` returned `Some` only when the CPU has SSE 4.2.
                unsafe {
                    let p = self.next.add(8 * w);
                    let words = [
                        p.cast::<u64>().read_unaligned(),
                        p.add(self.seg).cast::<u64>().read_unaligned(),
                        p.add(2 * self.seg).cast::<u64>().read_unaligned(),
                    ];
                    for (reg, word) in self.regs.iter_mut().zip(words) {
                        *reg = _mm_crc32_u64(*reg, u64::from_le(word));
                    }
                }
            }
            // SAFETY: still within segment 0 (see above).
            self.next = unsafe { self.next.add(8 * WORDS) };
        }
    }

    /// The CRC-32C of the whole payload: the streams' remainders, then the join.
    pub(crate) fn finish(self) -> u32 {
        let (p, seg) = (self.payload, self.seg);
        let done = self.next as usize - p.as_ptr() as usize;
        let segments = [&p[done..seg], &p[seg + done..2 * seg], &p[2 * seg + done..]];
        let mut regs = [0u32; 3];
        for ((out, reg), rest) in regs.iter_mut().zip(self.regs).zip(segments) {
            *out = continue_raw(reg as u32, rest);
        }
        let joined = shift(shift(regs[0], seg) ^ regs[1], p.len() - 2 * seg) ^ regs[2];
        !joined
    }
}

/// The raw CRC register `reg` after `n` more zero bytes. A register's update is linear
/// over GF(2) in (register, data), so the register of a stream `a b` is
/// `shift(register of a, len(b)) ^ register of b started from zero`. That is
/// `crc32c_combine` without the inversions; its zlib algorithm squares 32×32 matrices
/// anew on every call (27 µs measured, twice per chunk), whereas these are built once.
fn shift(mut reg: u32, n: usize) -> u32 {
    for (k, op) in zero_operators().iter().enumerate() {
        if (n >> k) & 1 == 1 {
            reg = apply(op, reg);
        }
    }
    reg
}

/// A linear map of 32-bit registers: column `i` is the image of bit `i`.
type Operator = [u32; 32];

fn apply(op: &Operator, v: u32) -> u32 {
    let mut out = 0;
    for (i, column) in op.iter().enumerate() {
        // Branch-free: the bits of a CRC are random.
        out ^= column & 0u32.wrapping_sub((v >> i) & 1);
    }
    out
}

/// Operator `k` appends 2^k zero bytes (for every bit of a usize).
fn zero_operators() -> &'static [Operator; usize::BITS as usize] {
    static OPS: OnceLock<[Operator; usize::BITS as usize]> = OnceLock::new();
    OPS.get_or_init(|| {
        let square = |op: &Operator| op.map(|column| apply(op, column));
        // One zero bit of the reflected CRC-32C: shift right, xor the polynomial when
        // the bit shifted out was set.
        let mut bit = [0u32; 32];
        bit[0] = 0x82F6_3B78;
        for (i, column) in bit.iter_mut().enumerate().skip(1) {
            *column = 1 << (i - 1);
        }
        let mut ops = [square(&square(&square(&bit))); usize::BITS as usize];
        for k in 1..ops.len() {
            ops[k] = square(&ops[k - 1]);
        }
        ops
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Stepped any number of times (as many as the walk's records), then finished:
        /// the same CRC as the crate's one pass.
        #[test]
        fn fused_equals_crc32c(payload in proptest::collection::vec(any::<u8>(), 0..300), steps in 0usize..40) {
            let Some(mut crc) = FusedCrc::new(&payload) else { return Ok(()) };
            for _ in 0..steps {
                crc.step();
            }
            prop_assert_eq!(crc.finish(), ::crc32c::crc32c(&payload));
        }

        #[test]
        fn continue_raw_continues_a_raw_register(a in proptest::collection::vec(any::<u8>(), 0..300), b in proptest::collection::vec(any::<u8>(), 0..300)) {
            // The raw register after `a` is the inverted CRC of `a`.
            let joined: Vec<u8> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(!continue_raw(!::crc32c::crc32c(&a), &b), ::crc32c::crc32c(&joined));
        }

        #[test]
        fn shift_is_combine_without_inversions(a in any::<u32>(), b in any::<u32>(), n in 0usize..(1 << 27)) {
            // crc32c(x y) from the finished CRCs of x and y, y's register re-based to zero.
            prop_assert_eq!(!(shift(!a, n) ^ !b ^ shift(!0, n)), ::crc32c::crc32c_combine(a, b, n));
        }
    }
}
