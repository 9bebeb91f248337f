//! Writing one rec file: records stream through the parser's `RecWriter` a chunk at a
//! time, so memory stays bounded by the chunk size (at most a few MiB) whatever the file
//! size, and the file is written sequentially at disk speed.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;
use argus_parser::{CHUNK_HEADER_LEN, FILE_HEADER_LEN, RecWriter, WriterConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::damage::{ChunkSpan, Damage, Damager};
use super::records::RecordStream;
use super::sink::ThreadedFile;
use super::vehicle::Vehicle;

/// Chunk compression of a generated file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Compression {
    #[default]
    None,
    Zstd,
    /// Each chunk compressed or not at random, as vehicles that switch codecs mid-session do.
    Mixed,
}

/// What to write into one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileParams {
    /// Seed of the file's records, chunk sizes and damage.
    pub seed: u64,
    /// Approximate size of the file in bytes (the last chunk overshoots by a little).
    pub size: u64,
    pub compression: Compression,
    /// Damage the file in one way the spec covers (see [`Damage`]).
    pub corrupt: bool,
    /// Seed of the vehicle profile (VIN, firmware, ECUs, its dominant codes); the files
    /// of one batch share it.
    pub vehicle: u64,
    /// Index of the session in the vehicle's history: later segments start later.
    pub segment: u32,
}

impl Default for FileParams {
    fn default() -> Self {
        Self {
            seed: 1,
            size: 64 << 20,
            compression: Compression::None,
            corrupt: false,
            vehicle: 1,
            segment: 0,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub bytes: u64,
    pub damage: Option<Damage>,
}

/// Writes one rec file at `path`; returns its size in bytes.
pub fn write_file(path: &Path, params: &FileParams) -> anyhow::Result<u64> {
    write_file_with(path, params, &mut |_| {}).map(|w| w.bytes)
}

// Distinct streams per concern, so that e.g. damaging a file does not change its records.
const LAYOUT_SALT: u64 = 0x4C41_594F_5554_0001;
const DAMAGE_SALT: u64 = 0x4441_4D41_4745_0002;
const HOUR_NS: u64 = 3600 * 1_000_000_000;
/// Guess of zstd's stored/raw ratio on these records before the first chunk tells.
const ZSTD_RATIO_GUESS: f64 = 0.3;

/// Writes one file, reporting the bytes of each chunk to `progress` as it goes.
pub fn write_file_with(
    path: &Path,
    params: &FileParams,
    progress: &mut dyn FnMut(u64),
) -> anyhow::Result<Written> {
    let damage =
        params.corrupt.then(|| Damage::choose(&mut ChaCha8Rng::seed_from_u64(params.seed ^ DAMAGE_SALT)));
    write_damaged(path, params, damage, progress)
}

/// Writes one file with the given damage, if any (`params.corrupt` is not consulted).
pub fn write_damaged(
    path: &Path,
    params: &FileParams,
    damage: Option<Damage>,
    progress: &mut dyn FnMut(u64),
) -> anyhow::Result<Written> {
    let vehicle = Vehicle::from_seed(params.vehicle)?;
    let mut layout = ChaCha8Rng::seed_from_u64(params.seed ^ LAYOUT_SALT);
    // Chunks of 64 KiB to 4 MiB raw, log-uniform per file; small files get several chunks.
    let base = ((1u64 << 16) as f64 * 64f64.powf(layout.random::<f64>())) as u64;
    let base = base.min((params.size / 6).max(4096));
    let session_start_ns = vehicle.first_session_ns
        + u64::from(params.segment) * 26 * HOUR_NS
        + layout.random_range(0..6 * HOUR_NS);
    let mut damager = damage.map(|d| {
        // A stream of its own, so which bytes are hit does not depend on how the kind was chosen.
        Damager::new(d, params.seed ^ DAMAGE_SALT ^ 0xFFFF, params.size / base.max(1))
    });

    // Readable too: damage flips bits of the finished file in place.
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    let sink = RefCell::new(ThreadedFile::new(file).with_context(|| format!("writing {}", path.display()))?);
    // Twice the largest chunk target: the writer never cuts a chunk by itself.
    let config = WriterConfig { chunk_bytes: 2 * base as usize, ..WriterConfig::default() };
    let io_context = || format!("writing {}", path.display());
    let mut writer = RecWriter::new(Shared(&sink), &vehicle.vin, session_start_ns, &vehicle.firmware, config)
        .with_context(io_context)?;
    let mut records = RecordStream::new(&vehicle, ChaCha8Rng::seed_from_u64(params.seed), session_start_ns);
    let (mut zstd_raw, mut zstd_stored) = (0u64, 0u64);
    let mut written = FILE_HEADER_LEN as u64;
    progress(written);
    // The size counts the writer's bytes only: a damaged file is the clean one plus garbage.
    while writer.bytes_written() + CHUNK_HEADER_LEN as u64 + 64 < params.size {
        let zstd = match params.compression {
            Compression::None => false,
            Compression::Zstd => true,
            Compression::Mixed => layout.random_bool(0.5),
        };
        writer.set_compression(if zstd {
            argus_parser::Compression::Zstd
        } else {
            argus_parser::Compression::None
        });
        let ratio = match (zstd, zstd_raw) {
            (false, _) => 1.0,
            (true, 0) => ZSTD_RATIO_GUESS,
            (true, raw) => zstd_stored as f64 / raw as f64,
        };
        let room = (params.size - writer.bytes_written() - CHUNK_HEADER_LEN as u64) as f64 / ratio;
        let target = layout.random_range(base / 2..=base).min(room as u64).max(1);
        let mut raw = 0u64;
        while raw < target {
            let record = records.next_record();
            raw += record.encoded_len() as u64;
            writer.push(&record).with_context(io_context)?;
        }
        let offset = writer.bytes_written();
        writer.flush_chunk().with_context(io_context)?;
        let span = writer.bytes_written() - offset;
        if zstd {
            zstd_raw += raw;
            zstd_stored += span - CHUNK_HEADER_LEN as u64;
        }
        // Garbage is written after the chunk, so later chunk offsets include it.
        let garbage = match &mut damager {
            Some(d) => {
                let chunk = ChunkSpan { offset: written, stored_len: span - CHUNK_HEADER_LEN as u64 };
                d.after_chunk(chunk, &mut Shared(&sink)).with_context(io_context)?
            }
            None => 0,
        };
        written += span + garbage;
        progress(span + garbage);
    }
    writer.finish().with_context(io_context)?;
    let mut file = sink.into_inner().finish().with_context(io_context)?;
    let (bytes, damage) = match damager {
        Some(d) => {
            let damage = d.damage();
            (
                d.finish(&mut file, written).with_context(|| format!("damaging {}", path.display()))?,
                Some(damage),
            )
        }
        None => (written, None),
    };
    Ok(Written { bytes, damage })
}

/// Lets the record writer and the damager (which inserts garbage between chunks) write
/// to the same buffered file in turn.
struct Shared<'a>(&'a RefCell<ThreadedFile>);

impl Write for Shared<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_borrow_mut().map_err(io::Error::other)?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.try_borrow_mut().map_err(io::Error::other)?.flush()
    }
}

