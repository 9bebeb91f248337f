//! Error events (rec-format.md, "What counts as an error event") and their keys.
//!
//! An [`ErrorCode`] packs the key into a `u64` so that the hot loop counts integers;
//! [`ErrorCode::key`] spells it (`P0301-00`, `APP-07E0-1234`) only when a report is built.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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

/// The key of an error event, packed into a `u64` whose numeric order is the byte order of
/// its spelled key ([`ErrorCode::key`]), so that a Top-K tie-break and every arrangement of
/// codes in the dataflow compare plain integers:
///
/// - a DTC is `1 << 63 | letter rank << 22 | the other 22 bits of the 24-bit code`, the
///   letter ranked B < C < P < U (the packed code says P, C, B, U);
/// - an application error is `ecu << 40 | digits << 4 | length`: the decimal code's digits
///   left-aligned to ten places (padded with zeros, as a number), then its length, so that
///   "10" < "9" and a prefix sorts first. Every `APP-…` key sorts before every DTC, as 'A'
///   sorts before 'B', 'C', 'P' and 'U'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
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
        debug_assert!(kind == KIND_DTC || kind == KIND_LOG);
        // The two kinds differ in bit 0, DTC's set: arithmetic on that bit, where a
        // comparison was compiled into a branch.
        const { assert!(KIND_DTC & 1 == 1 && KIND_LOG & 1 == 0 && TAG_APP - 1 == TAG_DTC) };
        let dtc = u64::from(kind & 1);
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
            ErrorCode::dtc(self.0 as u32)
        } else {
            ErrorCode::app(self.ecu(), self.0 as u32)
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

/// The DTC flag of an [`ErrorCode`]; below it, application errors.
const DTC_BIT: u64 = 1 << 63;
/// A DTC letter's rank in spelling order, by its packed index (P, C, B, U); the
/// permutation is its own inverse.
const LETTER_RANK: [u32; 4] = [2, 1, 0, 3];
/// 10^i for i in 0..=10.
const POW10: [u64; 11] = {
    let mut table = [1u64; 11];
    let mut i = 1;
    while i < table.len() {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

impl ErrorCode {
    /// A DTC from its 24-bit packed code (J2012 `high16 << 8 | ftb`; the high byte of
    /// `dtc` is ignored).
    fn dtc(dtc: u32) -> Self {
        let dtc = dtc & DTC_MASK;
        let rank = LETTER_RANK[(dtc >> 22) as usize];
        Self(DTC_BIT | u64::from(rank << 22 | dtc & 0x3F_FFFF))
    }

    /// An application error of `ecu` (code 0, never an error event, spells as "0").
    fn app(ecu: u16, code: u32) -> Self {
        let len = code.checked_ilog10().map_or(1, |l| l + 1) as usize;
        // At most ten digits, so padded below 10^10 < 2^34: bits 4..38.
        let padded = u64::from(code) * POW10[10 - len];
        Self(u64::from(ecu) << ECU_SHIFT | padded << 4 | len as u64)
    }

    /// The 24-bit packed code of a DTC (J2012 `high16 << 8 | ftb`); `None` for an
    /// application error.
    pub fn dtc_code(self) -> Option<u32> {
        if self.0 & DTC_BIT == 0 {
            return None;
        }
        let rank = (self.0 >> 22) as usize & 3;
        Some(LETTER_RANK[rank] << 22 | self.0 as u32 & 0x3F_FFFF)
    }

    /// The ECU and code of an application error; `None` for a DTC.
    pub fn app_parts(self) -> Option<(u16, u32)> {
        if self.0 & DTC_BIT != 0 {
            return None;
        }
        let len = (self.0 & 0xF) as usize;
        let padded = (self.0 >> 4) & ((1 << 36) - 1);
        let code = padded / POW10[10usize.checked_sub(len)?];
        Some(((self.0 >> ECU_SHIFT) as u16, u32::try_from(code).ok()?))
    }

    /// The spelled key, for example `P0301-00` or `APP-07E0-1234`.
    pub fn key(self) -> String {
        self.to_string()
    }
}

impl From<ErrorCode> for u64 {
    fn from(code: ErrorCode) -> u64 {
        code.0
    }
}

impl TryFrom<u64> for ErrorCode {
    type Error = String;

    /// Accepts exactly the values the constructors produce, so that equal codes have
    /// equal bits.
    fn try_from(bits: u64) -> Result<Self, String> {
        let code = Self(bits);
        let canonical = match (code.dtc_code(), code.app_parts()) {
            (Some(dtc), _) => Self::dtc(dtc) == code,
            (_, Some((ecu, app))) => Self::app(ecu, app) == code,
            (None, None) => false,
        };
        canonical.then_some(code).ok_or_else(|| format!("{bits:#x} is not a packed error code"))
    }
}

/// Why a string is not an error code's key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an error code (expected e.g. P0301-00 or APP-07E0-1234)")]
pub struct ParseCodeError(String);

impl FromStr for ErrorCode {
    type Err = ParseCodeError;

    /// Parses a spelled key; only the canonical spelling ([`ErrorCode::key`]) is accepted,
    /// so that parsing and spelling are inverse.
    fn from_str(text: &str) -> Result<Self, ParseCodeError> {
        let invalid = || ParseCodeError(text.to_owned());
        let code = parse_spelling(text).ok_or_else(invalid)?;
        if code.key() != text {
            return Err(invalid());
        }
        Ok(code)
    }
}

/// Reads a key's fields; [`ErrorCode::from_str`] then checks the spelling is canonical.
fn parse_spelling(text: &str) -> Option<ErrorCode> {
    if let Some(rest) = text.strip_prefix("APP-") {
        let (ecu, code) = rest.split_once('-')?;
        if ecu.len() != 4 {
            return None;
        }
        let ecu = u16::from_str_radix(ecu, 16).ok()?;
        // Code 0 is never an error event.
        let code = code.parse::<u32>().ok().filter(|c| *c != 0)?;
        return Some(ErrorCode::app(ecu, code));
    }
    let (dtc, ftb) = text.split_once('-')?;
    let mut chars = dtc.chars();
    let first = chars.next()?;
    let letter = ['P', 'C', 'B', 'U'].iter().position(|&l| l == first)? as u32;
    let rest = chars.as_str();
    if rest.len() != 4 || ftb.len() != 2 {
        return None;
    }
    let digits = u32::from_str_radix(rest, 16).ok()?;
    if digits > 0x3FFF {
        return None;
    }
    let ftb = u32::from_str_radix(ftb, 16).ok()?;
    Some(ErrorCode::dtc((letter << 14 | digits) << 8 | ftb))
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.dtc_code(), self.app_parts()) {
            (Some(dtc), _) => write_dtc(f, dtc),
            (_, Some((ecu, code))) => write!(f, "APP-{ecu:04X}-{code}"),
            (None, None) => unreachable!("an ErrorCode is built by its constructors"),
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
    ErrorCode::dtc(code).key()
}

/// Spells an application error key (`APP-07E0-1234`).
pub fn app_key(ecu: u16, code: u32) -> String {
    ErrorCode::app(ecu, code).key()
}

/// Formats an ECU address as four uppercase hex digits.
pub fn ecu_hex(ecu: u16) -> String {
    format!("{ecu:04X}")
}
