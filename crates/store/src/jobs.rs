//! Jobs and their state history.

use crate::Store;
use crate::audit::NewAudit;
use crate::error::StoreError;
use crate::sql::RowExt as _;
use crate::sql::Sql;
use crate::writer::Op;
use aisc_model::{JobId, JobSpec, JobState, OrgId, ProjectId, Resources, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::sync::LazyLock;

mod changes;
pub(crate) use changes::apply;
pub use changes::{JobChange, JobRun};

/// A job to store as `pending`.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Who submitted it.
    pub owner: UserId,
    /// What it is.
    pub spec: JobSpec,
    /// The first pending reason (`Held` or `Priority`).
    pub reason: String,
    /// When it was accepted.
    pub submit_ms: i64,
    /// The project it is charged to.
    pub project: Option<ProjectId>,
    /// The grant it is charged to, at what price, and its lien.
    pub charging: Option<Charging>,
    /// For a task split off an array (`spec.task_of`): the array's waiting
    /// tasks once this one is taken from them, stored on the array's row in
    /// the same transaction.
    pub array_waiting: Option<String>,
}

pub use aisc_model::job::Charging;

/// A waiting job changed by `aisc update`: its spec sealed again, its name,
/// time limit and QOS columns, and its price and lien.
#[derive(Debug, Clone)]
pub struct JobUpdate {
    /// The job (it must be pending).
    pub id: JobId,
    /// Its project (whose data key seals the spec).
    pub project: Option<ProjectId>,
    /// The spec as changed.
    pub spec: JobSpec,
    /// Its charging as priced again.
    pub charging: Option<Charging>,
    /// When.
    pub at_ms: i64,
}

/// Stores a [`JobUpdate`]; a conflict unless the job is still pending.
pub(crate) async fn update(
    conn: &mut AnyConnection,
    (ring, scopes): Sealer<'_>,
    u: &JobUpdate,
) -> Result<i64, StoreError> {
    let key_id = crate::keys::ensure(conn, ring, scopes, u.project, u.at_ms).await?;
    let sealed = crate::keys::seal_spec(ring, key_id, u.id.0, &u.spec)?;
    let done = sqlx::query(
        "UPDATE jobs SET spec = $1, name = $2, time_limit_s = $3, price_cents = COALESCE($4, price_cents), \
         lien_cents = COALESCE($5, lien_cents) WHERE id = $6 AND state = 'pending'",
    )
    .bind(sealed)
    .bind(&u.spec.name)
    .bind(to_i64(u.spec.time_limit_s))
    .bind(u.charging.map(|c| c.price_cents))
    .bind(u.charging.map(|c| c.lien_cents))
    .bind(u.id.0)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict {
            id: u.id,
            expected: JobState::Pending,
        });
    }
    Ok(u.id.0)
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Id.
    pub id: JobId,
    /// Submitter.
    pub owner: UserId,
    /// Submitter's user name.
    pub owner_name: String,
    /// Name.
    pub name: String,
    /// Project.
    pub account: Option<String>,
    /// State.
    pub state: JobState,
    /// Why it is in that state (for pending jobs: why it waits).
    pub reason: String,
    /// Held until released.
    pub held: bool,
    /// What it asked for.
    pub resources: Resources,
    /// GPU model asked for.
    pub gpu_type: Option<String>,
    /// Time limit, seconds.
    pub time_limit_s: u64,
    /// The full spec (only when fetched one by one).
    pub spec: Option<JobSpec>,
    /// Accepted at (epoch ms).
    pub submit_ms: i64,
    /// Started at.
    pub start_ms: Option<i64>,
    /// Ended at.
    pub end_ms: Option<i64>,
    /// Node it was placed on.
    pub node: Option<String>,
    /// GPU indices on that node.
    pub gpu_ids: Vec<u32>,
    /// Process id of its process group leader.
    pub pid: Option<i64>,
    /// That process's start time (clock ticks since boot), to tell it from a reused pid.
    pub pid_start: Option<u64>,
    /// Where its standard output goes.
    pub stdout_path: Option<String>,
    /// Where its standard error goes.
    pub stderr_path: Option<String>,
    /// The state aisc is ending it into (cancelled, timed_out), once it has signalled it.
    pub kill_state: Option<JobState>,
    /// Why aisc signalled it.
    pub kill_reason: Option<String>,
    /// Exit status.
    pub exit_code: Option<i32>,
    /// Signal that ended it.
    pub signal: Option<i32>,
    /// Metered wall time, ms.
    pub wall_ms: Option<u64>,
    /// Metered GPU time, ms.
    pub gpu_ms: Option<u64>,
    /// Metered CPU time, ms.
    pub cpu_ms: Option<u64>,
    /// The project it is charged to.
    pub project: Option<ProjectId>,
    /// That project's organisation.
    pub org: Option<OrgId>,
    /// The grant it is charged to, at what price, and its lien.
    pub charging: Option<Charging>,
    /// The engine's id for it (Slurm's job id), once the engine accepted it.
    pub engine_job_id: Option<i64>,
    /// When it was first handed to an engine with its own queue (it may exist there since).
    pub engine_submit_ms: Option<i64>,
    /// What its settlements (one per run) charged its grant, HK cents (`None` until settled).
    pub charged_cents: Option<i64>,
    /// The array it belongs to (its own id for an array's row).
    pub array_job_id: Option<JobId>,
    /// Its task of that array, once it is one.
    pub array_task_id: Option<u32>,
    /// An array's tasks that wait, folded (`5-15,17`; empty when none).
    pub array_waiting: Option<String>,
    /// An array's `%N`.
    pub array_throttle: Option<u32>,
    /// How many times it was requeued (its current run's number).
    pub restarts: u32,
}

