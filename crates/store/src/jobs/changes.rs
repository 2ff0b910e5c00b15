//! How a stored job changes: its transitions (each recorded in its history
//! with its reason), its reasons and ids, holds, an array's last task, and a
//! requeue, which keeps the run that ended in `job_runs`.

use super::{join_ids, sql_states, to_i64};
use crate::Store;
use crate::error::StoreError;
use aisc_model::job::Fields;
use aisc_model::{JobId, JobState};
use sqlx::{AnyConnection, Row};
use std::sync::LazyLock;

/// A run of a requeued job before its current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    /// Its number (0 for the first).
    pub run: u32,
    /// Why it ended (requeued by whom, preempted for which job).
    pub reason: String,
    /// Where it ran.
    pub node: Option<String>,
    /// When it started, epoch ms (none if it never started).
    pub start_ms: Option<i64>,
    /// When it ended, epoch ms.
    pub end_ms: Option<i64>,
    /// Its exit status.
    pub exit_code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
    /// Metered GPU time, ms.
    pub gpu_ms: Option<u64>,
}

/// A change to a stored job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobChange {
    /// `from → to`, recorded with its reason; refused unless the job is in `from`.
    Transition {
        /// Job.
        id: JobId,
        /// Expected current state.
        from: JobState,
        /// New state.
        to: JobState,
        /// Why.
        reason: String,
        /// When.
        at_ms: i64,
        /// Other columns to set.
        set: Box<Fields>,
    },
    /// New reasons for waiting jobs: pending ones (the scheduler's), or admitted
    /// ones waiting in the engine's own queue (ignored for jobs in other states).
    Reasons(Vec<(JobId, String)>),
    /// The engine accepted the job under this id (no state change).
    EngineJob {
        /// Job.
        id: JobId,
        /// The engine's id.
        engine_job_id: i64,
    },
    /// Records why aisc is about to signal a running job, before it does.
    KillReason {
        /// Job.
        id: JobId,
        /// The state it will end in.
        state: JobState,
        /// Why.
        reason: String,
    },
    /// Releases a held pending job.
    Release {
        /// Job.
        id: JobId,
    },
    /// A job that ran (or was admitted) goes back to pending with its id:
    /// the run that ended is kept in `job_runs` with its figures (`set`),
    /// and the row is cleared for the next run, whose number is one more.
    Requeue {
        /// Job.
        id: JobId,
        /// Its state now (running, or admitted).
        from: JobState,
        /// Why.
        reason: String,
        /// When.
        at_ms: i64,
        /// How the run ended (end, exit status, usage).
        set: Box<Fields>,
    },
    /// Holds a pending job until it is released.
    Hold {
        /// Job.
        id: JobId,
    },
    /// A pending array's last waiting task starts: the array's own row
    /// becomes that task.
    LastTask {
        /// The array (and now the task).
        id: JobId,
        /// The task.
        task: u32,
    },
}

