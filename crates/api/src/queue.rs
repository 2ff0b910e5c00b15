//! The queue as users see it, and the nodes as the scheduler sees them.

use aisc_model::Qos;
use aisc_model::tenancy::JobAccess;
use serde::{Deserialize, Serialize};

/// One pending job.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueEntry {
    /// Job id.
    pub id: i64,
    /// 1-based place in the order the scheduler considers jobs.
    pub position: usize,
    /// Submitter.
    pub user: String,
    /// Project charged.
    pub project: Option<String>,
    /// Whose job it is, for the visibility check (not sent).
    #[serde(skip)]
    pub access: Option<JobAccess>,
    /// QOS.
    #[schema(value_type = String)]
    pub qos: Qos,
    /// GPUs asked for.
    pub gpus: u32,
    /// Time limit, seconds.
    pub time_limit_s: u64,
    /// Submitted, epoch ms.
    pub submit_ms: i64,
    /// The weighted sum of the factors below.
    pub priority: u64,
    /// Fair-share factor (0 to 1).
    pub fairshare: f64,
    /// Age factor (0 to 1).
    pub age: f64,
    /// QOS factor (1 for `high`).
    pub qos_factor: f64,
    /// The project's fraction of all active grants.
    pub share: f64,
    /// The project's fraction of all decayed usage.
    pub usage: f64,
    /// Why it waits.
    pub reason: String,
    /// What it waits for, when it waits for other jobs (`--dependency`).
    #[serde(default)]
    pub waits_for: Option<String>,
    /// When it is expected to start, if it holds the reservation of its pool (epoch ms).
    pub reserved_at_ms: Option<i64>,
}

/// The queue, with the weights that rank it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueView {
    /// Pending jobs in the order the scheduler considers them.
    pub jobs: Vec<QueueEntry>,
    /// Weight of the fair-share factor.
    pub weight_fairshare: u32,
    /// Weight of the age factor.
    pub weight_age: u32,
    /// Weight of the QOS factor.
    pub weight_qos: u32,
    /// The wait at which the age factor reaches 1, seconds.
    pub max_age_s: u64,
    /// Half-life of usage, seconds.
    pub half_life_s: u64,
}

/// A node, its state and what running jobs hold on it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeStatus {
    /// Name.
    pub name: String,
    /// `up`, `drain` or `down`.
    pub state: String,
    /// GPUs.
    pub gpus: u32,
    /// GPU model, when known.
    pub gpu_type: Option<String>,
    /// CPU cores.
    pub cpus: u32,
    /// Memory, MiB.
    pub mem_mb: u64,
    /// GPUs held by running jobs.
    pub gpus_busy: u32,
    /// CPU cores held by running jobs.
    pub cpus_busy: u32,
    /// Memory held by running jobs, MiB.
    pub mem_busy_mb: u64,
    /// Running jobs on it.
    pub jobs: u32,
}
