//! The queue in the scheduler's order, and why each job waits.

use crate::AppState;
use crate::api::extract::IdPath;
use crate::auth::Caller;
use crate::control::QueueView;
use crate::error::{ApiError, Problem};
use axum::Json;
use axum::extract::State;

/// Pending jobs in the order the scheduler considers them, with priority factors and reasons.
#[utoipa::path(get, path = "/api/v1/queue", tag = "jobs", responses((status = 200, body = QueueView)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<QueueView>, ApiError> {
    Ok(Json(crate::service::queue::list(&state, &caller).await?))
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
    Ok(Json(
        crate::service::queue::show(&state, &caller, id).await?,
    ))
}