impl JobRow {
    /// How users name it: `123`, `123_4` for a task, `123_[5-15%4]` for an
    /// array whose tasks wait.
    pub fn label(&self) -> String {
        match (self.array_job_id, self.array_task_id) {
            (Some(a), Some(t)) => format!("{a}_{t}"),
            (Some(a), None) => match self.array_waiting.as_deref() {
                Some(w) if !w.is_empty() => match self.array_throttle {
                    Some(n) => format!("{a}_[{w}%{n}]"),
                    None => format!("{a}_[{w}]"),
                },
                _ => a.to_string(),
            },
            _ => self.id.to_string(),
        }
    }
}

/// One recorded transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEvent {
    /// When.
    pub at_ms: i64,
    /// From (none for the submission itself).
    pub from: Option<JobState>,
    /// To.
    pub to: JobState,
    /// Why.
    pub reason: String,
}

/// Which jobs to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only this user's jobs.
    pub owner: Option<UserId>,
    /// Only jobs charged to the project of this name.
    pub project: Option<String>,
    /// Only jobs this caller may see; `None` for everyone's.
    pub visible_to: Option<Visibility>,
    /// Only jobs with a smaller id (paging).
    pub before: Option<JobId>,
    /// Only the rows of this array (its own and its tasks').
    pub array: Option<JobId>,
    /// At most this many.
    pub limit: u32,
}

/// Whose jobs a caller may see: their own, those of projects they lead, and
/// those of organisations they administer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    /// The caller.
    pub user: UserId,
    /// Projects whose jobs they see.
    pub projects: Vec<ProjectId>,
    /// Organisations whose jobs they see.
    pub orgs: Vec<OrgId>,
}

/// `('pending', 'admitted')`: the states as an SQL list, from `JobState`'s own lists.
pub(crate) fn sql_states(states: &[JobState]) -> String {
    let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
    format!("({})", names.join(", "))
}

/// The columns every job query reads (a macro so that statements stay `&'static str`).
macro_rules! columns {
    () => {
        "j.id, j.owner_id, u.name AS owner_name, j.name, j.account, j.state, j.reason, j.held, \
    j.gpus, j.cpus, j.mem_mb, j.gpu_type, j.time_limit_s, j.submit_ms, j.start_ms, j.end_ms, j.node, j.gpu_ids, \
    j.pid, j.pid_start, j.stdout_path, j.stderr_path, j.kill_state, j.kill_reason, j.exit_code, j.signal, j.wall_ms, j.gpu_ms, j.cpu_ms, j.project_id, p.org_id AS project_org, j.grant_id, j.price_cents, j.lien_cents, j.engine_job_id, j.engine_submit_ms, \
    j.array_job_id, j.array_task_id, j.array_waiting, j.array_throttle, \
    j.restarts, \
    (SELECT CAST(SUM(lp.amount) AS BIGINT) FROM ledger_entries le JOIN ledger_postings lp ON lp.entry_id = le.id \
     WHERE le.job_id = j.id AND le.kind = 'settle' AND lp.account LIKE 'grant/%/used') AS charged_cents"
    };
}

