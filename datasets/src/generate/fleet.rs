//! A fleet in the replay layout: `OUT/<batch_id>/seg-NN.rec`, one vehicle per batch. The
//! whole plan (ids, seeds, sizes, which files are damaged) is drawn first from one seeded
//! stream, so the output does not depend on how many threads write the files.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use super::damage::Damage;
use super::file::{Compression, FileParams, write_file_with};

/// What `argus gen` makes.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    pub batches: u32,
    pub files_per_batch: u32,
    /// Approximate size of each file; files vary by ±20% around it.
    pub size: u64,
    pub seed: u64,
    /// Probability that a file is damaged.
    pub corrupt: f64,
    pub compression: Compression,
    /// Files written at once (at least 1).
    pub jobs: usize,
    /// The batches come from this many vehicles (batch `i` from vehicle `i mod n`);
    /// `None`: every batch from a vehicle of its own.
    pub vehicles: Option<u32>,
}

/// What was made.
#[derive(Debug, Clone, Default)]
pub struct FleetSummary {
    pub batch_ids: Vec<Uuid>,
    pub files: u64,
    pub bytes: u64,
    /// Damaged files by kind, in the order of [`Damage::ALL`].
    pub damaged: Vec<(Damage, u64)>,
    /// Entries of the output directory that this fleet did not write (left by an earlier
    /// run or by someone else): a replay of the directory would read them too.
    pub strays: Vec<PathBuf>,
}

/// One file of the plan.
#[derive(Debug, Clone)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub params: FileParams,
}

/// The batch ids and files of a fleet, in order.
pub fn plan(out: &Path, spec: &FleetSpec) -> (Vec<Uuid>, Vec<PlannedFile>) {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut ids = Vec::new();
    let mut files = Vec::new();
    for _ in 0..spec.batches {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        // Always drawn, so that --vehicles changes which vehicle a batch is, nothing else.
        let own_vehicle = rng.next_u64();
        let vehicle = match spec.vehicles {
            Some(n) => shared_vehicle(spec.seed, ids.len() as u64 % u64::from(n.max(1))),
            None => own_vehicle,
        };
        for segment in 0..spec.files_per_batch {
            let size = (spec.size as f64 * rng.random_range(0.8..1.2)) as u64;
            // Always drawn, so that --corrupt changes which files are damaged, nothing else.
            let corrupt = rng.random::<f64>() < spec.corrupt;
            let params = FileParams {
                seed: rng.next_u64(),
                size,
                compression: spec.compression,
                corrupt,
                vehicle,
                segment,
            };
            files.push(PlannedFile {
                path: out.join(id.to_string()).join(format!("seg-{segment:02}.rec")),
                params,
            });
        }
        ids.push(id);
    }
    (ids, files)
}

/// The seed of the `index`-th of a fleet's shared vehicles (a stream apart from the plan's).
fn shared_vehicle(seed: u64, index: u64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5645_4849_434C_4553); // "VEHICLES"
    rng.set_stream(index);
    rng.next_u64()
}

/// Writes the fleet under `out`, calling `progress` with the bytes of each chunk written.
pub fn generate_fleet_with(
    out: &Path,
    spec: &FleetSpec,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<FleetSummary> {
    let (batch_ids, files) = plan(out, spec);
    for id in &batch_ids {
        let dir = out.join(id.to_string());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(files.len()));
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..spec.jobs.max(1).min(files.len().max(1)) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                    let result = write_file_with(&file.path, &file.params, &mut |n| progress(n));
                    if let Ok(w) = &result {
                        tracing::debug!(file = %file.path.display(), bytes = w.bytes, damage = w.damage.map(Damage::name), "file written");
                    }
                    failed.fetch_or(result.is_err(), Ordering::Relaxed);
                    results.lock().unwrap_or_else(|e| e.into_inner()).push(result);
                }
            });
        }
    });
    let mut summary = FleetSummary { batch_ids, ..FleetSummary::default() };
    summary.damaged = Damage::ALL.iter().map(|&d| (d, 0)).collect();
    for result in results.into_inner().unwrap_or_else(|e| e.into_inner()) {
        let written = result?;
        summary.files += 1;
        summary.bytes += written.bytes;
        if let Some(damage) = written.damage {
            summary.damaged.iter_mut().filter(|(d, _)| *d == damage).for_each(|(_, n)| *n += 1);
        }
    }
    summary.strays =
        strays(out, &summary.batch_ids, &files).with_context(|| format!("listing {}", out.display()))?;
    Ok(summary)
}

/// What lies under `out` besides the planned batch directories and their files, sorted.
fn strays(out: &Path, batch_ids: &[Uuid], files: &[PlannedFile]) -> std::io::Result<Vec<PathBuf>> {
    let batch_dirs: HashSet<PathBuf> = batch_ids.iter().map(|id| out.join(id.to_string())).collect();
    let planned: HashSet<&Path> = files.iter().map(|f| f.path.as_path()).collect();
    let mut strays = Vec::new();
    for entry in std::fs::read_dir(out)? {
        let path = entry?.path();
        if !batch_dirs.contains(&path) {
            strays.push(path);
            continue;
        }
        for file in std::fs::read_dir(&path)? {
            let file = file?.path();
            if !planned.contains(file.as_path()) {
                strays.push(file);
            }
        }
    }
    strays.sort();
    Ok(strays)
}
