//! `argus gen`: the command line and progress display over the generator of
//! `argus-datasets` (a deterministic synthetic fleet in the replay layout).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use argus_datasets::generate::{Compression, FleetSpec, generate_fleet_with};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

/// Arguments of `argus gen`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Output directory (a replay root: one sub-directory per batch).
    pub out: PathBuf,
    /// Number of batches (vehicles).
    #[arg(long, default_value_t = 4)]
    pub batches: u32,
    /// Files (sessions) per batch.
    #[arg(long, default_value_t = 3)]
    pub files_per_batch: u32,
    /// Approximate size of each file, e.g. 64MiB, 1GiB, 500KiB, 123456 (files vary by ±20%
    /// around it, as real sessions do).
    #[arg(long, default_value = "64MiB", value_parser = crate::args::parse_size)]
    pub size: u64,
    /// Seed: the same arguments always produce the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Probability (0 to 1) that a file is damaged.
    #[arg(long, default_value_t = 0.0, value_parser = crate::args::parse_probability)]
    pub corrupt: f64,
    /// Chunk compression.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compression: Compression,
    /// Files written in parallel (default: the number of cores). Does not change the output.
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Draw the batches from this many vehicles (batch i from vehicle i mod N), so that a
    /// long fleet revisits the same VINs; default: a vehicle of its own per batch.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub vehicles: Option<u32>,
}

pub fn run(args: GenArgs) -> anyhow::Result<ExitCode> {
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let spec = FleetSpec {
        batches: args.batches,
        files_per_batch: args.files_per_batch,
        size: args.size,
        seed: args.seed,
        corrupt: args.corrupt,
        compression: args.compression,
        jobs,
        vehicles: args.vehicles,
    };
    let started = Instant::now();
    // A bar only for a person watching; logs and CI get the summary line below.
    let bar = std::io::stderr().is_terminal().then(|| {
        let total = spec.size.saturating_mul(u64::from(spec.batches) * u64::from(spec.files_per_batch));
        let bar = ProgressBar::new(total);
        let style =
            ProgressStyle::with_template("{bar:40} {bytes}/~{total_bytes} {binary_bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    });
    let result = generate_fleet_with(&args.out, &spec, &|n| {
        if let Some(bar) = &bar {
            bar.inc(n);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = result?;
    let secs = started.elapsed().as_secs_f64();
    let damaged: Vec<String> =
        summary.damaged.iter().filter(|(_, n)| *n > 0).map(|(d, n)| format!("{}: {n}", d.name())).collect();
    tracing::info!(
        out = %args.out.display(),
        batches = summary.batch_ids.len(),
        files = summary.files,
        bytes = summary.bytes,
        size = %HumanBytes(summary.bytes),
        secs = format!("{secs:.2}"),
        mb_per_s = format!("{:.1}", summary.bytes as f64 / 1e6 / secs.max(1e-6)),
        damaged = damaged.join(", "),
        "fleet generated"
    );
    if let Some(first) = summary.strays.first() {
        tracing::warn!(
            out = %args.out.display(),
            count = summary.strays.len(),
            first = %first.display(),
            "the output directory holds entries this fleet did not write; a replay of it reads them too"
        );
    }
    Ok(ExitCode::SUCCESS)
}
