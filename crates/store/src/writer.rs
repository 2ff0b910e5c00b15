//! The single writer: group commit of every write.
//!
//! Guarantees: a caller's reply is sent after the transaction holding its
//! write has committed (or failed); writes commit in the order they were
//! queued. Caveat: one failed commit fails every write in that batch, and each
//! caller sees the error.

use crate::error::StoreError;
use crate::jobs::{self, JobChange, NewJob};
use crate::users::{self, NewToken};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync at every commit: a reply means the write survives a power cut.
    #[default]
    Full,
    /// fsync at checkpoints only: survives a crash of aisc, not of the machine.
    Normal,
}

/// The most writes one transaction takes.
const MAX_BATCH: usize = 1024;

pub(crate) enum Op {
    InsertJob(Box<NewJob>),
    Change(JobChange),
    CreateUser {
        name: String,
        role: String,
        at_ms: i64,
        token: Option<NewToken>,
    },
    CreateToken(NewToken),
}

pub(crate) struct Request {
    pub op: Op,
    pub reply: oneshot::Sender<Result<i64, StoreError>>,
}

pub(crate) async fn spawn(conn: SqliteConnection) -> Result<mpsc::Sender<Request>, StoreError> {
    let (tx, rx) = mpsc::channel(8 * MAX_BATCH);
    tokio::spawn(run(conn, rx));
    Ok(tx)
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Request>) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = commit_batch(&mut conn, &batch).await;
        for (req, res) in batch.drain(..).zip(results) {
            let _ = req.reply.send(res); // the caller may have given up; the write stands
        }
    }
    let _ = conn.close().await;
}

async fn commit_batch(
    conn: &mut SqliteConnection,
    batch: &[Request],
) -> Vec<Result<i64, StoreError>> {
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            return batch
                .iter()
                .map(|_| Err(StoreError::CommitFailed(e.to_string())))
                .collect();
        }
    };
    let mut results = Vec::with_capacity(batch.len());
    for req in batch {
        let res = match &req.op {
            Op::InsertJob(job) => jobs::insert(&mut tx, job).await,
            Op::Change(change) => jobs::apply(&mut tx, change).await.map(|()| 0),
            Op::CreateUser {
                name,
                role,
                at_ms,
                token,
            } => users::insert_user(&mut tx, name, role, *at_ms, token.as_ref()).await,
            Op::CreateToken(t) => users::insert_token(&mut tx, t).await,
        };
        results.push(res);
    }
    match tx.commit().await {
        Ok(()) => results,
        Err(e) => {
            tracing::error!(error = %e, writes = batch.len(), "commit failed");
            batch
                .iter()
                .map(|_| Err(StoreError::CommitFailed(e.to_string())))
                .collect()
        }
    }
}

impl crate::Store {
    pub(crate) async fn write(&self, op: Op) -> Result<i64, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Request { op, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }
}
