//! Nodes as the scheduler sees them; draining and resuming them (administrators).

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
pub use aisc_api::nodes::{DrainRequest, NodeStateView};
use axum::Json;
use axum::extract::{Path, State};

use super::extract::Body;

/// The nodes the scheduler places jobs on, their states and what running jobs hold.
#[utoipa::path(get, path = "/api/v1/nodes/states", tag = "cluster",
    responses((status = 200, body = Vec<NodeStateView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<NodeStateView>>, ApiError> {
    Ok(Json(crate::service::nodes::list(&state).await?))
}

/// Drain a node: it keeps its running jobs and takes no new ones (administrators).
#[utoipa::path(post, path = "/api/v1/nodes/{name}/drain", request_body = DrainRequest, tag = "cluster",
    params(("name" = String, Path, description = "Node")),
    responses((status = 200, body = NodeStateView), (status = 403, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
        (status = 422, body = super::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn drain(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(req): Body<DrainRequest>,
) -> Result<Json<NodeStateView>, ApiError> {
    Ok(Json(
        crate::service::nodes::drain(&state, &caller, name, req).await?,
    ))
}

/// Resume a drained node: it takes new jobs again (administrators).
#[utoipa::path(post, path = "/api/v1/nodes/{name}/resume", tag = "cluster",
    params(("name" = String, Path, description = "Node")),
    responses((status = 200, body = NodeStateView), (status = 403, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<NodeStateView>, ApiError> {
    Ok(Json(
        crate::service::nodes::resume(&state, &caller, name).await?,
    ))
}
