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

    /// Drops this process's page-table entries for the whole pages inside `range`, once
    /// those bytes have been parsed; the file's pages stay in the page cache. Tearing the
    /// entries down costs about as much as mapping them (with 4 KiB page-cache folios,
    /// 130 ms for 4 GiB), so the workers that parsed the ranges of a large file share that
    /// work as they go, instead of one thread paying it all in `munmap` at the end. It
    /// also keeps the process's resident set small. Reading the bytes again afterwards is
    /// still correct: they fault in again from the page cache.
    pub fn release_pages(&self, range: std::ops::Range<usize>) {
        let Backing::Mapped(map) = &self.backing else { return };
        let page = page_size();
        let start = range.start.div_ceil(page) * page;
        let end = range.end.min(map.len()) / page * page;
        if start >= end {
            return;
        }
        // SAFETY: MADV_DONTNEED discards changes only in private writable mappings; this
        // mapping is read-only, so it only drops page-table entries, and later reads see
        // the same file contents. `start..end` lies within the mapping.
        #[cfg(unix)]
        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start) };
    }

    /// Whether the bytes are memory-mapped (rather than read into memory).
    pub fn is_mapped(&self) -> bool {
        matches!(self.backing, Backing::Mapped(_))
    }
}

/// The size of a virtual-memory page (4 KiB where it cannot be asked).
fn page_size() -> usize {
    #[cfg(unix)]
    {
        static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        // SAFETY: sysconf has no preconditions.
        *PAGE.get_or_init(|| usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096))
    }
    #[cfg(not(unix))]
    4096
}
