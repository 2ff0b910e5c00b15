//! The queue in the scheduler's order, and why each job waits.

use crate::AppState;
use crate::api::extract::IdPath;
use crate::auth::Caller;
use crate::control::{Command, QueueEntry, QueueView};
use crate::error::{ApiError, Problem};
use aisc_model::ProjectId;
use aisc_model::tenancy::ProjectRole;
use axum::Json;
use axum::extract::State;
use std::collections::HashMap;
use tokio::sync::oneshot;

async fn view(state: &AppState) -> Result<QueueView, ApiError> {
    let (tx, rx) = oneshot::channel();
    state
        .control
        .send(Command::Queue(tx))
        .await
        .map_err(|_| ApiError::Unavailable("the scheduler is stopping".into()))?;
    rx.await
        .map_err(|_| ApiError::Unavailable("the scheduler is stopping".into()))
}

/// Keeps the jobs the caller may see (as `aisc jobs` does): administrators
/// and auditors see all; others their own jobs, their projects' as PI, and
/// their organisations' as organisation administrator.
async fn visible(
    state: &AppState,
    caller: &Caller,
    jobs: Vec<QueueEntry>,
) -> Result<Vec<QueueEntry>, ApiError> {
    if matches!(caller.user.role.as_str(), "admin" | "auditor") {
        return Ok(jobs);
    }
    let mut org_of: HashMap<ProjectId, bool> = HashMap::new();
    let mut out = Vec::new();
    for j in jobs {
        let mine = j.user == caller.user.name;
        let pi = j.project_id.is_some_and(|p| {
            caller
                .user
                .projects
                .iter()
                .any(|m| m.project == p && m.role == ProjectRole::Pi)
        });
        let org_admin = match (j.project_id, &j.project) {
            (Some(p), Some(name)) if !caller.user.org_admin.is_empty() => {
                if let Some(v) = org_of.get(&p) {
                    *v
                } else {
                    let v = state
                        .store
                        .project(name)
                        .await
                        .map(|row| caller.user.org_admin.contains(&row.org))
                        .unwrap_or(false);
                    org_of.insert(p, v);
                    v
                }
            }
            _ => false,
        };
        if mine || pi || org_admin {
            out.push(j);
        }
    }
    Ok(out)
}

/// Pending jobs in the order the scheduler considers them, with priority factors and reasons.
#[utoipa::path(get, path = "/api/v1/queue", tag = "jobs", responses((status = 200, body = QueueView)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<QueueView>, ApiError> {
    let mut v = view(&state).await?;
    v.jobs = visible(&state, &caller, v.jobs).await?;
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
    v.jobs = visible(&state, &caller, job).await?;
    if v.jobs.is_empty() {
        return Err(ApiError::NotFound(format!("pending job {id}")));
    }
    Ok(Json(v))
}
