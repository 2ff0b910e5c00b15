//! Acting on a job: cancel, hold, release, change a waiting one, requeue a
//! running one. Each checks that the caller may act on it (`policy`), then
//! asks the control loop, which owns the queue and the running jobs.

use super::{charge_to, resolve, send, visible_job};
use crate::AppState;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::control::{CancelOutcome, Command};
use crate::policy::{self, Access};
use crate::service::views::ActionResult;
use crate::service::{ServiceError, stopping};
use aisc_model::array::JobRef;
use aisc_model::{JobId, JobState};
use aisc_store::Charging;
use tokio::sync::oneshot;

/// Cancels a job: a pending one at once, a running one stopped by the
/// engine. An array's id cancels the whole array (its waiting tasks and
/// every task that runs); `N_T` one task of it.
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    r: JobRef,
) -> Result<ActionResult, ServiceError> {
    let (id, task) = resolve(state, caller, r).await?;
    let row = visible_job(state, caller, id, Access::Act).await?;
    let whole_array = r.task.is_none() && row.array_job_id == Some(id);
    let mut outcome = if row.state.is_terminal() {
        None
    } else {
        Some(cancel_one(state, caller, id, task).await?)
    };
    if whole_array {
        // Its tasks of their own, found after the array stopped splitting them off.
        let filter = aisc_store::JobFilter {
            array: Some(id),
            limit: u32::MAX,
            ..Default::default()
        };
        for t in state.store.list(&filter).await? {
            if t.id != id && !t.state.is_terminal() {
                let o = cancel_one(state, caller, t.id, None).await?;
                outcome = outcome.or(Some(o));
            }
        }
    }
    let result = match outcome {
        None => {
            return Err(ServiceError::Conflict(format!(
                "job {r} has already ended ({})",
                row.state
            )));
        }
        Some(o) => o,
    };
    let result = match result {
        CancelOutcome::Cancelled => "cancelled",
        CancelOutcome::Signalled => "signalled: it will end as cancelled",
        CancelOutcome::AlreadyStopping => "already stopping",
        CancelOutcome::NotActive => {
            return Err(ServiceError::Conflict(format!("job {r} has already ended")));
        }
    };
    Ok(ActionResult {
        id: id.0,
        result: result.into(),
    })
}

/// Asks the control loop to cancel one job, or a task waiting with its array.
async fn cancel_one(
    state: &AppState,
    caller: &Caller,
    id: JobId,
    task: Option<u32>,
) -> Result<CancelOutcome, ServiceError> {
    let (reply, rx) = oneshot::channel();
    let target = match task {
        Some(t) => format!("job:{id}_{t}"),
        None => format!("job:{id}"),
    };
    send(
        state,
        Command::Cancel {
            id,
            task,
            by: caller.user.name.clone(),
            audit: caller.audit("job.cancel", target, "cancel requested".into()),
            reply,
        },
    )
    .await?;
    Ok(rx.await.map_err(|_| stopping())??)
}

