//! `argus prune --older-than DURATION [--database-url URL] [--dry-run]`: removes the
//! batches that have been final (completed or failed) for longer than DURATION, with
//! everything stored for them, and tombstones their ids (sinks/src/store/prune.rs). The
//! store defaults to the embedded one of `argus serve` under `--data-dir`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use argus_sinks::{Store, StoreOptions, store::redact};

use crate::args::parse_duration;

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
    /// `argus serve`'s data directory, whose embedded store (`argus.db`) is pruned unless
    /// `--database-url` names another.
    #[arg(long, default_value = "argus-data")]
    pub data_dir: PathBuf,
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
            println!("{url}: would prune {} batch(es) final for more than {age}", due.batches);
        } else {
            let pruned = store.prune(args.older_than).await.with_context(|| format!("pruning {url}"))?;
            tracing::info!(url = %url, batches = pruned.batches, older_than = %age, "pruned");
            println!("{url}: pruned {} batch(es) final for more than {age}", pruned.batches);
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
