//! The hot loop: check 5 and the counting of a chunk's records in one pass.
//!
//! A corrupt chunk's records must not count, yet whether a chunk is corrupt is known only
//! at its end. So the pass counts into locals and notes where the error events are (their
//! offsets, branch-free: DTCs and log lines come in no order a predictor could learn); only
//! once the whole payload checked out are the events added to the tally.
//!
//! An uncompressed chunk's payload CRC is checked here too, a few words per record inside
//! the walk (fused_crc.rs), so that the CRC's independent work fills the walk's latency.
//! The walk only tells a well-formed payload from a malformed one; for a malformed one,
//! the rule (`validate_records`) gives the reason.

use crate::bytes::{read_u16, read_u32, read_u64};
use crate::decode::Corruption;
use crate::event::CodeAtEcu;
use crate::record::{KIND_DTC, KIND_LOG, RECORD_HEADER_LEN, RecordError, validate_records};
use crate::scan::RangeScan;

/// Reused state of the pass: the offsets of one chunk's error events. At most one per 24
/// payload bytes, so its size is bounded by the largest chunk (a sixth of it).
#[derive(Debug, Default)]
pub(crate) struct RecordPass {
    events: Vec<u32>,
}

impl RecordPass {
    /// Checks the records of `payload` (check 5) and, with `crc`, that the payload's CRC-32C
    /// is `crc` (check 2 deferred); when all holds, adds the records to `out`.
    pub(crate) fn run(
        &mut self,
        payload: &[u8],
        expected: u32,
        crc: Option<u32>,
        out: &mut RangeScan,
    ) -> Result<(), Corruption> {
        debug_assert!(payload.len() <= crate::chunk::MAX_PAYLOAD_LEN as usize, "offsets fit in u32");
        // One slot per possible record, so that the walk writes without growing.
        let slots = payload.len() / RECORD_HEADER_LEN + 1;
        if self.events.len() < slots {
            self.events.resize(slots, 0);
        }
        let events = &mut self.events[..slots];
        let walked = match crc {
            None => walk(payload, events),
            Some(crc) => walk_checking_crc(payload, events, crc)?,
        };
        let Some(walked) = walked else {
            // Malformed: the rule itself says why (the walk only knows that).
            let rule = validate_records(payload, expected);
            debug_assert!(rule.is_err(), "the walk and validate_records disagree");
            return Err(rule.err().unwrap_or(RecordError::BadLength(0)).into());
        };
        if walked.records != u64::from(expected) {
            return Err(RecordError::CountMismatch { expected, found: walked.records }.into());
        }
        // The walk saw a whole header at each event: `get` is one bounds check for the
        // three reads, and never fails.
        let headers = events[..walked.events]
            .iter()
            .filter_map(|&at| payload.get(at as usize..at as usize + RECORD_HEADER_LEN));
        out.codes.add_events(
            headers.map(|r| (CodeAtEcu::of_event(r[4], read_u16(r, 6), read_u32(r, 16)), read_u64(r, 8))),
        );
        out.records += walked.records;
        out.error_events += walked.events as u64;
        if walked.records > 0 {
            out.ts_range = crate::scan::merge_ts(out.ts_range, Some((walked.first, walked.last)));
        }
        Ok(())
    }
}

/// What [`walk`] found in a well-formed payload.
struct Walked {
    records: u64,
    /// The first `events` entries of the offsets buffer are the error events.
    events: usize,
    first: u64,
    last: u64,
}

/// What a record's kind and severity bytes (bits 32..48 of its first header word) say:
/// whether the kind is known (the entry is not 0), and, as a truth table in bits 0..4,
/// whether a record is an error event given its testFailed bit and whether its code is
/// set (see [`is_event`]). A table lookup instead of comparisons keeps the walk's loop
/// short; its hot entries share a few cache lines.
static CLASS: [u8; 1 << 16] = {
    let mut table = [0u8; 1 << 16];
    let mut i = 0;
    while i < table.len() {
        let (kind, severity) = ((i & 0xFF) as u8, (i >> 8) as u8);
        table[i] = match kind {
            KIND_DTC => KNOWN | IF_TEST_FAILED,
            // 4 and 5 differ in bit 0 only.
            KIND_LOG if severity & !1 == crate::record::SEVERITY_ERROR => KNOWN | IF_CODE_SET,
            KIND_LOG => KNOWN,
            _ => 0,
        };
        i += 1;
    }
    table
};
/// The kind is DTC or LOG.
const KNOWN: u8 = 0x80;
/// Truth tables over `failed | coded << 1`: an event when testFailed is set (a DTC) ...
const IF_TEST_FAILED: u8 = 0b1010;
/// ... or when the code is not zero (a LOG of severity error or fatal).
const IF_CODE_SET: u8 = 0b1100;

