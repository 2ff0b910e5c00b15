//! Persistence. All SQL lives in this crate.
//!
//! Two back ends, chosen once at start ([`Database`]): SQLite (embedded, zero
//! set-up, the default) and PostgreSQL (several servers on one database). The
//! statements are written once in a dialect both run (see `sql`). Writes go
//! through a single writer task that commits whatever has queued up in one transaction
//! (group commit): each caller's reply comes after the commit that holds its
//! write, and with `synchronous=FULL` in WAL mode that commit is on disk.
//! Reads use a separate pool of read-only connections, which WAL lets run
//! beside the writer.

mod applications;
mod audit;
pub mod backup;
mod data;
mod error;
mod history;
mod inventory;
mod jobs;
mod keys;
mod lead;
mod ledger;
mod nodes;
mod schemes;
mod slurm;
mod sql;
mod tenancy;
pub mod transfer;
mod users;
mod writer;

pub use aisc_model::job::Fields;
pub use applications::{
    ApplicationRow, Decision, GrantRow, NewApplication, NewGrant, NewReview, ProjectShare,
    ReviewRow,
};
pub use audit::{AuditRow, AuditSearch, NewAudit, Verification};
pub use data::{DataChange, DataObject};
pub use error::StoreError;
pub use history::{GpuInterval, busy_gpu_ms};
pub use inventory::{ClassRow, InventoryChange, PriceRow};
pub use jobs::{
    Charging, JobChange, JobEvent, JobFilter, JobRow, JobRun, JobUpdate, NewJob, Visibility,
};
pub use keys::{KeyReport, Keyring, scope_of};
pub use lead::Leadership;
pub use ledger::{Carry, NewEntry, Refusal, StatementLine};
pub use nodes::NodeDrain;
pub use schemes::{EntryFor, SchemeRow};
pub use slurm::{SlurmGrant, SlurmProject, SlurmTenancy};
pub use sql::Backend;
pub use tenancy::{OrgRow, ProjectRow, TenancyChange};
pub use users::{AuthUser, Membership, NewToken, NewUser, TokenRow, UserRow};
pub use writer::Durability;

use aisc_vault::MasterKeys;
use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection, Executor};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
pub(crate) static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("migrations/postgres");

/// Where the store keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file (the embedded default).
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its `postgres://` URL.
    Postgres(String),
}

impl Database {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; `sqlite://PATH` or a
    /// plain path is an SQLite file.
    pub fn parse(s: &str) -> Result<Database, String> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Database::Postgres(s.to_string()));
        }
        let path = s.strip_prefix("sqlite://").unwrap_or(s);
        if path.is_empty() {
            return Err("database: give a postgres:// URL or an SQLite file's path".into());
        }
        if s.contains("://") && !s.starts_with("sqlite://") {
            return Err(format!(
                "database: {:?} is not a postgres:// URL or an SQLite path",
                s.split("://").next().unwrap_or("")
            ));
        }
        Ok(Database::Sqlite(PathBuf::from(path)))
    }

    /// The back end it runs on.
    pub fn backend(&self) -> Backend {
        match self {
            Database::Sqlite(_) => Backend::Sqlite,
            Database::Postgres(_) => Backend::Postgres,
        }
    }

    /// How it is named in logs: the path, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            Database::Sqlite(p) => p.display().to_string(),
            Database::Postgres(url) => redact_url(url),
        }
    }
}