/// Changes a waiting job (`aisc update`): its time limit (a user may lower
/// it, not raise it; administrators may), name or QOS, each checked as at
/// submission. The job is priced again (its lien at today's list price and
/// the new limit and QOS), and a QOS its grant does not allow is refused.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    r: JobRef,
    changes: aisc_model::request::JobChanges,
) -> Result<ActionResult, ServiceError> {
    let (id, _) = resolve(state, caller, r).await?;
    let row = visible_job(state, caller, id, Access::Act).await?;
    if row.state != JobState::Pending {
        return Err(ServiceError::Conflict(format!(
            "job {r} is {}: only a waiting job is changed",
            row.state
        )));
    }
    let Some(before) = row.spec.clone() else {
        return Err(ServiceError::Conflict(format!(
            "job {r}'s content was erased with its project's key"
        )));
    };
    let spec = changes.apply(&before)?;
    let privileged = policy::may_override_qos(caller);
    if spec.time_limit_s > before.time_limit_s && !privileged {
        return Err(ServiceError::invalid(
            "time",
            format!(
                "{} is longer than the job's limit, {}: you may lower a time limit, not raise it (an administrator may)",
                aisc_model::units::format_duration(spec.time_limit_s),
                aisc_model::units::format_duration(before.time_limit_s)
            ),
            Some(format!(
                "at most {}",
                aisc_model::units::format_duration(before.time_limit_s)
            )),
        ));
    }
    let charging = match (row.project, row.charging, &row.account) {
        (Some(project), Some(c), Some(name)) => {
            let again = charge_to(state, project, name, Some(c.grant), &spec, privileged).await?;
            // A requeued job's next run keeps its number.
            Some(Charging {
                run: c.run,
                ..again
            })
        }
        _ => row.charging,
    };
    let mut said = Vec::new();
    if spec.time_limit_s != before.time_limit_s {
        said.push(format!(
            "time limit {}",
            aisc_model::units::format_duration(spec.time_limit_s)
        ));
    }
    if spec.name != before.name {
        said.push(format!("name {:?}", spec.name));
    }
    if spec.qos != before.qos {
        said.push(format!("QOS {}", spec.qos));
    }
    let said = if said.is_empty() {
        "unchanged".to_string()
    } else {
        format!("updated: {}", said.join(", "))
    };
    let audit = caller.audit("job.update", format!("job:{id}"), said.clone());
    let update = aisc_store::JobUpdate {
        id,
        project: row.project,
        spec,
        charging,
        at_ms: now_ms(),
    };
    let (reply, rx) = oneshot::channel();
    send(
        state,
        Command::Update {
            update: Box::new(update),
            audit,
            reply,
        },
    )
    .await?;
    rx.await.map_err(|_| stopping())??;
    Ok(ActionResult {
        id: id.0,
        result: said,
    })
}

/// Ends a running job's run and queues it again with its id, as `scontrol
/// requeue` does (the job's own people, administrators): it gets SIGTERM
/// (SIGKILL after the grace), its run is settled on its own, and it waits
/// again; its next run appends to the same output files.
pub async fn requeue(
    state: &AppState,
    caller: &Caller,
    r: JobRef,
) -> Result<ActionResult, ServiceError> {
    let (id, task) = resolve(state, caller, r).await?;
    let row = visible_job(state, caller, id, Access::Act).await?;
    if task.is_some() || row.state == JobState::Pending {
        return Err(ServiceError::Conflict(format!(
            "job {r} waits: it has no run to end (requeue ends a running job's run and queues it again)"
        )));
    }
    if row.state.is_terminal() {
        return Err(ServiceError::Conflict(format!(
            "job {r} has ended ({}): submit it again to run it again",
            row.state
        )));
    }
    let (reply, rx) = oneshot::channel();
    send(
        state,
        Command::Requeue {
            id,
            by: caller.user.name.clone(),
            audit: caller.audit(
                "job.requeue",
                format!("job:{id}"),
                "requeue requested".into(),
            ),
            reply,
        },
    )
    .await?;
    rx.await.map_err(|_| stopping())??;
    Ok(ActionResult {
        id: id.0,
        result: format!(
            "requeued: its run is being stopped, then it waits again as job {}",
            row.label()
        ),
    })
}

/// Releases a held job.
pub async fn release(
    state: &AppState,
    caller: &Caller,
    id: JobId,
) -> Result<ActionResult, ServiceError> {
    set_held(state, caller, id, false).await
}

/// Holds a pending job until it is released (its owner, those who manage its project, administrators).
pub async fn hold(
    state: &AppState,
    caller: &Caller,
    id: JobId,
) -> Result<ActionResult, ServiceError> {
    set_held(state, caller, id, true).await
}

async fn set_held(
    state: &AppState,
    caller: &Caller,
    id: JobId,
    held: bool,
) -> Result<ActionResult, ServiceError> {
    visible_job(state, caller, id, Access::Act).await?;
    let (reply, rx) = oneshot::channel();
    let (action, summary, result) = if held {
        ("job.hold", "held", "held")
    } else {
        ("job.release", "released from hold", "released")
    };
    let audit = caller.audit(action, format!("job:{id}"), summary.into());
    let cmd = Command::SetHeld {
        id,
        held,
        audit,
        reply,
    };
    send(state, cmd).await?;
    rx.await.map_err(|_| stopping())??;
    Ok(ActionResult {
        id: id.0,
        result: result.into(),
    })
}
