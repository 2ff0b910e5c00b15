//! The single writer: group commit of every write.
//!
//! Guarantees: a caller's reply is sent after the transaction holding its
//! write has committed (or failed); writes commit in the order they were
//! queued. Caveat: one failed commit fails every write in that batch, and each
//! caller sees the error.

use crate::audit::{self, ChainHead, NewAudit};
use crate::error::StoreError;
use crate::jobs::{self, JobChange, NewJob};
use crate::keys::{Keyring, Scopes};
use crate::sql::Sql;
use crate::users::{self, NewToken, NewUser};
use sqlx::{AnyConnection, Connection};
use std::sync::Arc;
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

/// The most writes one transaction takes (at 18 bound values a job, 1,024 jobs
/// stay under SQLite's 32,766 variables per statement).
const MAX_BATCH: usize = 1024;

pub(crate) enum Op {
    InsertJob(Box<NewJob>),
    Change(JobChange),
    UpdateJob(Box<crate::jobs::JobUpdate>),
    CreateUser {
        user: NewUser,
        token: Option<NewToken>,
    },
    CreateToken(NewToken),
    Tenancy(crate::tenancy::TenancyChange),
    Inventory(crate::inventory::InventoryChange),
    Post(crate::ledger::NewEntry),
    PostBatch(Vec<crate::ledger::NewEntry>),
    Application(crate::applications::NewApplication),
    Review(crate::applications::NewReview),
    Decide {
        app: i64,
        by: aisc_model::UserId,
        decision: crate::applications::Decision,
        at_ms: i64,
    },
    Scheme {
        scheme: aisc_model::scheme::Scheme,
        at_ms: i64,
        fund: crate::schemes::EntryFor,
    },
    GrantLimits {
        id: i64,
        max_gpus: Option<i64>,
        high_qos: bool,
    },
    RevokeToken {
        id: i64,
        owner: Option<aisc_model::UserId>,
        at_ms: i64,
    },
    Password {
        user: aisc_model::UserId,
        hash: String,
    },
    Role {
        user: aisc_model::UserId,
        role: String,
    },
    UnixName {
        user: aisc_model::UserId,
        unix_name: Option<String>,
    },
    /// Nothing but the request's audit event (for actions outside the store, e.g. on Slurm).
    AuditOnly,
    NodeDrain {
        name: String,
        drain: Option<crate::nodes::NodeDrain>,
    },
    /// The data key of a project (or of the centre), made if it has none.
    EnsureKey {
        project: Option<aisc_model::ProjectId>,
        at_ms: i64,
    },
    /// Re-wraps every data key under the current master key.
    Rewrap,
    /// Other writes of the data and erasure features.
    Data(crate::data::DataChange),
}

pub(crate) struct Request {
    pub op: Op,
    /// Recorded in the same transaction, only if the op succeeds.
    pub audit: Option<NewAudit>,
    pub reply: oneshot::Sender<Result<i64, StoreError>>,
}

pub(crate) async fn spawn(
    mut conn: AnyConnection,
    ring: Arc<Keyring>,
    scopes: Scopes,
    fence: Arc<crate::lead::Fence>,
) -> Result<mpsc::Sender<Request>, StoreError> {
    let state = State {
        backend: crate::Backend::of(&conn),
        last_id: jobs::last_id(&mut conn).await?,
        head: audit::head(&mut conn).await?,
        ring,
        scopes,
        fence,
    };
    let (tx, rx) = mpsc::channel(8 * MAX_BATCH);
    tokio::spawn(run(conn, rx, state));
    Ok(tx)
}

/// What the writer, as the only writer, keeps between batches: the last job
/// id it gave, the head of the audit chain and which scope has which data
/// key. All three advance only on commit. On PostgreSQL other servers write
/// too: each batch first takes the database's write lock (an advisory lock
/// held to its commit) and then reads all three again.
struct State {
    backend: crate::Backend,
    last_id: i64,
    head: ChainHead,
    ring: Arc<Keyring>,
    scopes: Scopes,
    fence: Arc<crate::lead::Fence>,
}

