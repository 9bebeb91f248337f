//! Test databases: a fresh PostgreSQL database (`argus_test_<uuid>`, created through the
//! `test` database and dropped afterwards) or a SQLite file in a temporary directory. Test
//! bodies take a `&TestDb` and run unchanged against both; [`both_backends!`] makes the
//! two `#[tokio::test]`s.

#![allow(dead_code)]

pub mod dataflow;
pub mod fixtures;
pub mod llm_server;

use argus_sinks::Store;

/// Where the Postgres server is; `ARGUS_TEST_DATABASE_URL` overrides it.
pub fn admin_url() -> String {
    std::env::var("ARGUS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:argus@127.0.0.1:5432/test".into())
}

pub struct TestDb {
    pub store: Store,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Postgres { name: String },
    Sqlite { _dir: tempfile::TempDir },
}

impl TestDb {
    /// A new, empty, migrated Postgres database.
    pub async fn postgres() -> Self {
        let db = Self::postgres_empty().await;
        db.store.migrate().await.expect("migrate");
        db
    }

    /// A new Postgres database without the schema.
    pub async fn postgres_empty() -> Self {
        let admin = Store::open(&admin_url()).await.unwrap_or_else(|e| {
            panic!("postgres is needed for this test (start it: pg_ctlcluster --skip-systemctl-redirect 15 main start): {e}")
        });
        let name = format!("argus_test_{}", uuid::Uuid::new_v4().simple());
        let Store::Postgres(pool) = &admin else { unreachable!("admin url is postgres") };
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(pool).await.expect("create database");
        admin.close().await;
        let base = admin_url();
        let url = format!("{}/{name}", &base[..base.rfind('/').expect("url has a database")]);
        let store = Store::open(&url).await.expect("open test database");
        TestDb { store, url, cleanup: Cleanup::Postgres { name } }
    }

    /// A new, empty, migrated SQLite file.
    pub async fn sqlite() -> Self {
        let db = Self::sqlite_empty().await;
        db.store.migrate().await.expect("migrate");
        db
    }

    pub async fn sqlite_empty() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("argus.db").display());
        let store = Store::open(&url).await.expect("open sqlite");
        TestDb { store, url, cleanup: Cleanup::Sqlite { _dir: dir } }
    }

    /// Another store (its own pool) on the same database: a second process, in effect.
    pub async fn open_another(&self) -> Store {
        Store::open(&self.url).await.expect("open second store")
    }

    /// Raw SQL, for tests that go around the Rust API.
    pub async fn exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        match &self.store {
            Store::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|r| r.rows_affected()),
            Store::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|r| r.rows_affected()),
        }
    }

    /// One integer from raw SQL.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match &self.store {
            Store::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql),
            Store::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql),
        }
    }

    /// Every row of a table as text, ordered: to compare whole tables before and after.
    pub async fn dump(&self, table: &str, order: &str) -> Vec<String> {
        match &self.store {
            Store::Postgres(pool) => {
                let sql = format!("SELECT CAST(t AS TEXT) FROM {table} t ORDER BY {order}");
                sqlx::query_scalar(&sql).fetch_all(pool).await.expect("dump")
            }
            Store::Sqlite(pool) => {
                // SQLite has no row-to-text cast and no json_array(*): list the columns.
                let columns: Vec<String> = sqlx::query_scalar(&format!(
                    "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
                ))
                .fetch_all(pool)
                .await
                .expect("columns");
                let sql = format!("SELECT json_array({}) FROM {table} ORDER BY {order}", columns.join(", "));
                sqlx::query_scalar(&sql).fetch_all(pool).await.expect("dump")
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { name } = &self.cleanup {
            // Drop runs outside async code (also while a failed test unwinds): a thread with
            // its own runtime drops the database, forcing out connections still open.
            let name = name.clone();
            let done = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async move {
                    if let Ok(admin) = Store::open(&admin_url()).await {
                        if let Store::Postgres(pool) = &admin {
                            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(pool)
                                .await;
                        }
                        admin.close().await;
                    }
                });
            });
            let _ = done.join();
        }
    }
}

/// `both_backends!(name, body_fn)` makes `mod name { postgres, sqlite }`, each running
/// `body_fn(&TestDb)` on a fresh database of that backend.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = $crate::common::TestDb::postgres().await;
                super::$body(&db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::common::TestDb::sqlite().await;
                super::$body(&db).await;
            }
        }
    };
}