/// A URL with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// The store: a read pool and a handle on the writer task.
#[derive(Debug, Clone)]
pub struct Store {
    read: AnyPool,
    writer: mpsc::Sender<writer::Request>,
    keys: Arc<Keyring>,
    backend: Backend,
    /// The PostgreSQL URL (leadership takes a connection of its own).
    url: Option<String>,
    fence: Arc<lead::Fence>,
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path`; see [`Store::connect`].
    pub async fn open(
        path: &Path,
        durability: Durability,
        masters: MasterKeys,
    ) -> Result<Store, StoreError> {
        Store::connect(&Database::Sqlite(path.to_path_buf()), durability, masters).await
    }

    /// Opens the database, runs its migrations, unwraps the data keys with
    /// `masters` (failing, naming the master key, if one is missing), seals
    /// any job spec stored before specs were sealed, and starts the writer
    /// task. Must be called inside a tokio runtime.
    pub async fn connect(
        db: &Database,
        durability: Durability,
        masters: MasterKeys,
    ) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (mut conn, read) = match db {
            Database::Sqlite(path) => open_sqlite(path, durability).await?,
            Database::Postgres(url) => open_postgres(url).await?,
        };
        let backend = db.backend();
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&mut conn).await?,
            Backend::Postgres => {
                // Two servers starting at once: one migrates, the other waits.
                conn.execute("SELECT pg_advisory_lock(7427001)").await?;
                let res = POSTGRES_MIGRATIONS.run(&mut conn).await;
                conn.execute("SELECT pg_advisory_unlock(7427001)").await?;
                res?
            }
        }
        conn.ping().await?;
        let keys = Keyring::new(masters);
        let mut scopes = keys::load(&mut conn, &keys).await?;
        let sealed = keys::seal_plain_specs(&mut conn, &keys, &mut scopes).await?;
        if sealed > 0 {
            tracing::info!(
                jobs = sealed,
                "sealed job specs stored in clear by an earlier version"
            );
        }
        let fence = Arc::new(lead::Fence::default());
        let writer = writer::spawn(conn, keys.clone(), scopes, fence.clone()).await?;
        Ok(Store {
            read,
            writer,
            keys,
            backend,
            url: match db {
                Database::Postgres(url) => Some(url.clone()),
                Database::Sqlite(_) => None,
            },
            fence,
        })
    }

    /// The back end this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the store: queued writes finish, then the connections close.
    pub async fn close(self) {
        drop(self.writer);
        self.read.close().await;
    }
}

/// The pragmas every SQLite connection runs with (the journal mode, WAL, is
/// kept in the file).
fn sqlite_pragmas(durability: Durability) -> &'static str {
    match durability {
        Durability::Full => {
            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA secure_delete = ON; PRAGMA synchronous = FULL"
        }
        Durability::Normal => {
            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA secure_delete = ON; PRAGMA synchronous = NORMAL"
        }
    }
}

async fn open_sqlite(
    path: &Path,
    durability: Durability,
) -> Result<(AnyConnection, AnyPool), StoreError> {
    let url = |create: bool, read_only: bool| {
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            .read_only(read_only)
            .to_url_lossy()
            .to_string()
    };
    let mut conn = AnyConnection::connect(&url(true, false)).await?;
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute(sqlite_pragmas(durability)).await?;
    let read = AnyPoolOptions::new()
        .max_connections(4)
        .min_connections(1)
        .after_connect(move |c, _| {
            Box::pin(async move {
                c.execute(sqlite_pragmas(durability)).await?;
                Ok(())
            })
        })
        .connect(&url(false, true))
        .await?;
    Ok((conn, read))
}

/// An SQLite file (made and migrated if new) on one connection, outside the store.
pub(crate) async fn open_sqlite_file(path: &Path) -> Result<AnyConnection, StoreError> {
    sqlx::any::install_default_drivers();
    let url = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .to_url_lossy()
        .to_string();
    let mut conn = AnyConnection::connect(&url).await?;
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute(sqlite_pragmas(Durability::Full)).await?;
    SQLITE_MIGRATIONS.run(&mut conn).await?;
    Ok(conn)
}

async fn open_postgres(url: &str) -> Result<(AnyConnection, AnyPool), StoreError> {
    let conn = AnyConnection::connect(url).await?;
    let read = AnyPoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        .connect(url)
        .await?;
    Ok((conn, read))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            redact_url("postgres://aisc:s3cret@db:5432/aisc"),
            "postgres://aisc:***@db:5432/aisc"
        );
        assert_eq!(
            redact_url("postgres://aisc@db/aisc"),
            "postgres://aisc@db/aisc"
        );
        assert_eq!(
            redact_url("postgres://a:b@c@db/x"),
            "postgres://a:***@db/x",
            "the last @ ends the credentials"
        );
        let shown = Database::parse("postgresql://u:pw@h/d")
            .expect("a URL")
            .display();
        assert!(!shown.contains("pw"), "{shown}");
    }
}
