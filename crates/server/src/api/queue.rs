//! The queue in the scheduler's order, and why each job waits.

use crate::AppState;
use crate::api::extract::IdPath;
use crate::api::jobs::{send, stopping};
use crate::auth::Caller;
use crate::control::{Command, QueueEntry, QueueView};
use crate::error::{ApiError, Problem};
use crate::policy::{Access, Resource, authorize};
use axum::Json;
use axum::extract::State;
use tokio::sync::oneshot;

async fn view(state: &AppState) -> Result<QueueView, ApiError> {
    let (tx, rx) = oneshot::channel();
    send(state, Command::Queue(tx)).await?;
    rx.await.map_err(|_| stopping())
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

/// Pending jobs in the order the scheduler considers them, with priority factors and reasons.
#[utoipa::path(get, path = "/api/v1/queue", tag = "jobs", responses((status = 200, body = QueueView)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<QueueView>, ApiError> {
    let mut v = view(&state).await?;
    v.jobs = visible(&caller, v.jobs);
    Ok(Json(v))
}

/// One pending job's place in the queue, priority factors and reason.
#[utoipa::path(get, path = "/api/v1/queue/{id}", params(("id" = i64, Path, description = "Job")), tag = "jobs",
    responses((status = 200, body = QueueView), (status = 404, description = "Not pending, or not visible", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<QueueView>, ApiError> {
    let mut v = view(&state).await?;
    let job: Vec<QueueEntry> = v.jobs.into_iter().filter(|j| j.id == id).collect();
    v.jobs = visible(&caller, job);
    if v.jobs.is_empty() {
        return Err(ApiError::NotFound(format!("pending job {id}")));
    }
    Ok(Json(v))
}
