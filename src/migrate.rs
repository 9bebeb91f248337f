//! `argus migrate --database-url URL`: creates or updates the report store's schema.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use argus_sinks::{Store, StoreOptions, store::redact};

/// Arguments of `argus migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The store: `postgres://user@host:5432/db` or `sqlite://path/argus.db?mode=rwc`.
    #[arg(long)]
    pub database_url: String,
    /// Seconds to wait for the database server before giving up.
    #[arg(long, default_value_t = 10)]
    pub connect_timeout: u64,
}

pub fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    crate::runtime::run_to_end(migrate(&args))??;
    Ok(ExitCode::SUCCESS)
}

async fn migrate(args: &MigrateArgs) -> anyhow::Result<()> {
    let options =
        StoreOptions { max_connections: 1, acquire_timeout: Duration::from_secs(args.connect_timeout) };
    let url = redact(&args.database_url);
    let store = Store::open_with(&args.database_url, &options).await?;
    let result = async {
        let before = store.applied_migrations().await.unwrap_or_default();
        store.migrate().await.with_context(|| format!("migrating {url}"))?;
        let after = store.applied_migrations().await?;
        let version = after.last().copied().unwrap_or_default();
        let applied = after.len().saturating_sub(before.len());
        tracing::info!(url = %url, version, applied, "schema up to date");
        println!("{url}: schema at version {version} ({applied} migration(s) applied)");
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: String) -> MigrateArgs {
        MigrateArgs { database_url: url, connect_timeout: 2 }
    }

    #[test]
    fn migrates_a_new_sqlite_file_twice() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("argus.db").display());
        assert_eq!(run(args(url.clone())).unwrap(), ExitCode::SUCCESS);
        assert_eq!(run(args(url)).unwrap(), ExitCode::SUCCESS);
    }

    #[test]
    fn bad_urls_fail_clearly() {
        let err = run(args("mysql://localhost/db".into())).unwrap_err();
        assert!(format!("{err:#}").contains("unsupported database url"), "{err:#}");
        let err = run(args("postgres://u:pw@127.0.0.1:1/db".into())).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("cannot connect to postgres://u:***@127.0.0.1:1/db"), "{text}");
        assert!(!text.contains("pw@"), "{text}");
    }
}
