//! The store's one error type.

use aisc_model::{InvalidTransition, JobId, JobState};
use thiserror::Error;

/// What can go wrong in the store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// No such row.
    #[error("not found")]
    NotFound,
    /// A row with this unique value exists already.
    #[error("{0} already exists")]
    Exists(&'static str),
    /// The ledger refused an entry; nothing was posted.
    #[error("the ledger refused the entry: {0:?}")]
    Ledger(crate::ledger::Refusal),
    /// A transition was asked of a job that is no longer in the expected state.
    #[error("job {id} is not {expected}")]
    Conflict {
        /// The job.
        id: JobId,
        /// The state the change expected it in.
        expected: JobState,
    },
    /// The state machine forbids the transition asked for.
    #[error(transparent)]
    Illegal(InvalidTransition),
    /// A row holds a value the code cannot read (e.g. an unknown state name).
    #[error("corrupt value {value:?} in column {column}")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// What was found.
        value: String,
    },
    /// A rule kept inside the writer's transaction refused the write; nothing was written.
    #[error("{0}")]
    Refused(&'static str),
    /// A project's files would not fit in its quota; nothing was written.
    #[error("the project's files take {used} bytes of its {quota}")]
    OverQuota {
        /// Bytes its files and uploads take now.
        used: i64,
        /// Its quota.
        quota: i64,
    },
    /// A key could not be unwrapped or a sealed value opened.
    #[error(transparent)]
    Vault(#[from] aisc_vault::VaultError),
    /// The transaction holding this write could not commit; nothing in it was written.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// Another server has taken the lead since this one took it: this one
    /// must not write again (see `lead`).
    #[error("fenced: this server led at epoch {mine}, the database is at epoch {now}")]
    Fenced {
        /// This server's epoch.
        mine: i64,
        /// The database's.
        now: i64,
    },
    /// The writer task has stopped (the store is closing).
    #[error("the store's writer has stopped")]
    WriterGone,
    /// The database answered with an error.
    #[error("database error")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file or a runtime the store needed could not be had.
    #[error("I/O")]
    Io(#[from] std::io::Error),
    /// A JSON column could not be encoded or decoded.
    #[error("JSON column")]
    Json(#[from] serde_json::Error),
}
