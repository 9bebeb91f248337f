//! Error events (rec-format.md, "What counts as an error event") and their keys.
//!
//! An [`ErrorCode`] packs the key into a `u64` so that the hot loop counts integers;
//! [`ErrorCode::key`] spells it (`P0301-00`, `APP-07E0-1234`) only when a report is built.

use std::fmt;

use crate::record::{KIND_DTC, KIND_LOG, Record, SEVERITY_ERROR, SEVERITY_FATAL, STATUS_TEST_FAILED};

const TAG_SHIFT: u32 = 56;
const TAG_DTC: u64 = 1;
const TAG_APP: u64 = 2;
// `of_event` computes the tag as TAG_APP minus one for a DTC.
const _: () = assert!(TAG_APP - 1 == TAG_DTC);
// `is_error_event` tests both severities with one mask.
const _: () = assert!(SEVERITY_ERROR & !1 == SEVERITY_ERROR && SEVERITY_FATAL & !1 == SEVERITY_ERROR);
const ECU_SHIFT: u32 = 40;
const DTC_MASK: u32 = 0x00FF_FFFF;

/// Whether a record is an error event: a DTC with testFailed set, or a LOG of severity
/// exactly error (4) or fatal (5) with a non-zero code. Severities 6 and 7 are undefined
/// values seen in real data, not worse ones. Computed without branches (see `of_event`).
#[inline(always)]
pub(crate) fn is_error_event(kind: u8, severity: u8, code: u32, dtc_status: u8) -> bool {
    let failed_dtc = (kind == KIND_DTC) & (dtc_status & STATUS_TEST_FAILED != 0);
    // 4 and 5 differ in bit 0 only: one mask and one comparison.
    let severe = severity & !1 == SEVERITY_ERROR;
    let app_error = (kind == KIND_LOG) & severe & (code != 0);
    failed_dtc | app_error
}

/// The key of an error event, packed: a tag, and either the 24-bit DTC or the ECU and the
/// application code. Never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(u64);

/// An error event's code together with the ECU that raised it, packed into one non-zero
/// `u64` (the ECU sits in bits 40..56, the tag above it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeAtEcu(pub(crate) u64);

impl CodeAtEcu {
    /// Classifies a record: `Some` when it is an error event.
    #[inline(always)]
    pub fn of(record: &Record<'_>) -> Option<Self> {
        let Record { kind, severity, ecu, code, dtc_status, .. } = *record;
        is_error_event(kind, severity, code, dtc_status).then(|| Self::of_event(kind, ecu, code))
    }

    /// The key of a record already known to be an error event. Branch-free, like
    /// [`is_error_event`]: in the hot loop DTCs and log lines come in no predictable order.
    #[inline(always)]
    pub(crate) fn of_event(kind: u8, ecu: u16, code: u32) -> Self {
        let dtc = u64::from(kind == KIND_DTC);
        debug_assert!(kind == KIND_DTC || kind == KIND_LOG);
        // A DTC keeps the low 24 bits of its code (the high byte is ignored); a LOG all 32.
        let code = u64::from(code) & (0xFFFF_FFFF >> (8 * dtc));
        Self((TAG_APP - dtc) << TAG_SHIFT | u64::from(ecu) << ECU_SHIFT | code)
    }

    /// The ECU address that raised the event.
    pub fn ecu(self) -> u16 {
        (self.0 >> ECU_SHIFT) as u16
    }

    /// The event's key. A DTC's key does not depend on the ECU; an application error's does.
    pub fn code(self) -> ErrorCode {
        if self.0 >> TAG_SHIFT == TAG_DTC {
            ErrorCode(self.0 & !(0xFFFF << ECU_SHIFT))
        } else {
            ErrorCode(self.0)
        }
    }

    /// The packed form (never zero); used as a hash-table key.
    #[inline(always)]
    pub fn bits(self) -> u64 {
        self.0
    }

    /// Rebuilds a value from [`Self::bits`].
    pub fn from_bits(bits: u64) -> Option<Self> {
        let tag = bits >> TAG_SHIFT;
        (tag == TAG_DTC || tag == TAG_APP).then_some(Self(bits))
    }
}

impl ErrorCode {
    /// The spelled key, for example `P0301-00` or `APP-07E0-1234`.
    pub fn key(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >> TAG_SHIFT == TAG_DTC {
            let dtc = (self.0 as u32) & DTC_MASK;
            write_dtc(f, dtc)
        } else {
            let ecu = (self.0 >> ECU_SHIFT) as u16;
            write!(f, "APP-{ecu:04X}-{}", self.0 as u32)
        }
    }
}

/// Spells a 24-bit DTC as J2012 plus failure-type byte: `high16 << 8 | ftb`.
fn write_dtc(f: &mut fmt::Formatter<'_>, dtc: u32) -> fmt::Result {
    let high = dtc >> 8;
    let letter = ['P', 'C', 'B', 'U'][(high >> 14) as usize & 3];
    let first = (high >> 12) & 0x3;
    write!(f, "{letter}{first}{:03X}-{:02X}", high & 0xFFF, dtc & 0xFF)
}

/// Spells a 24-bit DTC (`0x030100` is `P0301-00`); the high byte of `code` is ignored.
pub fn dtc_key(code: u32) -> String {
    ErrorCode(TAG_DTC << TAG_SHIFT | u64::from(code & DTC_MASK)).key()
}

/// Spells an application error key (`APP-07E0-1234`).
pub fn app_key(ecu: u16, code: u32) -> String {
    ErrorCode(TAG_APP << TAG_SHIFT | u64::from(ecu) << ECU_SHIFT | u64::from(code)).key()
}

/// Formats an ECU address as four uppercase hex digits.
pub fn ecu_hex(ecu: u16) -> String {
    format!("{ecu:04X}")
}