/// The highest job id ever given (ids are never reused: SQLite's AUTOINCREMENT
/// remembers deleted ones; on PostgreSQL jobs are never deleted).
pub(crate) async fn last_id(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    let seq: Option<i64> = match crate::Backend::of(conn) {
        crate::Backend::Sqlite => {
            sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'")
                .fetch_optional(&mut *conn)
                .await?
        }
        crate::Backend::Postgres => None,
    };
    let max: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM jobs")
        .fetch_one(&mut *conn)
        .await?;
    Ok(seq.unwrap_or(0).max(max))
}

/// Inserts jobs with the ids `first_id..` in one statement, so that a batch
/// costs one round trip, not one per job. The submission itself is not a row
/// of `job_events`: it is read from `jobs.submit_ms` (see [`Store::events`]).
pub(crate) async fn insert_many(
    conn: &mut AnyConnection,
    jobs: &[&NewJob],
    first_id: i64,
    sealer: Sealer<'_>,
) -> Result<(), StoreError> {
    let (specs, keys) = encode_specs(jobs, first_id, sealer)?;
    crate::keys::insert(conn, &keys).await?;
    let mut q = Sql::new("");
    push_insert(&mut q, jobs, &specs, first_id);
    q.build().execute(&mut *conn).await?;
    update_arrays(conn, jobs).await
}

/// What seals specs: the keyring and the writer's view of which scope has which key.
pub(crate) type Sealer<'a> = (&'a crate::keys::Keyring, &'a mut crate::keys::Scopes);

/// Each job's spec as stored beside its columns (its JSON sealed with its
/// project's data key), and the keys made for scopes that had none.
pub(crate) fn encode_specs(
    jobs: &[&NewJob],
    first_id: i64,
    (ring, scopes): Sealer<'_>,
) -> Result<(Vec<String>, Vec<crate::keys::NewKey>), StoreError> {
    let mut keys = Vec::new();
    let specs = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| {
            let scope = crate::keys::scope_of(j.project);
            let (key_id, new) = scopes.ensure(ring, &scope, j.project, j.submit_ms);
            keys.extend(new);
            crate::keys::seal_spec(ring, key_id, first_id + i as i64, &j.spec)
        })
        .collect::<Result<_, _>>()?;
    Ok((specs, keys))
}

/// Adds one multi-row `INSERT INTO jobs` for `jobs` (ids from `first_id`) to `q`.
pub(crate) fn push_insert<'a>(
    q: &mut Sql,
    jobs: &'a [&'a NewJob],
    specs: &'a [String],
    first_id: i64,
) {
    q.push(
        "INSERT INTO jobs (id, owner_id, name, account, state, reason, held, gpus, cpus, mem_mb, gpu_type, \
         time_limit_s, spec, submit_ms, project_id, grant_id, price_cents, lien_cents, \
         array_job_id, array_task_id, array_waiting, array_throttle) ",
    );
    q.push_values(jobs.iter().zip(specs).enumerate(), |b, (i, (job, spec))| {
        let s = &job.spec;
        let id = first_id + i as i64;
        let (array_job, task, waiting, throttle) = match (&s.array, &s.task_of) {
            (_, Some(of)) => (Some(of.array.0), Some(i64::from(of.task)), None, None),
            (Some(a), None) => (
                Some(id),
                None,
                Some(a.tasks.to_string()),
                a.throttle.map(i64::from),
            ),
            (None, None) => (None, None, None, None),
        };
        b.push_bind(id)
            .push_bind(job.owner.0)
            .push_bind(&s.name)
            .push_bind(&s.account)
            .push_bind("pending")
            .push_bind(&job.reason)
            .push_bind(i64::from(s.hold))
            .push_bind(i64::from(s.resources.gpus))
            .push_bind(i64::from(s.resources.cpus))
            .push_bind(to_i64(s.resources.mem_mb))
            .push_bind(&s.gpu_type)
            .push_bind(to_i64(s.time_limit_s))
            .push_bind(spec.as_str())
            .push_bind(job.submit_ms)
            .push_bind(job.project.map(|p| p.0))
            .push_bind(job.charging.map(|c| c.grant))
            .push_bind(job.charging.map(|c| c.price_cents))
            .push_bind(job.charging.map(|c| c.lien_cents))
            .push_bind(array_job)
            .push_bind(task)
            .push_bind(waiting)
            .push_bind(throttle);
    });
}

