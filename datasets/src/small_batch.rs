//! Small batches for tests and benchmarks that need many batches fast: a few files of a
//! few hundred records each, written straight through the parser's writer. About 70 % of
//! the records are failed DTCs (error events) over a skewed choice of codes, so that a
//! Top-K has a clear head and a long tail; the rest are info logs. [`crate::generate`]
//! writes realistic vehicles instead, at a cost per file that thousands of batches would
//! not bear.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use argus_parser::{Compression, KIND_DTC, KIND_LOG, RecWriter, Record, WriterConfig};

/// 2026-01-01T00:00:00Z, where small batches' sessions start unless told otherwise.
pub const SESSION_NS: u64 = 1_767_225_600_000_000_000;

/// What one small batch holds; the same value always writes the same bytes.
#[derive(Debug, Clone)]
pub struct SmallBatch {
    /// Seed of everything drawn: the vehicle, the record counts, the records.
    pub seed: u64,
    /// Files of the batch, `seg-00.rec`, `seg-01.rec`, …
    pub files: u32,
    /// Records per file, drawn from this range.
    pub records: Range<u64>,
    /// Distinct DTC codes. A DTC's rank is `codes × u³` (u uniform in [0, 1)), so a few
    /// codes hold most events.
    pub codes: u64,
    /// The VIN is that of one of this many vehicles, drawn.
    pub vehicles: u64,
    pub session_start_ns: u64,
    /// Time between consecutive records of a file.
    pub record_gap_ns: u64,
    /// Raw bytes per chunk (uncompressed chunks): small values give files of several chunks.
    pub chunk_bytes: usize,
}

impl Default for SmallBatch {
    fn default() -> Self {
        Self {
            seed: 0,
            files: 1,
            records: 100..300,
            codes: 400,
            vehicles: 2_000,
            session_start_ns: SESSION_NS,
            record_gap_ns: 10_000_000,
            chunk_bytes: 8192,
        }
    }
}

/// One file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmallFile {
    /// Its name in the batch directory (`seg-00.rec`).
    pub file_id: String,
    pub path: PathBuf,
    pub bytes: u64,
}

impl SmallBatch {
    /// The VIN of vehicle `index`: valid ISO 3779 characters, so that stores accept it.
    pub fn vin(index: u64) -> String {
        format!("SMALLBATCH{:07}", index % 10_000_000)
    }

    /// Writes the batch's files into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> io::Result<Vec<SmallFile>> {
        std::fs::create_dir_all(dir)?;
        let mut rng = Lcg::new(self.seed);
        let vin = Self::vin(rng.next() % self.vehicles.max(1));
        let vin: &[u8; 17] = vin.as_bytes().try_into().map_err(io::Error::other)?;
        (0..self.files)
            .map(|f| {
                let file_id = format!("seg-{f:02}.rec");
                let path = dir.join(&file_id);
                let bytes = self.write_file(&path, vin, &mut rng)?;
                Ok(SmallFile { file_id, path, bytes })
            })
            .collect()
    }

    fn write_file(&self, path: &Path, vin: &[u8; 17], rng: &mut Lcg) -> io::Result<u64> {
        let config =
            WriterConfig { chunk_bytes: self.chunk_bytes, compression: Compression::None, zstd_level: 1 };
        let out = io::BufWriter::new(std::fs::File::create(path)?);
        let start = self.session_start_ns;
        let mut writer = RecWriter::new(out, vin, start, "fw-1.0", config)?;
        let span = self.records.end.saturating_sub(self.records.start).max(1);
        let records = self.records.start + rng.next() % span;
        for i in 0..records {
            let dtc = rng.next() % 10 < 7;
            let rank = ((self.codes as f64) * rng.unit().powi(3)) as u64;
            let record = Record {
                kind: if dtc { KIND_DTC } else { KIND_LOG },
                severity: if dtc { 3 } else { 2 },
                ecu: 0x07E0 + (rng.next() % 4) as u16,
                ts_ns: start + i * self.record_gap_ns,
                code: if dtc { 0x01_0000 + (rank as u32) * 0x0101 } else { 100 },
                // testFailed and confirmed: every DTC is an error event.
                dtc_status: if dtc { 0x09 } else { 0 },
                message: b"small batch",
            };
            writer.push(&record)?;
        }
        writer.finish()?;
        Ok(std::fs::metadata(path)?.len())
    }
}

/// A small deterministic generator (PCG's LCG, high bits): fast, and enough for test data.
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Self {
        let mut lcg = Self(seed ^ 0x9E37_79B9_7F4A_7C15);
        lcg.next();
        lcg
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.next() as f64 / (1u64 << 31) as f64
    }
}

#[cfg(test)]
mod tests {
    use argus_parser::{FileStats, FileStatus, scan_file};

    use super::*;

    #[test]
    fn same_batch_same_bytes_and_every_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let batch = SmallBatch { seed: 7, files: 3, chunk_bytes: 2048, ..SmallBatch::default() };
        let a = batch.write(&dir.path().join("a")).unwrap();
        let b = batch.write(&dir.path().join("b")).unwrap();
        assert_eq!(a.len(), 3);
        for (a, b) in a.iter().zip(&b) {
            let bytes = std::fs::read(&a.path).unwrap();
            assert!(bytes == std::fs::read(&b.path).unwrap(), "{} differs", a.file_id);
            let stats = FileStats::of_scan(&scan_file(&bytes));
            assert_eq!((stats.status, stats.bytes), (FileStatus::Ok, a.bytes));
            assert!(stats.chunks_good > 1, "several chunks: {stats:?}");
            assert!((100..300).contains(&stats.records), "{stats:?}");
            assert!(stats.error_events > stats.records / 2, "{stats:?}");
        }
    }
}
