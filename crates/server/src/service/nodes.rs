//! Nodes: the use cases the portal and the API share.

use super::ServiceError;
use crate::AppState;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::control::Command;
use crate::policy::{Access, Resource, authorize};
use aisc_api::nodes::{DrainRequest, NodeStateView};
use aisc_store::NodeDrain;
use tokio::sync::oneshot;

/// The longest drain reason, in characters.
pub const MAX_REASON_CHARS: usize = 200;

/// Every node the scheduler places jobs on, with its state.
pub async fn statuses(state: &AppState) -> Result<Vec<NodeStateView>, ServiceError> {
    let (reply, rx) = oneshot::channel();
    state
        .control
        .send(Command::Nodes(reply))
        .await
        .map_err(|_| ServiceError::Unavailable("the server is shutting down".into()))?;
    let nodes = rx
        .await
        .map_err(|_| ServiceError::Unavailable("the server is shutting down".into()))?;
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

pub(crate) async fn set(
    state: &AppState,
    caller: &Caller,
    name: &str,
    reason: Option<String>,
) -> Result<NodeStateView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    if !statuses(state).await?.iter().any(|n| n.node.name == name) {
        return Err(ServiceError::NotFound(format!("node {name}")));
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
        .map_err(|_| ServiceError::Unavailable("the server is shutting down".into()))?;
    rx.await
        .map_err(|_| ServiceError::Unavailable("the server is shutting down".into()))?;
    statuses(state)
        .await?
        .into_iter()
        .find(|n| n.node.name == name)
        .ok_or_else(|| ServiceError::NotFound(format!("node {name}")))
}

/// Checks a drain reason: 1 to 200 characters, no control characters.
pub fn check_reason(reason: &str) -> Result<String, ServiceError> {
    let r = reason.trim();
    let n = r.chars().count();
    if n == 0 || n > MAX_REASON_CHARS || r.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
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
pub async fn drain(
    state: &AppState,
    caller: &Caller,
    name: String,
    req: DrainRequest,
) -> Result<NodeStateView, ServiceError> {
    let reason = check_reason(&req.reason)?;
    set(state, caller, &name, Some(reason)).await
}

/// Resume a drained node: it takes new jobs again (administrators).
pub async fn resume(
    state: &AppState,
    caller: &Caller,
    name: String,
) -> Result<NodeStateView, ServiceError> {
    set(state, caller, &name, None).await
}

/// The nodes, their state and what runs on them (any signed-in user).
pub async fn list(state: &AppState) -> Result<Vec<NodeStateView>, ServiceError> {
    statuses(state).await
}

/// This host as a node: its GPUs (and whether they are fake), and what is busy.
pub async fn host(state: &AppState) -> Vec<crate::service::views::NodeView> {
    use crate::service::views::{GpuView, NodeView};
    let (reply, rx) = tokio::sync::oneshot::channel();
    let busy = match state
        .control
        .send(crate::control::Command::Usage(reply))
        .await
    {
        Ok(()) => rx.await.unwrap_or_default(),
        Err(_) => aisc_model::Resources::default(),
    };
    let h = &state.host;
    vec![NodeView {
        name: h.hostname.clone(),
        engine: "local".into(),
        cpus: state.node.capacity.cpus,
        mem_mb: state.node.capacity.mem_mb,
        gpus: h
            .gpus
            .iter()
            .map(|g| GpuView {
                index: g.index,
                name: g.name.clone(),
                uuid: g.uuid.clone(),
                memory_mb: g.memory_mb,
                fake: g.fake,
            })
            .collect(),
        gpu_source: h.gpu_source.clone(),
        gpus_busy: busy.gpus,
        cpus_busy: busy.cpus,
        mem_busy_mb: busy.mem_mb,
    }]
}
