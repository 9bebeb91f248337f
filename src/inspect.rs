//! `argus inspect`: the spec's statistics of rec files, for a person or (with `--json`)
//! one JSON object per file whose fields are named like a report's `files[]` entry.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context;
use argus_parser::{FileStats, RecFile, scan_file};
use argus_pipeline::report::{TopError, code_totals, rank};
use serde::Serialize;

/// Arguments of `argus inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Rec files to read.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// One JSON object per line and file instead of text.
    #[arg(long)]
    pub json: bool,
    /// Number of most frequent error codes to show.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
}

/// What inspect learns about a readable file.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub file: String,
    #[serde(flatten)]
    pub stats: FileStats,
    pub vin: Option<String>,
    pub firmware: Option<String>,
    pub session_start_ns: Option<u64>,
    pub first_ts_ns: Option<u64>,
    pub last_ts_ns: Option<u64>,
    pub top_errors: Vec<TopError>,
}

/// A file that could not be opened (missing, a directory, no permission).
#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    pub file: String,
    pub status: &'static str,
    pub error: String,
}

/// Reads one file; `Err` when it cannot be opened at all.
pub fn inspect_file(path: &Path, top: usize) -> Result<Inspection, Unreadable> {
    let file = path.display().to_string();
    let rec = RecFile::open(path).map_err(|e| Unreadable {
        file: file.clone(),
        status: "unreadable",
        error: e.to_string(),
    })?;
    let scan = scan_file(rec.bytes());
    let totals = code_totals(&scan.content.codes).into_values().collect();
    Ok(Inspection {
        file,
        stats: FileStats::of_scan(&scan),
        vin: scan.vin,
        firmware: scan.firmware,
        session_start_ns: scan.session_start_ns,
        first_ts_ns: scan.content.ts_range.map(|r| r.0),
        last_ts_ns: scan.content.ts_range.map(|r| r.1),
        top_errors: rank(totals, top),
    })
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut unreadable = 0usize;
    for path in &args.files {
        let result = inspect_file(path, args.top);
        if let Err(e) = &result {
            unreadable += 1;
            // Text mode already says so on stdout; JSON consumers may not look at it.
            if args.json {
                tracing::warn!(file = %e.file, error = %e.error, "cannot open file");
            }
        }
        match (&result, args.json) {
            (Ok(i), true) => serde_json::to_writer(&mut out, i)?,
            (Err(e), true) => serde_json::to_writer(&mut out, e)?,
            (Ok(i), false) => write_text(&mut out, i)?,
            (Err(e), false) => write!(out, "{}: unreadable: {}", e.file, e.error)?,
        }
        writeln!(out).context("writing to stdout")?;
        // Flushed per file so that a long run shows results as they come.
        out.flush().context("writing to stdout")?;
    }
    Ok(if unreadable > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn write_text(out: &mut impl Write, i: &Inspection) -> std::io::Result<()> {
    let s = &i.stats;
    let status =
        serde_json::to_value(s.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    write!(out, "{}: {status}, {} bytes", i.file, s.bytes)?;
    if let Some(error) = &s.error {
        return writeln!(out, " ({error})");
    }
    writeln!(out)?;
    let session = i.session_start_ns.map(utc).unwrap_or_default();
    writeln!(
        out,
        "  vin {}  firmware {}  session start {session}",
        i.vin.as_deref().unwrap_or("-"),
        i.firmware.as_deref().unwrap_or("-")
    )?;
    writeln!(out, "  records {} ({} error events)", s.records, s.error_events)?;
    let truncated = if s.truncated { ", truncated" } else { "" };
    writeln!(
        out,
        "  chunks {} good, {} corrupt; {} bytes skipped{truncated}",
        s.chunks_good, s.chunks_corrupt, s.bytes_skipped
    )?;
    if let (Some(first), Some(last)) = (i.first_ts_ns, i.last_ts_ns) {
        let span = (last - first) as f64 / 1e9;
        writeln!(out, "  time {} .. {} ({span:.1} s)", utc(first), utc(last))?;
    }
    if !i.top_errors.is_empty() {
        writeln!(out, "  top errors:")?;
        for e in &i.top_errors {
            writeln!(out, "    {:>8}  {:<16} ecus {}", e.count, e.code, e.ecus.join(" "))?;
        }
    }
    Ok(())
}

/// Nanoseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, UTC).
fn utc(ns: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_nanos(ns)).to_string()
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_767_225_600_000_000_000), "2026-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_123_000_000), "2000-02-29T00:00:00.123Z");
        assert_eq!(utc(4_107_542_399_999_000_000), "2100-02-28T23:59:59.999Z");
    }
}
