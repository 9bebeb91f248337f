//! Opening a rec file: a read-only memory map, or a plain read where mapping fails.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use memmap2::Mmap;

/// The bytes of a rec file.
#[derive(Debug)]
pub struct RecFile {
    backing: Backing,
}

#[derive(Debug)]
enum Backing {
    Mapped(Mmap),
    Read(Vec<u8>),
}

impl RecFile {
    /// Maps the file read-only; falls back to reading it whole when it cannot be mapped
    /// (a pipe, a character device, a file system without mmap support).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, "is a directory"));
        }
        if meta.is_file() && meta.len() == 0 {
            // A zero-length mapping is an error on Linux; there is nothing to map anyway.
            return Ok(Self::from_bytes(Vec::new()));
        }
        // SAFETY: a mapping is only sound while nobody changes the file. Argus maps files
        // that are complete and immutable: uploads are mapped only after their batch was
        // completed, archived batches are read-only, and spooled copies belong to Argus.
        // If another program truncates a mapped file anyway, reading past the new end
        // raises SIGBUS; that is the documented cost of zero-copy parsing (as in ripgrep).
        match unsafe { Mmap::map(&file) } {
            Ok(map) => {
                #[cfg(unix)]
                let _ = map.advise(memmap2::Advice::Sequential);
                Ok(Self { backing: Backing::Mapped(map) })
            }
            Err(_) => {
                let mut bytes = Vec::new();
                (&file).read_to_end(&mut bytes)?;
                Ok(Self::from_bytes(bytes))
            }
        }
    }

    /// Wraps bytes already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self { backing: Backing::Read(bytes) }
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.backing {
            Backing::Mapped(map) => map,
            Backing::Read(bytes) => bytes,
        }
    }

    /// Whether the bytes are memory-mapped (rather than read into memory).
    pub fn is_mapped(&self) -> bool {
        matches!(self.backing, Backing::Mapped(_))
    }
}
