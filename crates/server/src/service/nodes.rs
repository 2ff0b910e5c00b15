//! Nodes: the use cases the portal and the API share.

use super::ServiceError;
use crate::AppState;
use crate::api::nodes::*;
use crate::auth::Caller;
use aisc_api::nodes::{DrainRequest, NodeStateView};

/// Drain a node: it keeps its running jobs and takes no new ones (administrators).
pub async fn drain(
    state: &AppState,
    caller: &Caller,
    name: String,
    req: DrainRequest,
) -> Result<NodeStateView, ServiceError> {
    let reason = check_reason(&req.reason)?;
    Ok(set(state, caller, &name, Some(reason)).await?)
}

/// Resume a drained node: it takes new jobs again (administrators).
pub async fn resume(
    state: &AppState,
    caller: &Caller,
    name: String,
) -> Result<NodeStateView, ServiceError> {
    Ok(set(state, caller, &name, None).await?)
}

/// The nodes, their state and what runs on them (any signed-in user).
pub async fn list(state: &AppState) -> Result<Vec<NodeStateView>, ServiceError> {
    Ok(statuses(state).await?)
}

/// This host as a node: its GPUs (and whether they are fake), and what is busy.
pub async fn host(state: &AppState) -> Vec<crate::api::types::NodeView> {
    use crate::api::types::{GpuView, NodeView};
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
