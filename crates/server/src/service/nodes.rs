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