/// The arrays' rows whose waiting tasks change because tasks of them were
/// split off in this batch (one statement each: PostgreSQL takes no binds in
/// a statement list).
pub(crate) fn array_updates<'a>(jobs: &'a [&'a NewJob]) -> impl Iterator<Item = (i64, &'a str)> {
    jobs.iter().filter_map(|j| {
        let of = j.spec.task_of?;
        Some((of.array.0, j.array_waiting.as_deref()?))
    })
}

async fn update_arrays(conn: &mut AnyConnection, jobs: &[&NewJob]) -> Result<(), StoreError> {
    for (array, waiting) in array_updates(jobs) {
        sqlx::query("UPDATE jobs SET array_waiting = $1 WHERE id = $2")
            .bind(waiting)
            .bind(array)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Stores a new pending job and its audit event (whose empty target
    /// becomes `job:<id>`); returns the id once committed.
    pub async fn submit(&self, job: NewJob, audit: NewAudit) -> Result<JobId, StoreError> {
        self.write(Op::InsertJob(Box::new(job)), Some(audit))
            .await
            .map(JobId)
    }

    /// Changes a waiting job (`aisc update`), with its audit event.
    pub async fn update_job(&self, u: JobUpdate, audit: NewAudit) -> Result<(), StoreError> {
        self.write(Op::UpdateJob(Box::new(u)), Some(audit))
            .await
            .map(|_| ())
    }

    /// Applies a change made by the system (recorded in the job's history).
    pub async fn change(&self, change: JobChange) -> Result<(), StoreError> {
        self.write(Op::Change(change), None).await.map(|_| ())
    }

    /// Applies a change asked for by someone, with its audit event, in one transaction.
    pub async fn change_audited(
        &self,
        change: JobChange,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        self.write(Op::Change(change), Some(audit))
            .await
            .map(|_| ())
    }

    /// One job with its spec.
    pub async fn job(&self, id: JobId) -> Result<JobRow, StoreError> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            ", j.spec FROM jobs j JOIN users u ON u.id = j.owner_id LEFT JOIN projects p ON p.id = j.project_id WHERE j.id = $1"
        );
        let row = sqlx::query(sql)
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?;
        let row = row.ok_or(StoreError::NotFound)?;
        self.fresh_keys(std::slice::from_ref(&row)).await?;
        read_row(&row, Some(&self.keys))
    }

    /// A job's transitions, oldest first, starting with its submission.
    pub async fn events(&self, id: JobId) -> Result<Vec<JobEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT submit_ms AS at_ms, NULL AS from_state, 'pending' AS to_state, 'submitted' AS reason, 0 AS ord \
             FROM jobs WHERE id = $1 \
             UNION ALL SELECT at_ms, from_state, to_state, reason, id AS ord FROM job_events WHERE job_id = $2 \
             ORDER BY ord",
        )
        .bind(id.0)
            .bind(id.0)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                let from: Option<String> = r.try_get("from_state")?;
                Ok(JobEvent {
                    at_ms: r.try_get("at_ms")?,
                    from: from.map(|s| parse_state(&s)).transpose()?,
                    to: parse_state(&r.try_get::<String, _>("to_state")?)?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    /// Jobs matching `filter`, newest first.
    pub async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRow>, StoreError> {
        let mut q = Sql::new(concat!(
            "SELECT ",
            columns!(),
            " FROM jobs j JOIN users u ON u.id = j.owner_id LEFT JOIN projects p ON p.id = j.project_id WHERE 1 = 1"
        ));
        if let Some(state) = filter.state {
            q.push(" AND j.state = ").push_bind(state.as_str());
        }
        if let Some(owner) = filter.owner {
            q.push(" AND j.owner_id = ").push_bind(owner.0);
        }
        if let Some(project) = &filter.project {
            // By id, so that `jobs_by_project` serves it; an unknown name matches nothing.
            q.push(" AND j.project_id = (SELECT id FROM projects WHERE name = ")
                .push_bind(project.clone())
                .push(")");
        }
        if let Some(v) = &filter.visible_to {
            q.push(" AND (j.owner_id = ").push_bind(v.user.0);
            for p in &v.projects {
                q.push(" OR j.project_id = ").push_bind(p.0);
            }
            for o in &v.orgs {
                q.push(" OR p.org_id = ").push_bind(o.0);
            }
            q.push(")");
        }
        if let Some(before) = filter.before {
            q.push(" AND j.id < ").push_bind(before.0);
        }
        if let Some(array) = filter.array {
            q.push(" AND j.array_job_id = ").push_bind(array.0);
        }
        q.push(" ORDER BY j.id DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        let rows = q.build().fetch_all(&self.read).await?;
        rows.iter().map(|r| read_row(r, None)).collect()
    }

    /// The record of task `task` of array `array`, once it has one.
    pub async fn array_task(&self, array: JobId, task: u32) -> Result<Option<JobId>, StoreError> {
        let id: Option<i64> = sqlx::query_scalar(
            // A preempted task's requeued copy is the task from then on: the newest record.
            "SELECT id FROM jobs WHERE array_job_id = $1 AND array_task_id = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(array.0)
        .bind(i64::from(task))
        .fetch_optional(&self.read)
        .await?;
        Ok(id.map(JobId))
    }

    /// How many jobs `owner` has pending (held ones included), counting no further than `cap`.
    pub async fn waiting_jobs(&self, owner: UserId, cap: u32) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE owner_id = $1 AND state = 'pending' LIMIT $2) AS w",
        )
        .bind(owner.0)
        .bind(i64::from(cap))
        .fetch_one(&self.read)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Ids of pending jobs (held ones too) above `after`, lowest first, at most
    /// `limit`: what the leader polls for, to queue jobs that another server
    /// on the same database accepted.
    pub async fn pending_ids_after(
        &self,
        after: JobId,
        limit: u32,
    ) -> Result<Vec<JobId>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE state = 'pending' AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.0)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        Ok(ids.into_iter().map(JobId).collect())
    }

    /// These jobs with their specs, by id (those still pending only).
    pub async fn pending_jobs(&self, ids: &[JobId]) -> Result<Vec<JobRow>, StoreError> {
        let mut rows = Vec::with_capacity(ids.len());
        for part in ids.chunks(1000) {
            let mut q = Sql::new(concat!(
                "SELECT ",
                columns!(),
                ", j.spec FROM jobs j JOIN users u ON u.id = j.owner_id LEFT JOIN projects p ON p.id = j.project_id ",
                "WHERE j.state = 'pending' AND j.id IN ("
            ));
            for (i, id) in part.iter().enumerate() {
                q.push(if i == 0 { "" } else { ", " }).push_bind(id.0);
            }
            q.push(") ORDER BY j.id");
            rows.extend(q.build().fetch_all(&self.read).await?);
        }
        self.fresh_keys(&rows).await?;
        rows.iter().map(|r| read_row(r, Some(&self.keys))).collect()
    }

    /// Every job not yet finished (pending, admitted, running), oldest first, with specs.
    pub async fn active(&self) -> Result<Vec<JobRow>, StoreError> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, j.spec FROM jobs j JOIN users u ON u.id = j.owner_id LEFT JOIN projects p ON p.id = j.project_id \
                 WHERE j.state IN {} ORDER BY j.id",
                columns!(),
                sql_states(&JobState::LIVE)
            )
        });
        let rows = sqlx::query(SQL.as_str()).fetch_all(&self.read).await?;
        self.fresh_keys(&rows).await?;
        rows.iter().map(|r| read_row(r, Some(&self.keys))).collect()
    }

    /// On PostgreSQL, loads the keys of these rows' specs that another server made.
    async fn fresh_keys(&self, rows: &[AnyRow]) -> Result<(), StoreError> {
        if self.backend != crate::Backend::Postgres {
            return Ok(());
        }
        let mut ids = Vec::new();
        for r in rows {
            let text: String = r.try_get("spec")?;
            ids.extend(crate::keys::spec_key_id(&text));
        }
        ids.sort_unstable();
        ids.dedup();
        crate::keys::load_missing(&self.read, &self.keys, ids).await
    }
}

