//! The queue in the scheduler's order, as far as the caller may see it.

use super::ServiceError;
use crate::AppState;
use crate::auth::Caller;
use crate::control::{Command, QueueEntry, QueueView};
use crate::policy::{Access, Resource, authorize};
use tokio::sync::oneshot;

async fn view(state: &AppState) -> Result<QueueView, ServiceError> {
    let (tx, rx) = oneshot::channel();
    super::jobs::send(state, Command::Queue(tx)).await?;
    rx.await.map_err(|_| super::stopping())
}

/// Keeps the jobs the caller may read, by the rule that guards `GET /api/v1/jobs/{id}`.
fn visible(caller: &Caller, jobs: Vec<QueueEntry>) -> Vec<QueueEntry> {
    jobs.into_iter()
        .filter(|j| {
            j.access.is_some_and(|a| {
                let job = Resource::Job {
                    owner: a.owner,
                    project: a.project,
                    org: a.org,
                };
                authorize(caller, Access::Read, job).is_ok()
            })
        })
        .collect()
}

/// Pending jobs the caller may read, in the order the scheduler considers them.
pub async fn list(state: &AppState, caller: &Caller) -> Result<QueueView, ServiceError> {
    let mut v = view(state).await?;
    v.jobs = visible(caller, v.jobs);
    Ok(v)
}

/// One pending job's place in the queue and why it waits.
pub async fn show(state: &AppState, caller: &Caller, id: i64) -> Result<QueueView, ServiceError> {
    let mut v = view(state).await?;
    let job: Vec<QueueEntry> = v.jobs.into_iter().filter(|j| j.id == id).collect();
    v.jobs = visible(caller, job);
    if v.jobs.is_empty() {
        return Err(ServiceError::NotFound(format!("pending job {id}")));
    }
    Ok(v)
}
