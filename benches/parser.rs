//! Parser throughput on one core, against the limit (reading every byte of the mapped file
//! once) and a straightforward reader (buffered reads, one reused buffer, no allocation per
//! record), measured in one run.
//!
//!     cargo bench --bench parser
//!
//! Environment: `ARGUS_BENCH_BYTES` (file size, default 1 GiB), `ARGUS_BENCH_ITERS` (best
//! of, default 5), `ARGUS_BENCH_DIR` (where the generated file is kept, default
//! `target/bench-data`; it is generated once and reused). The file is dropped from the page
//! cache and read back before measuring, as the replay benchmarks do.

use std::collections::HashMap;
use std::fs::File;
use std::hint::black_box;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use argus_datasets::generate::{FileParams, write_file};
use argus_parser::{
    CHUNK_HEADER_LEN, ChunkDecoder, ChunkHeader, FileHeader, RangeScan, RecFile, Scanner, scan_file, split,
};

#[path = "common/mod.rs"]
mod common;
#[path = "common/data.rs"]
mod data;

/// What a pass found; every contender must find the same, so that they did the same work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    records: u64,
    events: u64,
}

fn main() -> anyhow::Result<()> {
    let size = env_u64("ARGUS_BENCH_BYTES", 1 << 30)?;
    let iters = env_u64("ARGUS_BENCH_ITERS", 5)?.max(1);
    let path = data_file(size)?;
    // The same page-cache state in every run (see `data::recache`): the folio sizes decide
    // how many TLB entries the passes need.
    data::recache(&path);
    let rec = RecFile::open(&path)?;
    let bytes = rec.bytes();
    ensure!(rec.is_mapped(), "the benchmark file should be memory-mapped");

    // One untimed pass pulls the file into the page cache and gives the expected counts.
    black_box(sum_words(bytes));
    let whole = scan_file(bytes);
    ensure!(whole.rejection.is_none() && whole.content.chunks_corrupt == 0, "a clean generated file");
    let expected = Found { records: whole.content.records, events: whole.content.error_events };
    let header_len = FileHeader::parse(bytes)?.header_len;

    let limit = best_of(iters, &path, || {
        black_box(sum_words(bytes));
        Ok(expected)
    })?;
    let parser = best_of(iters, &path, || {
        let scan = scan_file(bytes);
        Ok(Found { records: scan.content.records, events: scan.content.error_events })
    })?;
    let ranges = best_of(iters, &path, || {
        let (_, ranges) = split(bytes, header_len, 64 << 20);
        let mut total = RangeScan::default();
        let mut scanner = Scanner::new();
        for range in ranges {
            let mut part = RangeScan::default();
            scanner.scan_range(bytes, range, &mut part);
            total.merge(&part);
        }
        Ok(Found { records: total.records, events: total.error_events })
    })?;
    let straightforward = best_of(iters, &path, || straightforward_read(&path))?;
    for (name, found) in
        [("scan_file", parser.1), ("split", ranges.1), ("straightforward", straightforward.1)]
    {
        ensure!(found == expected, "{name} found {found:?}, expected {expected:?}");
    }

    println!("machine: {}, {} cores, one used", cpu_model(), num_cores());
    println!(
        "file: {} ({:.2} GiB, {} chunks, {} records, {} error events), page-cached, best of {iters}",
        path.display(),
        bytes.len() as f64 / (1u64 << 30) as f64,
        whole.layout.chunks,
        expected.records,
        expected.events,
    );
    println!("{:<52} {:>9} {:>10} {:>10} {:>9}", "pass", "best ms", "MB/s", "Mrec/s", "of limit");
    let row = |name: &str, t: Duration| {
        let secs = t.as_secs_f64();
        println!(
            "{name:<52} {:>9.1} {:>10.0} {:>10.1} {:>9.2}",
            secs * 1e3,
            bytes.len() as f64 / secs / 1e6,
            expected.records as f64 / secs / 1e6,
            limit.0.as_secs_f64() / secs,
        );
    };
    row("limit: mmap, sum every u64 word", limit.0);
    row("parser: scan_file (walk, CRC, records, events)", parser.0);
    row("parser: split (64 MiB ranges) + scan_range + merge", ranges.0);
    row("straightforward: BufReader, one buffer, HashMap", straightforward.0);
    println!("parser/limit = {:.2}", limit.0.as_secs_f64() / parser.0.as_secs_f64());
    println!(
        "parser/straightforward = {:.2}x faster",
        straightforward.0.as_secs_f64() / parser.0.as_secs_f64()
    );
    Ok(())
}

