//! The 64-byte file header and the reasons a whole file is rejected.

use crate::bytes::{read_u16, read_u32, read_u64};

/// ASCII `ARGUSREC`.
pub const FILE_MAGIC: [u8; 8] = *b"ARGUSREC";
/// The only format version this reader understands.
pub const FORMAT_VERSION: u16 = 1;
/// Size of a version 1 file header; `header_len` may be larger in later versions.
pub const FILE_HEADER_LEN: usize = 64;
/// Length of a VIN.
pub const VIN_LEN: usize = 17;

/// Why a file was rejected as a whole (no record of it is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("short header")]
    ShortHeader,
    #[error("bad magic")]
    BadMagic,
    #[error("bad version")]
    BadVersion,
    #[error("bad header_len")]
    BadHeaderLen,
    #[error("bad flags")]
    BadFlags,
}

/// A valid file header, borrowed from the file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader<'a> {
    /// Offset of the first chunk.
    pub header_len: usize,
    pub vin: &'a [u8; VIN_LEN],
    pub session_start_ns: u64,
    /// Firmware version with its NUL padding.
    pub firmware: &'a [u8; 16],
}

impl<'a> FileHeader<'a> {
    /// Validates the header at the start of `file`, in the order of the spec's rejection list.
    pub fn parse(file: &'a [u8]) -> Result<Self, Rejection> {
        let Some(head) = file.get(..FILE_HEADER_LEN) else {
            return Err(Rejection::ShortHeader);
        };
        if head[..8] != FILE_MAGIC {
            return Err(Rejection::BadMagic);
        }
        if read_u16(head, 8) != FORMAT_VERSION {
            return Err(Rejection::BadVersion);
        }
        let header_len = usize::from(read_u16(head, 10));
        if header_len < FILE_HEADER_LEN || header_len > file.len() {
            return Err(Rejection::BadHeaderLen);
        }
        if read_u32(head, 12) != 0 {
            return Err(Rejection::BadFlags);
        }
        Ok(Self {
            header_len,
            vin: head[16..33].try_into().expect("17 bytes"),
            session_start_ns: read_u64(head, 40),
            firmware: head[48..64].try_into().expect("16 bytes"),
        })
    }

    /// The VIN as text; bytes that are not ASCII become U+FFFD.
    pub fn vin_text(&self) -> String {
        ascii_lossy(self.vin)
    }

    /// The firmware version as text, without its NUL padding.
    pub fn firmware_text(&self) -> String {
        let end = self.firmware.iter().position(|&b| b == 0).unwrap_or(16);
        ascii_lossy(&self.firmware[..end])
    }
}

fn ascii_lossy(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| if b.is_ascii() { char::from(b) } else { char::REPLACEMENT_CHARACTER }).collect()
}

/// Encodes a version 1 header; used by the writer and by tests.
pub fn encode_file_header(vin: &[u8; VIN_LEN], session_start_ns: u64, firmware: &str) -> [u8; 64] {
    let mut out = [0u8; FILE_HEADER_LEN];
    out[..8].copy_from_slice(&FILE_MAGIC);
    out[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[10..12].copy_from_slice(&(FILE_HEADER_LEN as u16).to_le_bytes());
    out[16..33].copy_from_slice(vin);
    out[40..48].copy_from_slice(&session_start_ns.to_le_bytes());
    let fw = firmware.as_bytes();
    let n = fw.len().min(16);
    out[48..48 + n].copy_from_slice(&fw[..n]);
    out
}
