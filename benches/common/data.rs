//! Replay roots written with the project's generator (`argus::generate::write_file`),
//! under `target/bench-data/`, reused when a marker says they are complete.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use argus::generate::{FileParams, write_file};

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
    Root { root, batches, files, bytes }
}
