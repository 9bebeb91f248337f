//! The report store: one [`Store`] over a PostgreSQL or a SQLite pool, opened from a URL.
//!
//! Both backends run the same SQL wherever the dialects agree (`$n` placeholders work in
//! both); the few statements that differ (JSON casts, byte-order collation, row locks)
//! pick their text by [`Backend`]. The [`with_pool!`] macro expands one body for each pool
//! type, so every query is type-checked against both drivers.

mod advance;
mod budget;
mod dashboard;
mod fleet;
mod fleet_firmware;
mod fleet_reports;
mod progress;
mod prune;
mod read;
mod seed;
pub(crate) mod similar;
pub(crate) mod similar_pairs;
pub(crate) mod similar_vectors;
mod status;
mod unfinished;
mod uploads;
mod vehicle_pages;
mod watch;
mod write;

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

pub use budget::{CallTicket, Reservation, TokenUsage};
pub use dashboard::RecentBatch;
pub use fleet::{FleetQuery, TimeWindow};
pub use fleet_reports::FleetView;
pub use prune::{Pruned, PrunedObject};
pub use read::{BatchSummary, StoredBatch, StoredFile};
pub use status::BatchState;
pub use uploads::{Completion, NewUpload, Upload, UploadError};
pub use vehicle_pages::BatchCursor;
pub use watch::BatchProgress;
pub use write::{KafkaOffset, WriteOutcome};

use crate::error::{StoreError, describe};

static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    /// How long to wait for a connection (and, when opening, for the server) before failing.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { max_connections: 8, acquire_timeout: Duration::from_secs(10) }
    }
}

/// The report store. Cheap to clone (the pools are shared).
#[derive(Debug, Clone)]
pub enum Store {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of `$store`.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Postgres($pool) => $body,
            $crate::store::Store::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Inside the write transaction `$tx`: inserts the batch at `uploaded` (with `$vin`) when
/// it is missing (an existing id is skipped before the insert: SQLite's guard against
/// `INSERT OR REPLACE` refuses any insert of a final batch's id), then locks its row (Postgres; SQLite's `BEGIN IMMEDIATE` already holds
/// the write lock) and reads its state. Evaluates to `(inserted, current state)`.
macro_rules! insert_and_lock_batch {
    ($backend:expr, $tx:ident, $id:expr, $vin:expr) => {{
        let inserted = sqlx::query(
            "INSERT INTO batches (batch_id, status, vin) SELECT $1, 'uploaded', $2 \
             WHERE NOT EXISTS (SELECT 1 FROM batches WHERE batch_id = $1) \
             ON CONFLICT (batch_id) DO NOTHING",
        )
        .bind($id)
        .bind($vin)
        .execute(&mut *$tx)
        .await?
        .rows_affected()
            == 1;
        let current: String = sqlx::query_scalar($crate::store::dialect(
            $backend,
            "SELECT status FROM batches WHERE batch_id = $1 FOR UPDATE",
            "SELECT status FROM batches WHERE batch_id = $1",
        ))
        .bind($id)
        .fetch_one(&mut *$tx)
        .await?;
        (inserted, current.parse::<$crate::store::BatchState>()?)
    }};
}
pub(crate) use insert_and_lock_batch;

/// Inside the transaction `$tx`: whether `argus prune` removed the batch `$id` (its id is
/// tombstoned and the database refuses to insert it again).
macro_rules! tombstoned {
    ($tx:ident, $id:expr) => {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM batch_tombstones WHERE batch_id = $1")
            .bind($id)
            .fetch_one(&mut *$tx)
            .await?
            > 0
    };
}
pub(crate) use tombstoned;

impl Store {
    /// Opens a store: `postgres://user@host:port/db` (or `postgresql://…`), or
    /// `sqlite://path?mode=rwc` (`sqlite::memory:` for a private in-memory store).
    /// Does not migrate: call [`Store::migrate`] (or `argus migrate`) first.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, &StoreOptions::default()).await
    }

    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect_error = |e: sqlx::Error| StoreError::Connect { url: redact(url), reason: describe(&e) };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url).map_err(connect_error)?;
            // One direct connection first: a pool retries until its timeout and then only
            // says that it timed out, hiding "connection refused" or "no such database".
            let probe = tokio::time::timeout(options.acquire_timeout, PgConnection::connect_with(&connect))
                .await
                .map_err(|_| StoreError::Connect {
                    url: redact(url),
                    reason: format!("no answer within {:?}", options.acquire_timeout),
                })?
                .map_err(connect_error)?;
            probe.close().await.map_err(connect_error)?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await
                .map_err(connect_error)?;
            Ok(Store::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(|_| StoreError::UnsupportedUrl(redact(url)))?
                // WAL lets readers run beside the one writer; writers queue on the busy
                // timeout instead of failing at once.
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await
                .map_err(connect_error)?;
            Ok(Store::Sqlite(pool))
        } else {
            Err(StoreError::UnsupportedUrl(redact(url)))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Postgres(_) => Backend::Postgres,
            Store::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Creates or updates the schema; a no-op when it is current.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
            Store::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Applies the migrations up to `version` only, for tests of a later migration's
    /// backfill over rows stored before it. (It builds sqlx's `Migrator` from its fields,
    /// which sqlx marks semver-exempt: pinned by the workspace's sqlx version.)
    #[doc(hidden)]
    pub async fn migrate_to(&self, version: i64) -> Result<(), StoreError> {
        let prefix = |all: &Migrator| Migrator {
            migrations: std::borrow::Cow::Owned(
                all.iter().filter(|m| m.version <= version).cloned().collect(),
            ),
            ..Migrator::DEFAULT
        };
        match self {
            Store::Postgres(pool) => prefix(&POSTGRES_MIGRATIONS).run(pool).await?,
            Store::Sqlite(pool) => prefix(&SQLITE_MIGRATIONS).run(pool).await?,
        }
        Ok(())
    }

    /// Recomputes every table the write path and the triggers keep beside the rows they
    /// derive from (the firmware rollups, the similar search's pair index and vectors),
    /// in one transaction: for bulk loads that write `completed_codes` directly (the
    /// store_scale benchmark's `COPY`).
    pub async fn rebuild_derived_tables(&self) -> Result<(), StoreError> {
        let statements = fleet_firmware::rebuild_statements()
            .into_iter()
            .chain(similar_pairs::rebuild_statements())
            .chain(similar_vectors::rebuild_statements(self.backend()));
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for sql in statements {
                sqlx::query(&sql).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Versions of the migrations applied so far, ascending.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let sql = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
        let versions = with_pool!(self, pool => sqlx::query_scalar(sql).fetch_all(pool).await?);
        Ok(versions)
    }

    /// Closes every connection (waits for the ones in use).
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// The URL without its password, for error messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) if rest[..at].contains(':') => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{}", &rest[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// How a write transaction starts: SQLite takes the write lock at once, so that two
/// writers queue on the busy timeout instead of failing when a read lock cannot be upgraded.
pub(crate) fn begin_write(backend: Backend) -> &'static str {
    dialect(backend, "BEGIN", "BEGIN IMMEDIATE")
}

/// `COLLATE "C"` in Postgres, whose default collation is the locale's, not byte order;
/// SQLite's default (BINARY) is byte order already.
pub(crate) fn byte_order(backend: Backend) -> &'static str {
    dialect(backend, " COLLATE \"C\"", "")
}