impl State {
    /// The batch committed: keys it destroyed leave memory, and the WAL that
    /// held their wrapped copies is emptied.
    async fn committed(&mut self, conn: &mut AnyConnection) {
        let gone = self.scopes.commit();
        for id in &gone {
            self.ring.forget(*id);
        }
        if !gone.is_empty()
            && self.backend == crate::Backend::Sqlite
            && let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut *conn)
                .await
        {
            tracing::warn!(error = %e, "checkpoint after destroying a key failed");
        }
    }
}

async fn run(mut conn: AnyConnection, mut rx: mpsc::Receiver<Request>, mut state: State) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = commit_batch(&mut conn, &batch, &mut state).await;
        for (req, res) in batch.drain(..).zip(results) {
            let _ = req.reply.send(res); // the caller may have given up; the write stands
        }
    }
    let _ = conn.close().await;
}

/// New jobs are inserted before the loop over a batch's writes.
fn unreachable_insert() -> Result<i64, StoreError> {
    Err(StoreError::CommitFailed(
        "a submission reached the per-write loop".into(),
    ))
}

/// Commits a batch made only of submissions (the hot path) in one round trip
/// to SQLite: `BEGIN IMMEDIATE; INSERT jobs; INSERT audit_events; COMMIT`
/// as one multi-statement query, rolled back on any error.
async fn commit_submissions(
    conn: &mut AnyConnection,
    batch: &[Request],
    state: &mut State,
) -> Vec<Result<i64, StoreError>> {
    let failed = |e: &dyn std::fmt::Display| -> Vec<Result<i64, StoreError>> {
        batch
            .iter()
            .map(|_| Err(StoreError::CommitFailed(e.to_string())))
            .collect()
    };
    let new_jobs: Vec<&NewJob> = batch
        .iter()
        .filter_map(|r| match &r.op {
            Op::InsertJob(job) => Some(job.as_ref()),
            _ => None,
        })
        .collect();
    let first_id = state.last_id + 1;
    let (specs, keys) =
        match jobs::encode_specs(&new_jobs, first_id, (&state.ring, &mut state.scopes)) {
            Ok(s) => s,
            Err(e) => {
                state.scopes.rollback();
                return failed(&e);
            }
        };
    let events: Vec<NewAudit> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let a = r.audit.as_ref()?;
            let target = if a.target.is_empty() {
                format!("job:{}", first_id + i as i64)
            } else {
                a.target.clone()
            };
            Some(NewAudit {
                target,
                ..a.clone()
            })
        })
        .collect();
    let (links, head) = audit::chain(&state.head, &events);
    let mut q = Sql::new("BEGIN IMMEDIATE; ");
    if !keys.is_empty() {
        crate::keys::push_insert(&mut q, &keys);
        q.push("; ");
    }
    jobs::push_insert(&mut q, &new_jobs, &specs, first_id);
    for (array, waiting) in jobs::array_updates(&new_jobs) {
        q.push("; UPDATE jobs SET array_waiting = ")
            .push_bind(waiting)
            .push(" WHERE id = ")
            .push_bind(array);
    }
    if !events.is_empty() {
        q.push("; ");
        audit::push_insert(&mut q, &events, &links);
    }
    q.push("; COMMIT");
    match q.build().execute(&mut *conn).await {
        Ok(_) => {
            state.last_id = first_id + new_jobs.len() as i64 - 1;
            state.head = head;
            state.committed(conn).await;
            (first_id..).take(batch.len()).map(Ok).collect()
        }
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            state.scopes.rollback();
            tracing::error!(error = %e, jobs = batch.len(), "committing submissions failed");
            failed(&e)
        }
    }
}

/// Commits one batch. New jobs go first, in one multi-row insert: no change in
/// the same batch can concern them, since their ids are not known to anyone yet.
async fn commit_batch(
    conn: &mut AnyConnection,
    batch: &[Request],
    state: &mut State,
) -> Vec<Result<i64, StoreError>> {
    if state.backend == crate::Backend::Sqlite
        && batch.iter().all(|r| matches!(r.op, Op::InsertJob(_)))
    {
        return commit_submissions(conn, batch, state).await;
    }
    let mut tries = 0;
    loop {
        match commit_mixed(conn, batch, state).await {
            Ok(results) => return results,
            Err(e) => {
                state.scopes.rollback();
                tries += 1;
                if e.retry && tries < MAX_TRIES {
                    tracing::warn!(error = %e.message, tries, "retrying a batch after a serialisation failure");
                    continue;
                }
                return batch
                    .iter()
                    .map(|_| Err(StoreError::CommitFailed(e.message.clone())))
                    .collect();
            }
        }
    }
}

