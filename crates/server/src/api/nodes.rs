//! Nodes as the scheduler sees them; draining and resuming them (administrators).

use crate::AppState;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::control::Command;
use crate::error::ApiError;
use crate::policy::{Access, Resource, authorize};
pub use aisc_api::nodes::{DrainRequest, NodeStateView};
use aisc_store::NodeDrain;
use axum::Json;
use axum::extract::{Path, State};
use tokio::sync::oneshot;

use super::extract::Body;

/// The longest drain reason, in characters.
pub const MAX_REASON_CHARS: usize = 200;

/// Every node the scheduler places jobs on, with its state.
pub async fn statuses(state: &AppState) -> Result<Vec<NodeStateView>, ApiError> {
    let (reply, rx) = oneshot::channel();
    state
        .control
        .send(Command::Nodes(reply))
        .await
        .map_err(|_| ApiError::Unavailable("the server is shutting down".into()))?;
    let nodes = rx
        .await
        .map_err(|_| ApiError::Unavailable("the server is shutting down".into()))?;
    let drains = state.store.node_drains().await?;
    Ok(nodes
        .into_iter()
        .map(|node| {
            let d = drains.iter().find(|d| d.name == node.name);
            NodeStateView {
                drain_reason: d.map(|d| d.reason.clone()),
                drained_by: d.map(|d| d.by_user.clone()),
                node,
            }
        })
        .collect())
}

/// The nodes the scheduler places jobs on, their states and what running jobs hold.
#[utoipa::path(get, path = "/api/v1/nodes/states", tag = "cluster",
    responses((status = 200, body = Vec<NodeStateView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<NodeStateView>>, ApiError> {
    Ok(Json(crate::service::nodes::list(&state).await?))
}

pub(crate) async fn set(
    state: &AppState,
    caller: &Caller,
    name: &str,
    reason: Option<String>,
) -> Result<NodeStateView, ApiError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    if !statuses(state).await?.iter().any(|n| n.node.name == name) {
        return Err(ApiError::NotFound(format!("node {name}")));
    }
    let drained = reason.is_some();
    let audit = match &reason {
        Some(r) => caller.audit(
            "node.drain",
            format!("node:{name}"),
            format!("drained: {r}"),
        ),
        None => caller.audit("node.resume", format!("node:{name}"), "resumed".into()),
    };
    let drain = reason.map(|reason| NodeDrain {
        name: name.to_string(),
        reason,
        by_user: caller.user.name.clone(),
        at_ms: now_ms(),
    });
    // Kept first, so that a restart keeps what the scheduler is told.
    state.store.set_node_drain(name, drain, audit).await?;
    let (reply, rx) = oneshot::channel();
    state
        .control
        .send(Command::Drain {
            name: name.to_string(),
            drained,
            reply,
        })
        .await
        .map_err(|_| ApiError::Unavailable("the server is shutting down".into()))?;
    rx.await
        .map_err(|_| ApiError::Unavailable("the server is shutting down".into()))?;
    statuses(state)
        .await?
        .into_iter()
        .find(|n| n.node.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("node {name}")))
}

/// Checks a drain reason: 1 to 200 characters, no control characters.
pub fn check_reason(reason: &str) -> Result<String, ApiError> {
    let r = reason.trim();
    let n = r.chars().count();
    if n == 0 || n > MAX_REASON_CHARS || r.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "reason",
            format!("a drain reason of {n} characters is refused"),
            Some(format!(
                "1 to {MAX_REASON_CHARS} characters, no control characters"
            )),
        ));
    }
    Ok(r.to_string())
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
