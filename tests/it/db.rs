//! Test databases: a fresh PostgreSQL database per test (created through the `test`
//! database of `ARGUS_TEST_DATABASE_URL`, dropped afterwards), or a SQLite file.

use argus_sinks::Store;

/// A fresh database: a new PostgreSQL database (dropped at the end), or a SQLite file.
pub enum Db {
    Postgres { admin: String, name: String },
    Sqlite(tempfile::TempDir),
}

impl Db {
    pub async fn postgres() -> Self {
        let admin = std::env::var("ARGUS_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres:argus@127.0.0.1:5432/test".into());
        let name = format!("argus_it_{}", uuid::Uuid::new_v4().simple());
        let Store::Postgres(pool) = Store::open(&admin).await.expect("postgres on 127.0.0.1") else {
            panic!("ARGUS_TEST_DATABASE_URL must be a postgres URL")
        };
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
        pool.close().await;
        Db::Postgres { admin, name }
    }

    pub fn url(&self) -> String {
        match self {
            Db::Postgres { admin, name } => format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]),
            Db::Sqlite(dir) => format!("sqlite://{}?mode=rwc", dir.path().join("argus.db").display()),
        }
    }

    pub async fn drop_it(self) {
        if let Db::Postgres { admin, name } = self {
            let Store::Postgres(pool) = Store::open(&admin).await.unwrap() else { unreachable!() };
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}
