//! `argus prune --older-than DURATION [--database-url URL] [--object-store URL|DIR]
//! [--dry-run] [--forget-missing]`: removes the batches that have been final (completed
//! or failed) for longer than DURATION, with everything stored for them, and tombstones
//! their ids (sinks/src/store/prune.rs); then deletes their uploaded files from the object
//! store (prune_objects.rs).
//! The store and the object store default to the embedded ones of `argus serve` under
//! `--data-dir`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use argus_sinks::{Store, StoreOptions, store::redact};

use crate::args::parse_duration;
use crate::prune_objects;

/// Arguments of `argus prune`.
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Prune batches final for longer than this: `30d`, `12h`, `90m`, `45s`.
    #[arg(long, value_parser = parse_duration)]
    pub older_than: Duration,
    /// The store: `postgres://user@host:5432/db` or `sqlite://path/argus.db?mode=rw`
    /// (migrated first, as `argus serve` does).
    #[arg(long)]
    pub database_url: Option<String>,
    /// The object store `argus serve` uploads to: `s3://bucket/prefix`, `file:///dir`, or
    /// a directory. Default: `objects` under `--data-dir`, when it exists.
    #[arg(long)]
    pub object_store: Option<String>,
    /// `argus serve`'s data directory, whose embedded store (`argus.db`) is pruned unless
    /// `--database-url` names another.
    #[arg(long, default_value = "argus-data")]
    pub data_dir: PathBuf,
    /// Forget listed objects of pruned batches that the object store does not hold, even
    /// when it holds no upload at all (by default a sign of the wrong `--object-store`).
    #[arg(long)]
    pub forget_missing: bool,
    /// Count the batches that would be pruned; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds to wait for the database server before giving up.
    #[arg(long, default_value_t = 10)]
    pub connect_timeout: u64,
}

pub fn run(args: PruneArgs) -> anyhow::Result<ExitCode> {
    crate::runtime::run_to_end(prune(&args))??;
    Ok(ExitCode::SUCCESS)
}

async fn prune(args: &PruneArgs) -> anyhow::Result<()> {
    let options =
        StoreOptions { max_connections: 1, acquire_timeout: Duration::from_secs(args.connect_timeout) };
    // The embedded store must exist already (`mode=rw`): pruning creates no database.
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rw", args.data_dir.join("argus.db").display()));
    let url = redact(&database_url);
    let store = Store::open_with(&database_url, &options).await?;
    let result = async {
        store.migrate().await.with_context(|| format!("migrating {url}"))?;
        let age = humantime_secs(args.older_than);
        if args.dry_run {
            let due = store.prunable(args.older_than).await.with_context(|| format!("counting in {url}"))?;
            let listed = store.pruned_object_count().await.with_context(|| format!("reading {url}"))?;
            println!(
                "{url}: would prune {} batch(es) final for more than {age}, and delete {} uploaded object(s)",
                due.batches,
                due.objects + listed
            );
            return anyhow::Ok(());
        }
        // A wrong object store is refused before anything is pruned.
        let objects = prune_objects::object_store(args.object_store.as_deref(), &args.data_dir)?;
        let pruned = store.prune(args.older_than).await.with_context(|| format!("pruning {url}"))?;
        tracing::info!(url = %url, batches = pruned.batches, objects = pruned.objects, older_than = %age, "pruned");
        println!("{url}: pruned {} batch(es) final for more than {age}", pruned.batches);
        let Some(objects) = objects else {
            let left = store.pruned_object_count().await?;
            if left > 0 {
                println!("{left} uploaded object(s) of pruned batches left to delete: name the object store (--object-store)");
            }
            return anyhow::Ok(());
        };
        let done = prune_objects::delete(&store, &objects, args.forget_missing).await?;
        println!("deleted {} uploaded object(s) of pruned batches", done.deleted);
        if done.missing > 0 {
            println!("{} more were listed but already gone from the object store", done.missing);
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result
}

/// `86400s` as the user would read it back: the largest unit that divides it.
fn humantime_secs(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0 => "0s".to_owned(),
        _ if s % 86_400 == 0 => format!("{}d", s / 86_400),
        _ if s % 3600 == 0 => format!("{}h", s / 3600),
        _ if s % 60 == 0 => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::humantime_secs;
    use std::time::Duration;

    #[test]
    fn ages_read_back_in_their_unit() {
        assert_eq!(humantime_secs(Duration::from_secs(30 * 86_400)), "30d");
        assert_eq!(humantime_secs(Duration::from_secs(5400)), "90m");
        assert_eq!(humantime_secs(Duration::from_secs(7200)), "2h");
        assert_eq!(humantime_secs(Duration::from_secs(61)), "61s");
        assert_eq!(humantime_secs(Duration::ZERO), "0s");
    }
}