/// The generated benchmark file of `size` bytes, written once into the cache directory.
fn data_file(size: u64) -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("ARGUS_BENCH_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("parser-seed1-{size}.rec"));
    if !path.exists() {
        // Written under another name and renamed, so an interrupted run is not reused.
        let partial = path.with_extension("partial");
        eprintln!("generating {} ...", path.display());
        let params = FileParams { seed: 1, size, corrupt: false, ..FileParams::default() };
        write_file(&partial, &params)?;
        std::fs::rename(&partial, &path)?;
    }
    Ok(path)
}

/// The best time of `iters` passes, each started over a fully cached `input` (see
/// `data::make_resident`; the passes share one mapping, whose pages the cache may drop),
/// and what the last pass found.
fn best_of(
    iters: u64,
    input: &Path,
    mut pass: impl FnMut() -> anyhow::Result<Found>,
) -> anyhow::Result<(Duration, Found)> {
    let mut best = Duration::MAX;
    let mut found = None;
    for _ in 0..iters {
        data::make_resident(input);
        let start = Instant::now();
        let f = black_box(pass()?);
        best = best.min(start.elapsed());
        found = Some(f);
    }
    Ok((best, found.expect("at least one iteration")))
}

/// The limit: touch every byte once, doing as little as possible with it.
fn sum_words(bytes: &[u8]) -> u64 {
    let words = bytes.chunks_exact(8);
    let tail: u64 = words.remainder().iter().map(|&b| u64::from(b)).sum();
    words.fold(tail, |sum, w| sum.wrapping_add(u64::from_le_bytes(w.try_into().expect("8 bytes"))))
}

/// The straightforward reader: what a competent engineer writes first, from the spec,
/// without the parser's tricks. Buffered `std::io` reads into one reused chunk buffer, the
/// chunk validated and decoded with the parser's own checks (hardware CRC included), then
/// a plain loop over its records that counts error events in a `HashMap` keyed by the
/// numbers (no allocation per record). What the parser adds on top is measured against
/// this: the mapped file, the fused CRC and walk, the split across workers. It reads clean
/// files only (the benchmark's); no resync.
fn straightforward_read(path: &Path) -> anyhow::Result<Found> {
    let mut input = BufReader::with_capacity(1 << 16, File::open(path)?);
    let mut head = [0u8; 64];
    input.read_exact(&mut head)?;
    let header_len = u64::from(u16::from_le_bytes([head[10], head[11]]));
    io::copy(&mut (&mut input).take(header_len - 64), &mut io::sink())?;
    let mut counts: HashMap<u64, u64> = HashMap::new();
    let mut records = 0u64;
    let mut decoder = ChunkDecoder::new();
    let mut chunk = Vec::new();
    loop {
        chunk.resize(CHUNK_HEADER_LEN, 0);
        match input.read_exact(&mut chunk) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            other => other?,
        }
        let header = ChunkHeader::at(&chunk, 0).context("a chunk header")?;
        chunk.resize(CHUNK_HEADER_LEN + header.stored_len as usize, 0);
        input.read_exact(&mut chunk[CHUNK_HEADER_LEN..])?;
        let payload = decoder.payload(&chunk, 0, &header)?;
        let mut at = 0;
        while at < payload.len() {
            let r = &payload[at..];
            let len = u32::from_le_bytes(r[..4].try_into()?) as usize;
            let (kind, severity, dtc_status) = (r[4], r[5], r[20]);
            let ecu = u16::from_le_bytes(r[6..8].try_into()?);
            let code = u32::from_le_bytes(r[16..20].try_into()?);
            let key = match kind {
                1 if dtc_status & 1 == 1 => Some(u64::from(code)),
                2 if (severity == 4 || severity == 5) && code != 0 => {
                    Some(1 << 48 | u64::from(ecu) << 32 | u64::from(code))
                }
                _ => None,
            };
            if let Some(key) = key {
                *counts.entry(key).or_insert(0) += 1;
            }
            records += 1;
            at += len;
        }
    }
    Ok(Found { records, events: counts.values().sum() })
}

fn env_u64(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("{name}={v}")),
        Err(_) => Ok(default),
    }
}

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info.lines().find_map(|l| l.strip_prefix("model name")?.split(':').nth(1));
    model.map_or_else(|| "unknown CPU".to_owned(), |m| m.trim().to_owned())
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