/// Whether a record of `class` with header word `w2` ([code, dtc_status, ...]) is an
/// error event; the same rule as [`crate::event::is_error_event`], without branches.
#[inline(always)]
fn is_event(class: u8, w2: u64) -> bool {
    let failed = (w2 >> 32) & 1;
    let coded = u64::from(w2 as u32 != 0);
    (class >> (failed | coded << 1)) & 1 != 0
}

/// The walk and the CRC of `payload`: fused where the CPU allows, else one after the
/// other. `Err` when the CRC is wrong; a malformed payload is `Ok(None)` whatever its CRC,
/// as a chunk whose records are malformed is corrupt for that reason.
fn walk_checking_crc(payload: &[u8], events: &mut [u32], crc: u32) -> Result<Option<Walked>, Corruption> {
    #[cfg(target_arch = "x86_64")]
    if let Some(fused) = crate::fused_crc::FusedCrc::new(payload) {
        // SAFETY: `FusedCrc::new` returns `Some` only when the CPU has SSE 4.2.
        let Some((walked, fused)) = (unsafe { walk_sse42(payload, events, fused) }) else { return Ok(None) };
        return if fused.finish() == crc { Ok(Some(walked)) } else { Err(Corruption::PayloadCrc) };
    }
    walk_then_crc(payload, events, crc)
}

/// [`walk_checking_crc`] in two passes, for CPUs without SSE 4.2.
fn walk_then_crc(payload: &[u8], events: &mut [u32], crc: u32) -> Result<Option<Walked>, Corruption> {
    let Some(walked) = walk(payload, events) else { return Ok(None) };
    if crate::crc::crc32c(payload) != crc {
        return Err(Corruption::PayloadCrc);
    }
    Ok(Some(walked))
}

/// The record walk alone: `None` when the records are malformed (check 5 fails; its
/// reason is then the rule's to say). Kept out of line so that its loop has the registers
/// to itself.
#[inline(never)]
fn walk(payload: &[u8], events: &mut [u32]) -> Option<Walked> {
    walk_with(payload, events, || {})
}

/// The walk with the CRC's steps inside its loop, compiled for SSE 4.2 so that the
/// `crc32` instructions of `FusedCrc::step` are inlined.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
#[inline(never)]
fn walk_sse42<'a>(
    payload: &[u8],
    events: &mut [u32],
    crc: crate::fused_crc::FusedCrc<'a>,
) -> Option<(Walked, crate::fused_crc::FusedCrc<'a>)> {
    // A local copy: the argument lives in the caller's memory, and stepping it stored
    // the registers there on every word.
    let mut local = crc;
    let walked = walk_with(payload, events, || local.step())?;
    Some((walked, local))
}

