//! Interactive jobs' terminals: who may attach to one, and to which. A
//! terminal is its owner's alone (and the centre's administrators', audited):
//! a project's PI or an organisation's administrator sees and cancels a
//! member's job but does not type into its shell. A read-only token reads
//! nothing of it either: what it shows is what a user types.

use crate::AppState;
use crate::auth::Caller;
use crate::policy::Access;
use crate::relay::Session;
use crate::service::ServiceError;
use crate::service::jobs::{resolve, visible_job};
use aisc_model::array::JobRef;
use aisc_model::{JobId, JobState};
use std::sync::Arc;

/// The terminal of a job's command that a caller may use: the job is
/// theirs (or they administer the centre, audited), interactive, started,
/// and its agent has connected.
pub async fn open(
    state: &AppState,
    caller: &Caller,
    r: JobRef,
) -> Result<(JobId, Arc<Session>), ServiceError> {
    let id = usable(state, caller, r).await?;
    Ok((id, session(state, id)?))
}

/// The job a caller may use the terminal of, checked: theirs (or an
/// administrator's, audited), interactive, and started.
async fn usable(state: &AppState, caller: &Caller, r: JobRef) -> Result<JobId, ServiceError> {
    let (id, task) = resolve(state, caller, r).await?;
    if task.is_some() {
        return Err(ServiceError::Conflict(format!(
            "job {r} is a task of an array, and interactive jobs are not arrays"
        )));
    }
    let row = visible_job(state, caller, id, Access::Read).await?;
    if caller.user.scope == "read" {
        return Err(ServiceError::Forbidden(
            "a read-only token cannot use a job's terminal".into(),
        ));
    }
    let own = row.owner == caller.user.id;
    if !own && !caller.is_admin() {
        return Err(ServiceError::Forbidden(format!(
            "job {id}'s terminal is its owner's ({}) alone",
            row.owner_name
        )));
    }
    if row.spec.as_ref().and_then(|s| s.interactive).is_none() {
        return Err(ServiceError::Conflict(format!(
            "job {id} is not interactive: it has no terminal (its output: aisc logs {id})"
        )));
    }
    match row.state {
        JobState::Pending | JobState::Admitted => {
            return Err(ServiceError::Conflict(format!(
                "job {id} has not started yet ({}: {})",
                row.state, row.reason
            )));
        }
        s if s.is_terminal() && state.relay.session(id, 0).is_none() => {
            return Err(ServiceError::Conflict(format!(
                "job {id} has ended ({s}: {})",
                row.reason
            )));
        }
        _ => {}
    }
    if !own {
        let audit = caller.audit(
            "job.attach",
            format!("job:{id}"),
            format!("attached to the terminal of {}'s job", row.owner_name),
        );
        state.store.record_audit(audit).await?;
    }
    Ok(id)
}

/// The terminal of a job's command, once its agent has connected.
fn session(state: &AppState, id: JobId) -> Result<Arc<Session>, ServiceError> {
    state.relay.session(id, 0).ok_or_else(|| {
        ServiceError::Conflict(format!(
            "job {id}'s terminal has not connected yet: try again in a moment"
        ))
    })
}
