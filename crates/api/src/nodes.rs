//! Nodes and their drains.

use crate::queue::NodeStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why a node is drained.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrainRequest {
    /// Why (1 to 200 characters), shown to users and kept in the audit trail.
    pub reason: String,
}

/// A node with its drain, if any.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NodeStateView {
    /// The node and what it holds.
    #[serde(flatten)]
    pub node: NodeStatus,
    /// Why it is drained.
    pub drain_reason: Option<String>,
    /// Who drained it.
    pub drained_by: Option<String>,
}
