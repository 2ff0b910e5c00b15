//! Admission and placement as a pure function of a snapshot:
//! [`plan`]`(&Snapshot, now) -> Plan`. The server and the simulator call the
//! same function; nothing here reads a clock, a database or a process table,
//! and the same snapshot always gives the same plan.
//!
//! # Policy
//! - **Order.** Guaranteed jobs (`high`, `normal`) are taken by priority
//!   (highest first, then submission time, then id); scavenger jobs after all of
//!   them. Priority is Slurm-style multifactor ([`priority`]): fair share by grant,
//!   age, and QOS.
//! - **Fair share by grant.** A project's share is the GPU-hours of its active
//!   grants over everyone's; its factor is `2^-(usage fraction / share fraction)`
//!   of its decayed usage, so it is 1 for an idle project, ½ at its share, and
//!   falls towards 0 above it.
//! - **Gang.** A job gets all of its GPUs at once or none.
//! - **Topology.** A job that fits on one node of its pool runs on one node,
//!   chosen best-fit (the node left with the fewest free GPUs; ties to the lower
//!   index). A larger job takes whole nodes, from one topology group when any
//!   group has enough (the group left with the least free capacity), else from
//!   as few groups as possible. Resource classes are separate pools.
//! - **Backfill (EASY).** The first job of each pool that cannot start gets a
//!   [`Reservation`] at the earliest time it fits, computed from running jobs'
//!   ends (start + time limit). A lower job starts now only if it ends before
//!   that time or runs on resources the reservation does not need.
//! - **Scavenger.** Planned after every guaranteed job, on GPUs that are free
//!   now, ignoring reservations. Guaranteed jobs are planned as if no scavenger
//!   job ran: where one needs a scavenger job's GPUs it claims them, the plan
//!   lists the scavenger job to [`Preempt`], and the guaranteed job starts at a
//!   later pass once they are free. So a scavenger job never blocks guaranteed work.
//! - **Limits.** A job whose lien does not fit its grant's available balance
//!   waits `GrantExhausted`; one that would take its project past its GPU cap
//!   waits `QuotaLimit`. Neither holds up other jobs.
//! - **Reasons.** Every job not started has one: `Held`, `GrantExhausted`,
//!   `QuotaLimit`, `EngineUnavailable`; `Resources` for the job a pool's
//!   reservation is for (or one waiting on a preemption, or one that fits
//!   nowhere); `Reservation` for one that fits now but would delay the
//!   reservation; `Priority` for one that waits behind it.

mod plan;
pub mod priority;
mod state;
pub mod table;
mod usage;

pub use aisc_model::Qos;
pub use plan::{order_key, plan};
pub use priority::{Factors, FairShare, Policy, decay, factors};
pub use usage::{Share, Usage};

use aisc_model::{JobId, PendingReason, ProjectId, Resources};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether a node takes new work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Runs jobs and takes new ones.
    #[default]
    Up,
    /// Runs the jobs it has; takes no new ones.
    Drain,
    /// Unreachable: takes nothing.
    Down,
}

/// One node that can run jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Node name.
    pub name: String,
    /// Everything it has.
    pub capacity: Resources,
    /// The model of its GPUs (e.g. `h100`), if it has any.
    pub gpu_type: Option<String>,
    /// The resource class (pool) it belongs to; jobs of another class never run here.
    pub class: Option<String>,
    /// Its topology group (leaf switch).
    pub group: u32,
    /// Whether it takes new work.
    pub state: NodeState,
}

/// What a job holds on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alloc {
    /// Index into [`Snapshot::nodes`].
    pub node: usize,
    /// GPU indices on that node, ascending.
    pub gpus: Vec<u32>,
    /// CPU cores held.
    pub cpus: u32,
    /// Memory held, MiB.
    pub mem_mb: u64,
}

/// Where a job runs: the exact GPUs, CPUs and memory on each of its nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// One entry per node, in node order.
    pub allocs: Vec<Alloc>,
}

impl Placement {
    /// A placement on one node.
    pub fn on_node(node: usize, gpus: Vec<u32>, cpus: u32, mem_mb: u64) -> Self {
        Placement {
            allocs: vec![Alloc {
                node,
                gpus,
                cpus,
                mem_mb,
            }],
        }
    }

    /// GPUs held on all nodes.
    pub fn gpu_count(&self) -> u32 {
        self.allocs.iter().map(|a| a.gpus.len() as u32).sum()
    }

