//! Where a scan's time goes: times each phase of `scan_file` on one file, cumulatively
//! (walk; + payload CRC; + checks 2-5; + records and events), best of a few runs.
//!
//!     cargo run --release -p argus-parser --example phases -- FILE [ITERS]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use argus_parser::{
    CHUNK_HEADER_LEN, ChunkDecoder, ChunkWalk, CodeAtEcu, FileHeader, RecFile, Records, Step, scan_file,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().ok_or("usage: phases FILE [ITERS]")?);
    let iters: u32 = args.next().map_or(Ok(3), |s| s.parse())?;
    let rec = RecFile::open(&path)?;
    let bytes = rec.bytes();
    let start = FileHeader::parse(bytes)?.header_len;
    let chunks = || {
        ChunkWalk::new(bytes, start).filter_map(|s| match s {
            Step::Chunk { offset, header } => Some((offset, header)),
            _ => None,
        })
    };
    black_box(scan_file(bytes));

    let mut decoder = ChunkDecoder::new();
    let phases: [(&str, &mut dyn FnMut() -> u64); 5] = [
        ("read every u64 word", &mut || bytes.chunks_exact(8).map(|w| w[0] as u64).sum()),
        ("walk (chunk headers only)", &mut || chunks().count() as u64),
        ("+ payload CRC", &mut || {
            chunks()
                .map(|(o, h)| {
                    u64::from(crc32c::crc32c(&bytes[o + CHUNK_HEADER_LEN..][..h.stored_len as usize]))
                })
                .sum()
        }),
        ("+ checks 2-5 (ChunkDecoder::payload)", &mut || {
            chunks().map(|(o, h)| decoder.payload(bytes, o, &h).map_or(0, |p| p.len() as u64)).sum()
        }),
        ("+ records and events, untallied", &mut || {
            let mut d = ChunkDecoder::new();
            let mut n = 0;
            for (o, h) in chunks() {
                let Ok(p) = d.payload(bytes, o, &h) else { continue };
                n += Records::new(p).filter_map(|r| CodeAtEcu::of(&r)).count() as u64;
            }
            n
        }),
    ];
    for (name, phase) in phases {
        println!("{name:<40} {:>8.1} ms", best(iters, phase).as_secs_f64() * 1e3);
    }
    println!(
        "{:<40} {:>8.1} ms",
        "scan_file",
        best(iters, &mut || scan_file(bytes).content.records).as_secs_f64() * 1e3
    );
    Ok(())
}

fn best(iters: u32, f: &mut dyn FnMut() -> u64) -> Duration {
    (0..iters)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}