#[cfg(test)]
mod tests {
    use argus_parser::{FileStatus, scan_file};

    use super::*;

    fn params(seed: u64, compression: Compression) -> FileParams {
        FileParams { seed, size: 300_000, compression, ..FileParams::default() }
    }

    fn stats(path: &Path) -> (argus_parser::FileScan, argus_parser::FileStats) {
        let scan = scan_file(&std::fs::read(path).unwrap());
        let stats = argus_parser::FileStats::of_scan(&scan);
        (scan, stats)
    }

    #[test]
    fn each_damage_is_what_the_spec_reader_sees() {
        let dir = tempfile::tempdir().unwrap();
        for seed in 1..6 {
            for compression in [Compression::None, Compression::Zstd, Compression::Mixed] {
                let clean = dir.path().join("clean.rec");
                let p = params(seed, compression);
                let written = write_damaged(&clean, &p, None, &mut |_| {}).unwrap();
                let (_, ok) = stats(&clean);
                assert_eq!((ok.status, ok.bytes), (FileStatus::Ok, written.bytes));
                assert!(ok.chunks_good >= 3, "{ok:?}");
                for damage in Damage::ALL {
                    let path = dir.path().join("damaged.rec");
                    let w = write_damaged(&path, &p, Some(damage), &mut |_| {}).unwrap();
                    assert_eq!(w.bytes, std::fs::metadata(&path).unwrap().len());
                    let (_, s) = stats(&path);
                    let what = format!("{damage:?} seed {seed} {compression:?}: {s:?}");
                    match damage {
                        Damage::PayloadBitFlip => {
                            assert!(s.chunks_corrupt == 1 && s.bytes_skipped == 0, "{what}")
                        }
                        Damage::ChunkHeader => {
                            assert!(s.chunks_good == ok.chunks_good - 1 && s.bytes_skipped > 48, "{what}")
                        }
                        Damage::Garbage => {
                            assert!(
                                s.chunks_good == ok.chunks_good && s.bytes_skipped == w.bytes - ok.bytes,
                                "{what}"
                            )
                        }
                        Damage::TruncatedTail => {
                            assert!(s.truncated && s.chunks_good == ok.chunks_good - 1, "{what}")
                        }
                        Damage::RejectedHeader => assert_eq!(s.status, FileStatus::Rejected, "{what}"),
                    }
                    if damage != Damage::RejectedHeader {
                        assert_eq!(s.status, FileStatus::Partial, "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn sizes_are_close_to_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.rec");
        for (size, compression, slack) in [
            (2_000_000, Compression::None, 0.02),
            (2_000_000, Compression::Zstd, 0.15),
            (2_000_000, Compression::Mixed, 0.15),
            (20_000, Compression::None, 0.05),
            (100, Compression::None, 1.0),
        ] {
            let bytes =
                write_file(&path, &FileParams { size, compression, ..FileParams::default() }).unwrap();
            let error = (bytes as f64 - size as f64).abs() / size as f64;
            assert!(error <= slack, "{size} {compression:?}: {bytes} bytes");
            assert_eq!(stats(&path).1.status, FileStatus::Ok);
        }
    }

    #[test]
    fn zstd_chunks_are_compressed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.rec");
        write_file(&path, &params(9, Compression::Zstd)).unwrap();
        let (zstd, _) = stats(&path);
        write_file(&path, &params(9, Compression::None)).unwrap();
        let (plain, _) = stats(&path);
        // Same size on disk, so the compressed file holds several times the records.
        assert!(
            zstd.content.records > 2 * plain.content.records,
            "{} {}",
            zstd.content.records,
            plain.content.records
        );
    }
}