    /// What it holds, summed over its nodes.
    pub fn total(&self) -> Resources {
        self.allocs
            .iter()
            .fold(Resources::default(), |t, a| Resources {
                gpus: t.gpus + a.gpus.len() as u32,
                cpus: t.cpus + a.cpus,
                mem_mb: t.mem_mb + a.mem_mb,
            })
    }
}

/// A job that holds resources now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningJob {
    /// The job.
    pub id: JobId,
    /// The project it is charged to.
    pub project: ProjectId,
    /// Its QOS: scavenger jobs may be preempted.
    pub qos: Qos,
    /// What it holds.
    pub placement: Placement,
    /// When it started, seconds.
    pub start: u64,
    /// When it will have ended at the latest (start + time limit), seconds.
    pub end: u64,
    /// Already being stopped (cancel, time limit, preemption).
    pub stopping: bool,
}

/// What starting a job holds against its grant: the lien of its worst case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    /// The grant.
    pub grant: i64,
    /// HK cents held.
    pub amount: i64,
}

/// A job waiting to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingJob {
    /// The job; lower ids were submitted first.
    pub id: JobId,
    /// The project it is charged to.
    pub project: ProjectId,
    /// Its QOS.
    pub qos: Qos,
    /// When it was submitted, seconds.
    pub submit: u64,
    /// What it asks for (in total, over all its nodes).
    pub request: Resources,
    /// A GPU model it insists on.
    pub gpu_type: Option<String>,
    /// The resource class (pool) it runs in.
    pub class: Option<String>,
    /// Seconds it may run.
    pub time_limit: u64,
    /// Held by its owner: never started until released.
    pub held: bool,
    /// What it holds against its grant when it starts, if it is charged to one.
    pub cost: Option<Cost>,
    /// How many alike may start in this pass: 1 for a job; for an array,
    /// its waiting tasks within its throttle (one entry for them all, so a
    /// large array costs the pass no more than a job until its tasks start).
    /// Each start of the entry is one task, in `Plan::starts` under its id.
    #[serde(default = "one")]
    pub copies: u32,
}

fn one() -> u32 {
    1
}

/// A project as the scheduler sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Its share: the GPU-hours of its active grants.
    pub shares: u64,
    /// Its usage, GPU-seconds, decayed by the policy's half-life (see [`decay`]).
    pub usage: u64,
    /// The most GPUs its jobs may hold at once, if capped.
    pub max_gpus: Option<u32>,
}

/// Everything `plan` looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Weights and switches.
    pub policy: Policy,
    /// The nodes, in a fixed order.
    pub nodes: Vec<Node>,
    /// Jobs holding resources.
    pub running: Vec<RunningJob>,
    /// Jobs waiting, in any order.
    pub pending: Vec<PendingJob>,
    /// Projects' shares, usage and caps (absent: no share, no usage, no cap).
    pub projects: BTreeMap<ProjectId, Project>,
    /// What each grant has available for new liens, HK cents (absent: nothing).
    pub grant_available: BTreeMap<i64, i64>,
    /// The engine cannot be reached: nothing starts.
    pub engine_unavailable: bool,
}

/// A job to start now, and where (an array's entry once per task).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Start {
    /// The job.
    pub id: JobId,
    /// Where it runs.
    pub placement: Placement,
}

/// A scavenger job to stop (SIGTERM, grace, requeue) because guaranteed work needs its resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preempt {
    /// The scavenger job.
    pub id: JobId,
    /// The guaranteed job that needs its resources.
    pub for_job: JobId,
}

/// Resources promised to the first job of a pool that cannot start now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The job.
    pub job: JobId,
    /// The earliest time it can start, seconds.
    pub at: u64,
    /// Where it will run then.
    pub placement: Placement,
}

/// The decision for one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Jobs to start, in the order they were chosen.
    pub starts: Vec<Start>,
    /// Scavenger jobs to preempt.
    pub preempt: Vec<Preempt>,
    /// Guaranteed jobs whose resources are held for them while the scavenger
    /// jobs in their way stop; they wait (`Resources`) and start at a later pass.
    pub claims: Vec<Start>,
    /// One per pool whose first waiting job has a time at which it fits.
    pub reservations: Vec<Reservation>,
    /// Every pending job not started, with why it waits, in priority order.
    pub waiting: Vec<(JobId, PendingReason)>,
}

#[cfg(test)]
mod tests;
