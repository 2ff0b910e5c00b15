//! Admission and placement as a pure function of a snapshot:
//! [`plan`]`(&Snapshot, now) -> Plan`. The server and the simulator call the
//! same function; nothing here reads a clock, a database or a process table.
//!
//! The policy today is strict FIFO with all-or-nothing fit: jobs are taken in
//! id (submission) order; a job starts when every GPU, CPU and MiB it asks
//! for is free on one node; the first job that does not fit waits with reason
//! `Resources` and every job behind it waits with reason `Priority`, so a big
//! job is never starved by small ones behind it. Held jobs are skipped. A job
//! whose lien (its worst-case cost) does not fit what its grant has available
//! waits with reason `GrantExhausted` and does not hold up other jobs; the
//! jobs a plan starts never hold more of a grant than it has.

use aisc_model::{JobId, PendingReason, Resources};
use serde::{Deserialize, Serialize};

/// One node that can run jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Node name.
    pub name: String,
    /// Everything it has.
    pub capacity: Resources,
    /// The model of its GPUs (e.g. `h100`), if it has any.
    pub gpu_type: Option<String>,
}

/// Where a job runs: one node, and the exact GPUs on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Index into [`Snapshot::nodes`].
    pub node: usize,
    /// GPU indices on that node, ascending.
    pub gpus: Vec<u32>,
    /// CPU cores held.
    pub cpus: u32,
    /// Memory held, MiB.
    pub mem_mb: u64,
}

/// A job that holds resources now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningJob {
    /// The job.
    pub id: JobId,
    /// What it holds.
    pub placement: Placement,
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
    /// What it asks for.
    pub request: Resources,
    /// A GPU model it insists on.
    pub gpu_type: Option<String>,
    /// Held by its owner: never started until released.
    pub held: bool,
    /// What it holds against its grant when it starts, if it is charged to one.
    pub cost: Option<Cost>,
}

/// Everything `plan` looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The nodes, in a fixed order.
    pub nodes: Vec<Node>,
    /// Jobs holding resources.
    pub running: Vec<RunningJob>,
    /// Jobs waiting, in any order.
    pub pending: Vec<PendingJob>,
    /// What each grant has available for new liens, HK cents (absent: nothing).
    pub grant_available: std::collections::BTreeMap<i64, i64>,
}

/// A job to start now, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Start {
    /// The job.
    pub id: JobId,
    /// Where it runs.
    pub placement: Placement,
}

/// The decision for one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Jobs to start, in the order they were chosen.
    pub starts: Vec<Start>,
    /// Every pending job not started, with why it waits.
    pub waiting: Vec<(JobId, PendingReason)>,
}

/// Free resources on one node while planning.
struct Free {
    res: Resources,
    gpus: Vec<bool>,
}

/// Decides which pending jobs start now and where. `now` is seconds since the
/// epoch; today's FIFO policy does not use it, later policies (age, backfill) will.
pub fn plan(snapshot: &Snapshot, _now: u64) -> Plan {
    let mut free: Vec<Free> = snapshot
        .nodes
        .iter()
        .map(|n| Free {
            res: n.capacity,
            gpus: vec![true; n.capacity.gpus as usize],
        })
        .collect();
    for r in &snapshot.running {
        if let Some(f) = free.get_mut(r.placement.node) {
            take(f, &r.placement);
        }
    }

    let mut order: Vec<&PendingJob> = snapshot.pending.iter().collect();
    order.sort_by_key(|j| j.id);

    let mut available = snapshot.grant_available.clone();
    let mut out = Plan::default();
    let mut blocked = false;
    for job in order {
        if job.held {
            out.waiting.push((job.id, PendingReason::Held));
            continue;
        }
        if let Some(c) = job.cost
            && available.get(&c.grant).copied().unwrap_or(0) < c.amount
        {
            out.waiting.push((job.id, PendingReason::GrantExhausted));
            continue;
        }
        if blocked {
            out.waiting.push((job.id, PendingReason::Priority));
            continue;
        }
        match best_fit(snapshot, &free, job) {
            Some(node) => {
                let placement = allocate(&free[node], node, job);
                take(&mut free[node], &placement);
                if let Some(c) = job.cost {
                    *available.entry(c.grant).or_insert(0) -= c.amount;
                }
                out.starts.push(Start {
                    id: job.id,
                    placement,
                });
            }
            None => {
                blocked = true;
                out.waiting.push((job.id, PendingReason::Resources));
            }
        }
    }
    out
}

/// The node that fits the job and is left with the fewest free GPUs (then
/// CPUs), so that whole nodes stay free for large jobs. Ties go to the lower index.
fn best_fit(snapshot: &Snapshot, free: &[Free], job: &PendingJob) -> Option<usize> {
    free.iter()
        .enumerate()
        .filter(|(i, f)| {
            let node = &snapshot.nodes[*i];
            let type_ok = match (&job.gpu_type, &node.gpu_type) {
                (Some(want), Some(have)) => want.eq_ignore_ascii_case(have),
                (Some(_), None) => false,
                (None, _) => true,
            };
            type_ok && job.request.fits_in(&f.res)
        })
        .min_by_key(|(i, f)| {
            (
                f.res.gpus - job.request.gpus,
                f.res.cpus - job.request.cpus,
                *i,
            )
        })
        .map(|(i, _)| i)
}

fn allocate(free: &Free, node: usize, job: &PendingJob) -> Placement {
    let gpus = free
        .gpus
        .iter()
        .enumerate()
        .filter(|(_, is_free)| **is_free)
        .map(|(i, _)| i as u32)
        .take(job.request.gpus as usize)
        .collect();
    Placement {
        node,
        gpus,
        cpus: job.request.cpus,
        mem_mb: job.request.mem_mb,
    }
}

fn take(free: &mut Free, p: &Placement) {
    for g in &p.gpus {
        if let Some(slot) = free.gpus.get_mut(*g as usize) {
            *slot = false;
        }
    }
    free.res = free.res.saturating_sub(&Resources {
        gpus: p.gpus.len() as u32,
        cpus: p.cpus,
        mem_mb: p.mem_mb,
    });
}

#[cfg(test)]
mod tests;
