//! Replay roots written with the project's generator (`argus_datasets::generate::write_file`),
//! under `target/bench-data/`, reused when a marker says they are complete.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use argus_datasets::generate::{FileParams, write_file};

/// A replay root: `root/<batch>/<file>.rec`.
#[derive(Debug, Clone)]
pub struct Root {
    pub root: PathBuf,
    pub batches: u64,
    pub files: Vec<PathBuf>,
    pub bytes: u64,
}

/// `batches` batches of `files_per_batch` files of `size` bytes each (the generator's
/// default data, seeds `seed`, `seed + 1`, ...), written once under `data_dir/name`.
pub fn replay_root(
    data_dir: &Path,
    name: &str,
    batches: u64,
    files_per_batch: u64,
    size: u64,
    seed: u64,
) -> Root {
    let root = data_dir.join(name);
    let marker = data_dir.join(format!("{name}.complete"));
    let params = format!("batches={batches} files_per_batch={files_per_batch} size={size} seed={seed}\n");
    let reuse = std::fs::read_to_string(&marker).is_ok_and(|m| m == params);
    if !reuse {
        let _ = std::fs::remove_file(&marker);
        let _ = std::fs::remove_dir_all(&root);
        eprintln!(
            "generating {batches} batches x {files_per_batch} files x {} under {} ...",
            crate::common::size_text(size),
            root.display()
        );
    }
    let mut files = Vec::new();
    let mut jobs = Vec::new();
    for b in 0..batches {
        let dir = root.join(format!("batch-{b:05}"));
        if !reuse {
            std::fs::create_dir_all(&dir).expect("creating a batch directory");
        }
        for f in 0..files_per_batch {
            let path = dir.join(format!("seg-{f:02}.rec"));
            let params = FileParams {
                seed: seed + b * files_per_batch + f,
                size,
                vehicle: seed + b,
                segment: f as u32,
                ..FileParams::default()
            };
            jobs.push((path.clone(), params));
            files.push(path);
        }
    }
    if !reuse {
        // Two writers at a time (the machines have two cores); the bytes do not depend on it.
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    while let Some((path, params)) =
                        jobs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        write_file(path, params)
                            .unwrap_or_else(|e| panic!("generating {}: {e:#}", path.display()));
                    }
                });
            }
        });
    }
    if !reuse {
        std::fs::write(&marker, params).expect("writing the marker");
    }
    let bytes = files.iter().map(|p| std::fs::metadata(p).expect("a generated file").len()).sum();
    if std::env::var("ARGUS_BENCH_CACHE").as_deref() == Ok("keep") {
        eprintln!("page cache: inputs left as they are (ARGUS_BENCH_CACHE=keep)");
    } else {
        files.iter().for_each(|f| recache(f));
        eprintln!("page cache: inputs dropped and read back sequentially (read-ahead folios)");
    }
    Root { root, batches, files, bytes }
}

/// Puts `path` in the page cache as reading it from disk would: its cached pages are
/// dropped (`posix_fadvise` DONTNEED, which only drops clean pages) and it is read once,
/// front to back. How a file entered the page cache decides what mapping it costs:
/// read-ahead caches it in large folios, whereas writing it in small pieces, as the
/// generator just did, may leave 4 KiB folios. Measured on the 4 GiB input, touching every
/// page of a fresh mapping took 33 ms after read-ahead and 445 ms after writing, and
/// `munmap` 1.5 ms against 135 ms. Every run starts from the read-ahead state, so the
/// figures do not depend on the file's history.
pub fn recache(path: &Path) {
    use std::io::Read;
    use std::os::fd::AsRawFd;

    let mut file = std::fs::File::open(path).expect("opening a bench input");
    // SAFETY: a valid open descriptor; the advice changes caching, not contents.
    let advised = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(advised, 0, "posix_fadvise on {}", path.display());
    let mut buffer = vec![0u8; 8 << 20];
    while file.read(&mut buffer).expect("reading a bench input") > 0 {}
}

/// Reads back whatever part of `path` the page cache lost; returns how many bytes that was.
///
/// The machines' page cache does not keep idle file pages: with 15 GB free, 10-20 % of
/// an input was found evicted minutes after `recache` (`fincore`), about 1.3 MB/s. A
/// timed pass that met those holes read them from disk, so whichever pass came first in
/// an iteration paid for it. Calling this before every timed pass makes each one start
/// from a fully cached input; `mincore` on an untouched mapping finds the holes without
/// mapping any page. (Linux answers `mincore` truthfully only to a process that owns the
/// file or may write it, as the benchmarks do for the inputs they wrote; to others it
/// reports every page cached, and this reads nothing back.)
pub fn make_resident(path: &Path) -> u64 {
    use std::os::unix::fs::FileExt;

    let file = std::fs::File::open(path).expect("opening a bench input");
    let len = file.metadata().expect("a bench input's size").len() as usize;
    if len == 0 {
        return 0;
    }
    // SAFETY: bench inputs are not changed while the benchmark runs; the map is only
    // passed to mincore, never read.
    let map = unsafe { memmap2::Mmap::map(&file) }.expect("mapping a bench input");
    // SAFETY: a valid page size query.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).expect("a page size");
    let mut resident = vec![0u8; len.div_ceil(page)];
    // SAFETY: the mapping is page-aligned and `len` long; `resident` has one byte per page.
    let status = unsafe { libc::mincore(map.as_ptr() as *mut libc::c_void, len, resident.as_mut_ptr()) };
    assert_eq!(status, 0, "mincore on {}", path.display());
    drop(map);
    // Allocated at the first hole: most calls find none, and zeroing 8 MiB per file
    // would cost more than the check.
    let mut buffer = Vec::new();
    let mut missing = 0;
    let mut start = 0;
    // Runs of pages alike in bit 0 (cached or not); the missing runs are read back.
    for run in resident.chunk_by(|a, b| (a ^ b) & 1 == 0) {
        let end = (start + run.len() * page).min(len);
        if run[0] & 1 == 0 {
            buffer.resize(8 << 20, 0);
            for at in (start..end).step_by(buffer.len()) {
                let n = buffer.len().min(end - at);
                file.read_exact_at(&mut buffer[..n], at as u64).expect("reading a bench input");
            }
            missing += (end - start) as u64;
        }
        start = end;
    }
    missing
}

/// [`make_resident`] over all of a root's files.
pub fn make_root_resident(root: &Root) -> u64 {
    root.files.iter().map(|f| make_resident(f)).sum()
}
