//! One database per test, on either back end: the store conformance suite.
//!
//! Every test written as `async fn name(db: TestDb)` and listed in
//! [`conformance!`] runs twice: `sqlite::name` against a file in a temporary
//! directory, always, and `postgres::name` against a database of its own on
//! the server `AISC_TEST_POSTGRES` names (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`), made for the test and
//! dropped after it. Without that variable the PostgreSQL half is skipped,
//! unless `AISC_REQUIRE` names `postgres` (as in `.ci/run`), which makes it fail.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a failed test

use aisc_store::{Database, Durability, Store, StoreError};
use sqlx::{Connection, Executor};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// A test's database and the directory beside it (for the master key).
pub struct TestDb {
    dir: tempfile::TempDir,
    pub db: Database,
    /// The server's URL and the database made for this test (PostgreSQL).
    made: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::Sqlite(dir.path().join("aisc.db"));
        TestDb {
            dir,
            db,
            made: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` when no server is named.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(server) = std::env::var("AISC_TEST_POSTGRES") else {
            let required = std::env::var("AISC_REQUIRE")
                .is_ok_and(|v| v.split(',').any(|t| matches!(t.trim(), "postgres" | "all")));
            assert!(
                !required,
                "AISC_REQUIRE names postgres but AISC_TEST_POSTGRES is not set"
            );
            eprintln!("SKIPPED: AISC_TEST_POSTGRES is not set");
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "aisc_test_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = with_database(&server, &name);
        Some(TestDb {
            dir: tempfile::tempdir().unwrap(),
            db: Database::Postgres(url),
            made: Some((server, name)),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn masters(&self) -> aisc_vault::MasterKeys {
        aisc_vault::MasterKeys::load(
            aisc_vault::KeySource::File(self.dir.path().join("master.key")),
            true,
        )
        .unwrap()
    }

    pub async fn try_open(&self) -> Result<Store, StoreError> {
        Store::connect(&self.db, Durability::Full, self.masters()).await
    }

    pub async fn open(&self) -> Store {
        self.try_open().await.unwrap()
    }
}

/// `server` (a URL) with its database replaced by `name`.
pub fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.made.take() else {
            return;
        };
        // Drop runs outside any runtime the test may still hold: a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&server).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Runs each listed `async fn name(db: TestDb)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::TestDb::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(db) = $crate::common::TestDb::postgres().await {
                        super::$name(db).await
                    }
                }
            )*
        }
    };
}

impl TestDb {
    /// Runs `sql` (with `$n` placeholders for `args`) behind the store's back:
    /// what an intruder with the database's password could do.
    pub async fn tamper(&self, sql: &'static str, args: &[i64]) {
        sqlx::any::install_default_drivers();
        let url = match &self.db {
            Database::Sqlite(p) => format!("sqlite://{}", p.display()),
            Database::Postgres(u) => u.clone(),
        };
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(*a);
        }
        q.execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
}
