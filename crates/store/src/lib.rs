//! Persistence. All SQL lives in this crate.
//!
//! One back end today, SQLite (embedded, zero set-up). Writes go through a
//! single writer task that commits whatever has queued up in one transaction
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
mod ledger;
mod nodes;
mod schemes;
mod slurm;
mod tenancy;
mod users;
mod writer;

pub use applications::{
    ApplicationRow, Decision, GrantRow, NewApplication, NewGrant, NewReview, ProjectShare,
    ReviewRow,
};
pub use audit::{AuditRow, AuditSearch, NewAudit, Verification};
pub use data::{DataChange, DataObject};
pub use error::StoreError;
pub use history::{GpuInterval, busy_gpu_ms};
pub use inventory::{ClassRow, InventoryChange, PriceRow};
pub use jobs::{Charging, Fields, JobChange, JobEvent, JobFilter, JobRow, NewJob, Visibility};
pub use keys::{KeyReport, Keyring, scope_of};
pub use ledger::{NewEntry, Refusal, StatementLine};
pub use nodes::NodeDrain;
pub use schemes::{EntryFor, SchemeRow};
pub use slurm::{SlurmGrant, SlurmProject, SlurmTenancy};
pub use tenancy::{OrgRow, ProjectRow, TenancyChange};
pub use users::{AuthUser, Membership, NewToken, NewUser, TokenRow, UserRow};
pub use writer::Durability;

use aisc_vault::MasterKeys;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The store: a read pool and a handle on the writer task.
#[derive(Debug, Clone)]
pub struct Store {
    read: SqlitePool,
    writer: mpsc::Sender<writer::Request>,
    keys: Arc<Keyring>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, runs migrations,
    /// unwraps the data keys with `masters` (failing, naming the master key,
    /// if one is missing), seals any job spec stored before specs were sealed,
    /// and starts the writer task. Must be called inside a tokio runtime.
    pub async fn open(
        path: &Path,
        durability: Durability,
        masters: MasterKeys,
    ) -> Result<Store, StoreError> {
        let base = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("secure_delete", "ON")
            .disable_statement_logging();
        let sync = match durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Normal => SqliteSynchronous::Normal,
        };
        let mut conn = base
            .clone()
            .create_if_missing(true)
            .synchronous(sync)
            .connect()
            .await?;
        MIGRATOR.run(&mut conn).await?;
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
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(base.clone().read_only(true))
            .await?;
        let writer = writer::spawn(conn, keys.clone(), scopes).await?;
        Ok(Store { read, writer, keys })
    }

    /// Closes the store: queued writes finish, then the connections close.
    pub async fn close(self) {
        drop(self.writer);
        self.read.close().await;
    }
}
