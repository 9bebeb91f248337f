//! Error events (rec-format.md, "What counts as an error event") and their keys.
//!
//! An [`ErrorCode`] packs the key into a `u64` so that the hot loop counts integers;
//! [`ErrorCode::key`] spells it (`P0301-00`, `APP-07E0-1234`) only when a report is built.

use std::fmt;

use crate::record::{KIND_DTC, KIND_LOG, Record, SEVERITY_ERROR, SEVERITY_FATAL, STATUS_TEST_FAILED};

const TAG_SHIFT: u32 = 56;
const TAG_DTC: u64 = 1;
const TAG_APP: u64 = 2;
const ECU_SHIFT: u32 = 40;
const DTC_MASK: u32 = 0x00FF_FFFF;

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
        let ecu = u64::from(record.ecu) << ECU_SHIFT;
        if record.kind == KIND_DTC {
            if record.dtc_status & STATUS_TEST_FAILED == 0 {
                return None;
            }
            return Some(Self(TAG_DTC << TAG_SHIFT | ecu | u64::from(record.code & DTC_MASK)));
        }
        // Exactly error (4) or fatal (5): bytes 6 and 7 are undefined severities, not worse ones.
        let severe = record.severity == SEVERITY_ERROR || record.severity == SEVERITY_FATAL;
        if record.kind == KIND_LOG && severe && record.code != 0 {
            return Some(Self(TAG_APP << TAG_SHIFT | ecu | u64::from(record.code)));
        }
        None
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
