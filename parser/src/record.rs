//! Records: the 24-byte header and the message, read in place from a chunk payload.

use crate::bytes::{read_u16, read_u32, read_u64};

/// Size of a record header.
pub const RECORD_HEADER_LEN: usize = 24;

/// Record kind byte: a diagnostic trouble code.
pub const KIND_DTC: u8 = 1;
/// Record kind byte: an ECU log line.
pub const KIND_LOG: u8 = 2;

/// Severity byte of `error`.
pub const SEVERITY_ERROR: u8 = 4;
/// Severity byte of `fatal`.
pub const SEVERITY_FATAL: u8 = 5;
/// ISO 14229-1 status bit 0, testFailed.
pub const STATUS_TEST_FAILED: u8 = 0x01;

/// One record, borrowing its message from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub kind: u8,
    pub severity: u8,
    pub ecu: u16,
    pub ts_ns: u64,
    /// DTC: the 3-byte DTC in the low 24 bits (the high byte is ignored). LOG: the application code.
    pub code: u32,
    pub dtc_status: u8,
    /// UTF-8 text as written; it may be invalid and is then shown lossily.
    pub message: &'a [u8],
}

impl<'a> Record<'a> {
    /// Reads the record at the start of `bytes`, which must hold all of it.
    #[inline(always)]
    fn read(bytes: &'a [u8]) -> Self {
        Self {
            kind: bytes[4],
            severity: bytes[5],
            ecu: read_u16(bytes, 6),
            ts_ns: read_u64(bytes, 8),
            code: read_u32(bytes, 16),
            dtc_status: bytes[20],
            message: &bytes[RECORD_HEADER_LEN..],
        }
    }

    /// Appends the encoded record to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(RECORD_HEADER_LEN + self.message.len()).expect("record fits in u32");
        out.extend_from_slice(&len.to_le_bytes());
        out.push(self.kind);
        out.push(self.severity);
        out.extend_from_slice(&self.ecu.to_le_bytes());
        out.extend_from_slice(&self.ts_ns.to_le_bytes());
        out.extend_from_slice(&self.code.to_le_bytes());
        out.push(self.dtc_status);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(self.message);
    }

    /// Encoded size of this record.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.message.len()
    }
}

/// Why a payload's records are malformed (check 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record at {0} is shorter than its header or runs past the payload")]
    BadLength(usize),
    #[error("record at {0} has reserved kind {1}")]
    BadKind(usize, u8),
    #[error("payload holds {found} records, header says {expected}")]
    CountMismatch { expected: u32, found: u64 },
}

/// Check 5: every record fits, has a known kind, they end exactly at the payload's end,
/// and there are `expected` of them.
pub fn validate_records(payload: &[u8], expected: u32) -> Result<(), RecordError> {
    let mut offset = 0usize;
    let mut found = 0u64;
    while offset < payload.len() {
        let rest = &payload[offset..];
        if rest.len() < RECORD_HEADER_LEN {
            return Err(RecordError::BadLength(offset));
        }
        let len = read_u32(rest, 0) as usize;
        if len < RECORD_HEADER_LEN || len > rest.len() {
            return Err(RecordError::BadLength(offset));
        }
        let kind = rest[4];
        if kind != KIND_DTC && kind != KIND_LOG {
            return Err(RecordError::BadKind(offset, kind));
        }
        offset += len;
        found += 1;
    }
    if found != u64::from(expected) {
        return Err(RecordError::CountMismatch { expected, found });
    }
    Ok(())
}

/// Iterates the records of a payload that passed [`validate_records`].
///
/// On a payload that did not, it stops at the first malformed record instead of panicking.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Records<'a> {
    pub fn new(payload: &'a [u8]) -> Self {
        Self { rest: payload }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    #[inline]
    fn next(&mut self) -> Option<Record<'a>> {
        if self.rest.len() < RECORD_HEADER_LEN {
            return None;
        }
        let len = read_u32(self.rest, 0) as usize;
        if len < RECORD_HEADER_LEN || len > self.rest.len() {
            self.rest = &[];
            return None;
        }
        let (this, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(Record::read(this))
    }
}