/// A row; with `keys`, its spec opened too (`None` once its key was destroyed).
fn read_row(r: &AnyRow, keys: Option<&crate::keys::Keyring>) -> Result<JobRow, StoreError> {
    let array_job_id = r.try_get::<Option<i64>, _>("array_job_id")?.map(JobId);
    let array_task_id = r
        .try_get::<Option<i64>, _>("array_task_id")?
        .and_then(|t| u32::try_from(t).ok());
    let restarts = u32::try_from(r.try_get::<i64, _>("restarts")?).unwrap_or(0);
    let spec = match keys {
        Some(ring) => {
            let text: String = r.try_get("spec")?;
            let spec = crate::keys::open_spec(ring, r.try_get("id")?, &text)?;
            // The array's own row became its last task: the task's spec.
            match (spec, array_job_id, array_task_id) {
                (Some(s), Some(a), Some(t)) if s.task_of.is_none() => Some(s.task(a, t)),
                (s, _, _) => s,
            }
        }
        None => None,
    };
    let gpu_ids: Option<String> = r.try_get("gpu_ids")?;
    Ok(JobRow {
        id: JobId(r.try_get("id")?),
        owner: UserId(r.try_get("owner_id")?),
        owner_name: r.try_get("owner_name")?,
        name: r.try_get("name")?,
        account: r.try_get("account")?,
        state: parse_state(&r.try_get::<String, _>("state")?)?,
        reason: r.try_get("reason")?,
        held: r.num("held")?,
        resources: Resources {
            gpus: r.num("gpus")?,
            cpus: r.num("cpus")?,
            mem_mb: to_u64(r.try_get("mem_mb")?),
        },
        gpu_type: r.try_get("gpu_type")?,
        time_limit_s: to_u64(r.try_get("time_limit_s")?),
        spec,
        submit_ms: r.try_get("submit_ms")?,
        start_ms: r.try_get("start_ms")?,
        end_ms: r.try_get("end_ms")?,
        node: r.try_get("node")?,
        gpu_ids: gpu_ids
            .as_deref()
            .map(split_ids)
            .transpose()?
            .unwrap_or_default(),
        pid: r.try_get("pid")?,
        pid_start: r.try_get::<Option<i64>, _>("pid_start")?.map(to_u64),
        stdout_path: r.try_get("stdout_path")?,
        stderr_path: r.try_get("stderr_path")?,
        kill_state: r
            .try_get::<Option<String>, _>("kill_state")?
            .map(|s| parse_state(&s))
            .transpose()?,
        kill_reason: r.try_get("kill_reason")?,
        exit_code: r.try_get("exit_code")?,
        signal: r.try_get("signal")?,
        wall_ms: r.try_get::<Option<i64>, _>("wall_ms")?.map(to_u64),
        gpu_ms: r.try_get::<Option<i64>, _>("gpu_ms")?.map(to_u64),
        cpu_ms: r.try_get::<Option<i64>, _>("cpu_ms")?.map(to_u64),
        project: r.try_get::<Option<i64>, _>("project_id")?.map(ProjectId),
        org: r.try_get::<Option<i64>, _>("project_org")?.map(OrgId),
        charging: match (
            r.try_get::<Option<i64>, _>("grant_id")?,
            r.try_get::<Option<i64>, _>("price_cents")?,
            r.try_get::<Option<i64>, _>("lien_cents")?,
        ) {
            (Some(grant), Some(price_cents), Some(lien_cents)) => Some(Charging {
                grant,
                price_cents,
                lien_cents,
                run: restarts,
            }),
            _ => None,
        },
        engine_job_id: r.try_get("engine_job_id")?,
        engine_submit_ms: r.try_get("engine_submit_ms")?,
        charged_cents: r.try_get("charged_cents")?,
        array_job_id,
        array_task_id,
        array_waiting: r.try_get("array_waiting")?,
        array_throttle: r
            .try_get::<Option<i64>, _>("array_throttle")?
            .and_then(|t| u32::try_from(t).ok()),
        restarts,
    })
}

fn parse_state(s: &str) -> Result<JobState, StoreError> {
    s.parse().map_err(|_| StoreError::Corrupt {
        column: "state",
        value: s.to_string(),
    })
}

fn join_ids(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

fn split_ids(s: &str) -> Result<Vec<u32>, StoreError> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|x| {
            x.parse().map_err(|_| StoreError::Corrupt {
                column: "gpu_ids",
                value: s.to_string(),
            })
        })
        .collect()
}

/// SQLite integers are i64; our counters never reach 2^63.
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