/// How many times a batch is tried when PostgreSQL reports a serialisation
/// failure or a deadlock (SQLSTATE 40001, 40P01). With every server's writes
/// ordered by the write lock neither should arise; if one does, the whole
/// batch, rolled back, is simply run again.
const MAX_TRIES: u32 = 3;

/// Why a batch did not commit, and whether running it again may succeed.
struct BatchFailure {
    message: String,
    retry: bool,
}

fn retryable(e: &(dyn std::error::Error + 'static)) -> bool {
    let db = e
        .downcast_ref::<sqlx::Error>()
        .or_else(|| match e.downcast_ref::<StoreError>() {
            Some(StoreError::Db(inner)) => Some(inner),
            _ => None,
        });
    matches!(db, Some(sqlx::Error::Database(d)) if matches!(d.code().as_deref(), Some("40001" | "40P01")))
}

/// Commits a batch of any writes, or says why it did not commit (each caller
/// then gets that error).
async fn commit_mixed(
    conn: &mut AnyConnection,
    batch: &[Request],
    state: &mut State,
) -> Result<Vec<Result<i64, StoreError>>, BatchFailure> {
    let failed = |e: &(dyn std::error::Error + 'static)| -> Result<Vec<Result<i64, StoreError>>, BatchFailure> {
        tracing::error!(error = %e, writes = batch.len(), "a batch did not commit");
        Err(BatchFailure {
            message: e.to_string(),
            retry: retryable(e),
        })
    };
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => return failed(&e),
    };
    if state.backend == crate::Backend::Postgres
        && let Err(e) = take_write_lock(&mut tx, state).await
    {
        return failed(&e);
    }
    let new_jobs: Vec<&NewJob> = batch
        .iter()
        .filter_map(|r| match &r.op {
            Op::InsertJob(job) => Some(job.as_ref()),
            _ => None,
        })
        .collect();
    let first_id = state.last_id + 1;
    if !new_jobs.is_empty()
        && let Err(e) = jobs::insert_many(
            &mut tx,
            &new_jobs,
            first_id,
            (&state.ring, &mut state.scopes),
        )
        .await
    {
        tracing::error!(error = %e, jobs = new_jobs.len(), "inserting jobs failed");
        return failed(&e);
    }
    let mut next_id = first_id;
    let mut results = Vec::with_capacity(batch.len());
    for req in batch {
        if let Op::InsertJob(_) = req.op {
            next_id += 1;
            results.push(Ok(next_id - 1));
            continue;
        }
        if let Op::Post(e) = &req.op {
            // A posting is all or nothing under its own savepoint already.
            results.push(crate::ledger::post(&mut tx, e).await);
            continue;
        }
        // Each write is all or nothing: a failure halfway rolls back its own
        // statements and leaves the rest of the batch to commit.
        if let Err(e) = sqlx::query("SAVEPOINT op").execute(&mut *tx).await {
            results.push(Err(e.into()));
            continue;
        }
        let res = match &req.op {
            Op::InsertJob(_) => unreachable_insert(),
            Op::Change(change) => jobs::apply(&mut tx, change).await.map(|()| 0),
            Op::UpdateJob(u) => jobs::update(&mut tx, (&state.ring, &mut state.scopes), u).await,
            Op::CreateUser { user, token } => {
                users::insert_user(&mut tx, user, token.as_ref()).await
            }
            Op::CreateToken(t) => users::insert_token(&mut tx, t).await,
            Op::Tenancy(c) => crate::tenancy::apply(&mut tx, c).await,
            Op::Inventory(c) => crate::inventory::apply(&mut tx, c).await,
            Op::Post(e) => crate::ledger::post(&mut tx, e).await,
            Op::PostBatch(es) => crate::ledger::post_batch(&mut tx, es).await,
            Op::Application(a) => crate::applications::insert(&mut tx, a).await,
            Op::Review(r) => crate::applications::review(&mut tx, r).await,
            Op::Decide {
                app,
                by,
                decision,
                at_ms,
            } => crate::applications::decide(&mut tx, *app, *by, decision, *at_ms).await,
            Op::Scheme {
                scheme,
                at_ms,
                fund,
            } => crate::schemes::insert(&mut tx, scheme, *at_ms, fund).await,
            Op::GrantLimits {
                id,
                max_gpus,
                high_qos,
            } => crate::applications::set_grant_limits(&mut tx, *id, *max_gpus, *high_qos).await,
            Op::RevokeToken { id, owner, at_ms } => {
                users::revoke_token(&mut tx, *id, *owner, *at_ms).await
            }
            Op::Role { user, role } => users::set_role(&mut tx, *user, role).await,
            Op::Password { user, hash } => users::set_password(&mut tx, *user, hash).await,
            Op::UnixName { user, unix_name } => {
                users::set_unix_name(&mut tx, *user, unix_name.as_deref()).await
            }
            Op::AuditOnly => Ok(0),
            Op::NodeDrain { name, drain } => {
                crate::nodes::set_drain(&mut tx, name, drain.as_ref()).await
            }
            Op::EnsureKey { project, at_ms } => {
                crate::keys::ensure(&mut tx, &state.ring, &mut state.scopes, *project, *at_ms).await
            }
            Op::Rewrap => crate::keys::rewrap(&mut tx, &state.ring).await,
            Op::Data(c) => match crate::data::apply(&mut tx, c).await {
                Ok(id) => match c.destroys_key() {
                    Some((project, at_ms)) => {
                        let scope = crate::keys::scope_of(Some(project));
                        crate::keys::destroy(&mut tx, &mut state.scopes, &scope, at_ms)
                            .await
                            .map(|_| id)
                    }
                    None => Ok(id),
                },
                Err(e) => Err(e),
            },
        };
        let end = if res.is_ok() {
            "RELEASE op"
        } else {
            "ROLLBACK TO op; RELEASE op"
        };
        if let Err(e) = sqlx::raw_sql(end).execute(&mut *tx).await {
            tracing::error!(error = %e, "ending a savepoint failed");
            return failed(&e);
        }
        results.push(res);
    }
    // Audit events of the writes that succeeded, chained in commit order.
    let events: Vec<NewAudit> = batch
        .iter()
        .zip(&results)
        .filter_map(|(req, res)| match (&req.audit, res) {
            (Some(a), Ok(id)) if matches!(req.op, Op::InsertJob(_)) && a.target.is_empty() => {
                Some(NewAudit {
                    target: format!("job:{id}"),
                    ..a.clone()
                })
            }
            (Some(a), Ok(_)) => Some(a.clone()),
            _ => None,
        })
        .collect();
    let head = if events.is_empty() {
        state.head.clone()
    } else {
        match audit::append(&mut tx, &state.head, &events).await {
            Ok(head) => head,
            Err(e) => {
                tracing::error!(error = %e, "appending audit events failed");
                return failed(&e);
            }
        }
    };
    match tx.commit().await {
        Ok(()) => {
            state.last_id = next_id - 1;
            state.head = head;
            state.committed(conn).await;
            Ok(results)
        }
        Err(e) => failed(&e),
    }
}

/// The key of the advisory lock that orders every server's writes on one
/// PostgreSQL database.
pub(crate) const WRITE_LOCK: i64 = 7_427_002;

/// Takes the database's write lock for this transaction and reads again what
/// other servers may have changed since this one's last batch.
async fn take_write_lock(conn: &mut AnyConnection, state: &mut State) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(&mut *conn)
        .await?;
    crate::lead::check_fence(conn, &state.fence).await?;
    state.last_id = jobs::last_id(conn).await?;
    state.head = audit::head(conn).await?;
    crate::keys::sync(conn, &state.ring, &mut state.scopes).await
}

impl crate::Store {
    pub(crate) async fn write(&self, op: Op, audit: Option<NewAudit>) -> Result<i64, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Request { op, audit, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }
}