async fn record_event(
    conn: &mut AnyConnection,
    id: i64,
    at_ms: i64,
    from: JobState,
    to: JobState,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO job_events (job_id, at_ms, from_state, to_state, reason) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(at_ms)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn apply(conn: &mut AnyConnection, change: &JobChange) -> Result<(), StoreError> {
    match change {
        JobChange::Transition {
            id,
            from,
            to,
            reason,
            at_ms,
            set,
        } => {
            from.transition(*to).map_err(StoreError::Illegal)?;
            if *from == JobState::Pending && crate::Backend::of(conn) == crate::Backend::Postgres {
                // The claim: a pending job's row locked, or skipped if another
                // transaction holds it, before it leaves pending.
                let claimed: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM jobs WHERE id = $1 AND state = 'pending' FOR UPDATE SKIP LOCKED",
                )
                .bind(id.0)
                .fetch_optional(&mut *conn)
                .await?;
                if claimed.is_none() {
                    return Err(StoreError::Conflict {
                        id: *id,
                        expected: *from,
                    });
                }
            }
            let gpu_ids = set.gpu_ids.as_ref().map(|g| join_ids(g));
            let done = sqlx::query(
                "UPDATE jobs SET state = $1, reason = $2, node = COALESCE($3, node), gpu_ids = COALESCE($4, gpu_ids), \
                 pid = COALESCE($5, pid), pid_start = COALESCE($6, pid_start), stdout_path = COALESCE($7, stdout_path), \
                 stderr_path = COALESCE($8, stderr_path), start_ms = COALESCE($9, start_ms), end_ms = COALESCE($10, end_ms), \
                 exit_code = COALESCE($11, exit_code), signal = COALESCE($12, signal), wall_ms = COALESCE($13, wall_ms), \
                 gpu_ms = COALESCE($14, gpu_ms), cpu_ms = COALESCE($15, cpu_ms), engine_job_id = COALESCE($16, engine_job_id), \
                 engine_submit_ms = COALESCE(engine_submit_ms, $17) WHERE id = $18 AND state = $19",
            )
            .bind(to.as_str())
            .bind(reason)
            .bind(&set.node)
            .bind(gpu_ids)
            .bind(set.pid)
            .bind(set.pid_start.map(to_i64))
            .bind(&set.stdout_path)
            .bind(&set.stderr_path)
            .bind(set.start_ms)
            .bind(set.end_ms)
            .bind(set.exit_code)
            .bind(set.signal)
            .bind(set.wall_ms.map(to_i64))
            .bind(set.gpu_ms.map(to_i64))
            .bind(set.cpu_ms.map(to_i64))
            .bind(set.engine_job_id)
            .bind(set.engine_submit_ms)
            .bind(id.0)
            .bind(from.as_str())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict {
                    id: *id,
                    expected: *from,
                });
            }
            record_event(conn, id.0, *at_ms, *from, *to, reason).await
        }
        JobChange::Reasons(reasons) => {
            for (id, reason) in reasons {
                static SQL: LazyLock<String> = LazyLock::new(|| {
                    format!(
                        "UPDATE jobs SET reason = $1 WHERE id = $2 AND state IN {} AND reason <> $3",
                        sql_states(&JobState::WAITING)
                    )
                });
                sqlx::query(SQL.as_str())
                    .bind(reason)
                    .bind(id.0)
                    .bind(reason)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }
        JobChange::EngineJob { id, engine_job_id } => {
            sqlx::query("UPDATE jobs SET engine_job_id = $1 WHERE id = $2")
                .bind(engine_job_id)
                .bind(id.0)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
        JobChange::KillReason { id, state, reason } => {
            sqlx::query("UPDATE jobs SET kill_state = $1, kill_reason = $2 WHERE id = $3 AND kill_reason IS NULL")
                .bind(state.as_str())
                .bind(reason)
                .bind(id.0)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
        JobChange::LastTask { id, task } => {
            let done = sqlx::query(
                "UPDATE jobs SET array_task_id = $1, array_waiting = '' WHERE id = $2 AND state = 'pending' AND array_job_id = $3 AND array_task_id IS NULL",
            )
            .bind(i64::from(*task))
            .bind(id.0)
            .bind(id.0)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict {
                    id: *id,
                    expected: JobState::Pending,
                });
            }
            Ok(())
        }
        JobChange::Requeue {
            id,
            from,
            reason,
            at_ms,
            set,
        } => {
            from.transition(JobState::Pending)
                .map_err(StoreError::Illegal)?;
            let kept = sqlx::query(
                "INSERT INTO job_runs (job_id, run, reason, node, start_ms, end_ms, exit_code, signal, wall_ms, gpu_ms, cpu_ms, engine_job_id) \
                 SELECT id, restarts, $1, COALESCE($2, node), COALESCE($3, start_ms), $4, $5, $6, $7, $8, $9, COALESCE($10, engine_job_id) \
                 FROM jobs WHERE id = $11 AND state = $12",
            )
            .bind(reason)
            .bind(&set.node)
            .bind(set.start_ms)
            .bind(set.end_ms)
            .bind(set.exit_code)
            .bind(set.signal)
            .bind(set.wall_ms.map(to_i64))
            .bind(set.gpu_ms.map(to_i64))
            .bind(set.cpu_ms.map(to_i64))
            .bind(set.engine_job_id)
            .bind(id.0)
            .bind(from.as_str())
            .execute(&mut *conn)
            .await?;
            let cleared = sqlx::query(
                "UPDATE jobs SET state = 'pending', reason = 'Requeued', restarts = restarts + 1, start_ms = NULL, end_ms = NULL, \
                 node = NULL, gpu_ids = NULL, pid = NULL, pid_start = NULL, kill_state = NULL, kill_reason = NULL, exit_code = NULL, \
                 signal = NULL, wall_ms = NULL, gpu_ms = NULL, cpu_ms = NULL, engine_job_id = NULL WHERE id = $1 AND state = $2",
            )
            .bind(id.0)
            .bind(from.as_str())
            .execute(&mut *conn)
            .await?;
            if kept.rows_affected() != 1 || cleared.rows_affected() != 1 {
                return Err(StoreError::Conflict {
                    id: *id,
                    expected: *from,
                });
            }
            record_event(conn, id.0, *at_ms, *from, JobState::Pending, reason).await
        }
        JobChange::Release { id } | JobChange::Hold { id } => {
            let sql = if matches!(change, JobChange::Hold { .. }) {
                "UPDATE jobs SET held = 1, reason = 'Held' WHERE id = $1 AND state = 'pending'"
            } else {
                "UPDATE jobs SET held = 0, reason = 'Priority' WHERE id = $1 AND state = 'pending'"
            };
            let done = sqlx::query(sql).bind(id.0).execute(&mut *conn).await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict {
                    id: *id,
                    expected: JobState::Pending,
                });
            }
            Ok(())
        }
    }
}

impl Store {
    /// The runs of a requeued job before its current one, oldest first.
    pub async fn job_runs(&self, id: JobId) -> Result<Vec<JobRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT run, reason, node, start_ms, end_ms, exit_code, signal, gpu_ms FROM job_runs WHERE job_id = $1 ORDER BY run",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobRun {
                    run: u32::try_from(r.try_get::<i64, _>("run")?).unwrap_or(0),
                    reason: r.try_get("reason")?,
                    node: r.try_get("node")?,
                    start_ms: r.try_get("start_ms")?,
                    end_ms: r.try_get("end_ms")?,
                    exit_code: r
                        .try_get::<Option<i64>, _>("exit_code")?
                        .and_then(|c| i32::try_from(c).ok()),
                    signal: r
                        .try_get::<Option<i64>, _>("signal")?
                        .and_then(|c| i32::try_from(c).ok()),
                    gpu_ms: r
                        .try_get::<Option<i64>, _>("gpu_ms")?
                        .and_then(|c| u64::try_from(c).ok()),
                })
            })
            .collect()
    }
}