/// The loop; `beside` runs once per record.
#[inline(always)]
fn walk_with(payload: &[u8], events: &mut [u32], mut beside: impl FnMut()) -> Option<Walked> {
    let (mut first, mut last) = (u64::MAX, 0u64);
    let mut records = 0u64;
    let mut n = 0usize;
    let mut at = 0usize;
    // A header starting at or before `last_header` fits in the payload.
    let last_header = payload.len().checked_sub(RECORD_HEADER_LEN);
    while last_header.is_some_and(|end| at <= end) {
        beside();
        // The 24-byte header as three little-endian words: [record_len, kind, severity,
        // ecu], ts_ns, [code, dtc_status, reserved]. Three loads, no bounds checks.
        let head: &[u8; RECORD_HEADER_LEN] = payload[at..at + RECORD_HEADER_LEN].try_into().ok()?;
        let (ts, w2) = (read_u64(head, 8), read_u64(head, 16));
        // The length on its own 32-bit load, so that the chain from one record to the
        // next is a load and an add; kind and severity on a second load, off that chain.
        let len = read_u32(head, 0) as usize;
        // A record running past the payload ends the loop with `at` beyond it, below.
        let class = CLASS[usize::from(read_u16(head, 4))];
        if len < RECORD_HEADER_LEN || class == 0 {
            return None;
        }
        first = first.min(ts);
        last = last.max(ts);
        // Always written, kept only when it is an event: no branch on the record's kind.
        events[n] = at as u32;
        n += usize::from(is_event(class, w2));
        records += 1;
        at += len;
    }
    // Whole records, up to the payload's last byte.
    (at == payload.len()).then_some(Walked { records, events: n, first, last })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::validate_records;

    /// The walk's table and the rule as written agree on every kind, severity, status and
    /// code, and the table knows exactly the two kinds.
    #[test]
    fn the_class_table_is_the_error_event_rule() {
        for kind in 0..=255u8 {
            for severity in 0..=255u8 {
                let class = CLASS[usize::from(kind) | usize::from(severity) << 8];
                assert_eq!(class != 0, kind == KIND_DTC || kind == KIND_LOG, "kind {kind}");
                for status in [0u8, 1, 0xFE, 0xFF] {
                    for code in [0u32, 1, 0x8000_0000] {
                        let w2 = u64::from(code) | u64::from(status) << 32 | 0xAB << 40;
                        let rule = crate::event::is_error_event(kind, severity, code, status);
                        assert_eq!(
                            class != 0 && is_event(class, w2),
                            rule,
                            "{kind} {severity} {status} {code}"
                        );
                    }
                }
            }
        }
    }

    /// The scanner's check 5 and the public `validate_records` are two implementations of
    /// one rule: on every single-byte edit of a payload they give the same verdict.
    #[test]
    fn the_pass_agrees_with_validate_records() {
        let mut payload = Vec::new();
        for i in 0..6 {
            crate::testing::record(i).encode_into(&mut payload);
        }
        let mut pass = RecordPass::default();
        let mut checked = 0;
        for at in 0..payload.len() {
            for value in [0u8, 1, 2, 3, 23, 24, 25, 0x80, 0xFF] {
                let mut edited = payload.clone();
                edited[at] = value;
                for expected in [5u32, 6] {
                    let mut out = RangeScan::default();
                    let verdict = pass.run(&edited, expected, None, &mut out);
                    let rule = validate_records(&edited, expected).map_err(Corruption::from);
                    assert_eq!(verdict, rule, "byte {at} = {value}");
                    // With the CRC checked in the walk: the same, when the CRC is right.
                    let crc = Some(crate::crc::crc32c(&edited));
                    assert_eq!(pass.run(&edited, expected, crc, &mut RangeScan::default()), rule);
                    assert_eq!(out.records, if verdict.is_ok() { u64::from(expected) } else { 0 });
                    checked += usize::from(verdict.is_err());
                }
            }
        }
        assert!(checked > 1000, "the edits reach the error paths ({checked})");
    }

    /// The two-pass fallback and the fused walk give the same verdict and the same walk on
    /// every single-bit flip of a payload and on every truncation of it.
    #[test]
    fn the_fallback_agrees_with_the_fused_walk() {
        let mut payload = Vec::new();
        for i in 0..30 {
            crate::testing::record(i).encode_into(&mut payload);
        }
        let crc = crate::crc::crc32c(&payload);
        let mut edits: Vec<Vec<u8>> = (0..payload.len()).map(|at| payload[..at].to_vec()).collect();
        for bit in 0..payload.len() * 8 {
            let mut flipped = payload.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            edits.push(flipped);
        }
        edits.push(payload.clone());
        let summary = |w: Result<Option<Walked>, Corruption>| {
            w.map(|w| w.map(|w| (w.records, w.events, w.first, w.last)))
        };
        let mut verdicts = [0usize; 3];
        for edited in &edits {
            let mut events = vec![0u32; edited.len() / RECORD_HEADER_LEN + 1];
            let fused = summary(walk_checking_crc(edited, &mut events, crc));
            let fallback = summary(walk_then_crc(edited, &mut events, crc));
            assert_eq!(fused, fallback);
            verdicts[match fused {
                Ok(Some(_)) => 0,
                Ok(None) => 1,
                Err(_) => 2,
            }] += 1;
        }
        assert_eq!(verdicts[0], 1, "only the unedited payload checks out");
        assert!(verdicts[1] > 100 && verdicts[2] > 100, "both failures occur: {verdicts:?}");
    }

    /// A single flipped bit anywhere in an uncompressed payload makes the chunk corrupt,
    /// also where its records stay valid and only the CRC checked in the walk sees it.
    #[test]
    fn a_flipped_bit_fails_the_crc_checked_in_the_walk() {
        let mut payload = Vec::new();
        for i in 0..40 {
            crate::testing::record(i).encode_into(&mut payload);
        }
        let crc = Some(crate::crc::crc32c(&payload));
        let mut pass = RecordPass::default();
        assert_eq!(pass.run(&payload, 40, crc, &mut RangeScan::default()), Ok(()));
        let mut only_the_crc = 0;
        for bit in 0..payload.len() * 8 {
            let mut flipped = payload.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let mut out = RangeScan::default();
            let verdict = pass.run(&flipped, 40, crc, &mut out);
            assert!(verdict.is_err(), "bit {bit}");
            assert_eq!(out, RangeScan::default(), "a corrupt chunk counts nothing");
            if validate_records(&flipped, 40).is_ok() {
                assert_eq!(verdict, Err(Corruption::PayloadCrc));
                only_the_crc += 1;
            }
        }
        assert!(only_the_crc > 1000, "most flips keep the records valid ({only_the_crc})");

        let file = crate::testing::file_with(40, 1 << 20, crate::chunk::Compression::None);
        let good = crate::scan::scan_file(&file).content;
        assert_eq!((good.chunks_good, good.records), (1, 40));
        let mut flipped = file.clone();
        *flipped.last_mut().unwrap() ^= 0x10; // the last record's message
        let bad = crate::scan::scan_file(&flipped).content;
        assert_eq!((bad.chunks_good, bad.chunks_corrupt, bad.records), (0, 1, 0));
    }
}
