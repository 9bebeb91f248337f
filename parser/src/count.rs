//! The hot loop: check 5 and the counting of a chunk's records in one pass.
//!
//! A corrupt chunk's records must not count, yet whether a chunk is corrupt is known only
//! at its end. So the pass counts into locals and notes where the error events are (their
//! offsets, branch-free: DTCs and log lines come in no order a predictor could learn); only
//! once the whole payload checked out are the events added to the tally.
//!
//! An uncompressed chunk's payload CRC is checked here too, a few words per record inside
//! the walk (crc.rs), so that the CRC's independent work fills the walk's latency.

use crate::bytes::{read_u16, read_u32, read_u64};
use crate::decode::Corruption;
use crate::event::{CodeAtEcu, is_error_event};
use crate::record::{KIND_DTC, KIND_LOG, RECORD_HEADER_LEN, RecordError};
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
            None => walk(payload, events)?,
            Some(crc) => walk_checking_crc(payload, events, crc)?,
        };
        if walked.records != u64::from(expected) {
            return Err(RecordError::CountMismatch { expected, found: walked.records }.into());
        }
        for &event in &events[..walked.events] {
            let r = &payload[event as usize..];
            let key = CodeAtEcu::of_event(r[4], read_u16(r, 6), read_u32(r, 16));
            out.codes.add(key, read_u64(r, 8));
        }
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

/// The walk and the CRC of `payload`: fused where the CPU allows, else one after the
/// other. A chunk whose records are malformed is corrupt whatever its CRC.
fn walk_checking_crc(payload: &[u8], events: &mut [u32], crc: u32) -> Result<Walked, Corruption> {
    #[cfg(target_arch = "x86_64")]
    if let Some(fused) = crate::crc::FusedCrc::new(payload) {
        // SAFETY: `FusedCrc::new` returns `Some` only when the CPU has SSE 4.2.
        let (walked, fused) = unsafe { walk_sse42(payload, events, fused) }?;
        return if fused.finish() == crc { Ok(walked) } else { Err(Corruption::PayloadCrc) };
    }
    if crc32c::crc32c(payload) != crc {
        return Err(Corruption::PayloadCrc);
    }
    Ok(walk(payload, events)?)
}

/// The record walk alone, kept out of line so that its loop has the registers to itself
/// (inlined beside the tally, its counters were spilled to the stack).
#[inline(never)]
fn walk(payload: &[u8], events: &mut [u32]) -> Result<Walked, RecordError> {
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
    crc: crate::crc::FusedCrc<'a>,
) -> Result<(Walked, crate::crc::FusedCrc<'a>), RecordError> {
    // A local copy: the argument lives in the caller's memory, and stepping it stored
    // the registers there on every word.
    let mut local = crc;
    let walked = walk_with(payload, events, || local.step())?;
    Ok((walked, local))
}

/// The loop; `beside` runs once per record.
#[inline(always)]
fn walk_with(payload: &[u8], events: &mut [u32], mut beside: impl FnMut()) -> Result<Walked, RecordError> {
    let (mut first, mut last) = (u64::MAX, 0u64);
    let mut records = 0u64;
    let mut n = 0usize;
    let mut at = 0usize;
    while at < payload.len() {
        beside();
        // The 24-byte header as three little-endian words: [record_len, kind, severity,
        // ecu], ts_ns, [code, dtc_status, reserved]. Three loads, no bounds checks.
        let Some(head) = payload.get(at..at + RECORD_HEADER_LEN) else {
            return Err(RecordError::BadLength(at));
        };
        let head: &[u8; RECORD_HEADER_LEN] = head.try_into().expect("24 bytes");
        let (w0, ts, w2) = (read_u64(head, 0), read_u64(head, 8), read_u64(head, 16));
        let len = w0 as u32 as usize;
        // One comparison for "below 24 or past the payload" (the header fits, so the
        // subtraction on the right cannot wrap).
        if len.wrapping_sub(RECORD_HEADER_LEN) > payload.len() - at - RECORD_HEADER_LEN {
            return Err(RecordError::BadLength(at));
        }
        let kind = (w0 >> 32) as u8;
        if kind != KIND_DTC && kind != KIND_LOG {
            return Err(RecordError::BadKind(at, kind));
        }
        first = first.min(ts);
        last = last.max(ts);
        // Always written, kept only when it is an event: no branch on the record's kind.
        events[n] = at as u32;
        n += usize::from(is_error_event(kind, (w0 >> 40) as u8, w2 as u32, (w2 >> 32) as u8));
        records += 1;
        at += len;
    }
    Ok(Walked { records, events: n, first, last })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::validate_records;

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
                    let crc = Some(crc32c::crc32c(&edited));
                    assert_eq!(pass.run(&edited, expected, crc, &mut RangeScan::default()), rule);
                    assert_eq!(out.records, if verdict.is_ok() { u64::from(expected) } else { 0 });
                    checked += usize::from(verdict.is_err());
                }
            }
        }
        assert!(checked > 1000, "the edits reach the error paths ({checked})");
    }

    /// A single flipped bit anywhere in an uncompressed payload makes the chunk corrupt,
    /// also where its records stay valid and only the CRC checked in the walk sees it.
    #[test]
    fn a_flipped_bit_fails_the_crc_checked_in_the_walk() {
        let mut payload = Vec::new();
        for i in 0..40 {
            crate::testing::record(i).encode_into(&mut payload);
        }
        let crc = Some(crc32c::crc32c(&payload));
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