/// SQLite's text of a REAL that reads back as the same double: 17 significant digits,
/// which SQLite's `printf` gives only with the `!` flag (without it, it stops at 16:
/// `printf('%.17g', 0.1 + 0.2)` is `0.3`). Whole numbers come as `5.0`.
macro_rules! sqlite_exact_real {
    ($column:literal) => {
        concat!("printf('%!.17g', ", $column, ")")
    };
}
pub(crate) use sqlite_exact_real;

/// Serialises a value the store writes as JSON.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("cannot serialise: {e}")))
}

/// Runs `EXPLAIN` (Postgres) / `EXPLAIN QUERY PLAN` (SQLite) of `$sql` with the binds
/// `$q => $bound` applied to the query builder `$q` on `$pool`; evaluates to one line per
/// plan node.
macro_rules! explain {
    ($backend:expr, $pool:expr, $sql:expr, |$q:ident| $bound:expr) => {{
        use sqlx::Row;
        let backend = $backend;
        let text = format!("{}{}", $crate::store::dialect(backend, "EXPLAIN ", "EXPLAIN QUERY PLAN "), $sql);
        let $q = sqlx::query(&text);
        let rows = $bound.fetch_all($pool).await?;
        let column = match backend {
            $crate::store::Backend::Postgres => 0,
            $crate::store::Backend::Sqlite => 3,
        };
        rows.iter().map(|r| r.try_get::<String, _>(column)).collect::<Result<Vec<String>, sqlx::Error>>()?
    }};
}
pub(crate) use explain;

/// The SQL text for a backend: Postgres spelling first, SQLite second.
pub(crate) fn dialect<'a>(backend: Backend, postgres: &'a str, sqlite: &'a str) -> &'a str {
    match backend {
        Backend::Postgres => postgres,
        Backend::Sqlite => sqlite,
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db?mode=rwc"), "sqlite://x.db?mode=rwc");
    }
}
