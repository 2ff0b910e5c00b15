//! How a job spreads over nodes and tasks, and what its GPU count is for:
//! read from `-N`, `-n`, `--ntasks-per-node` and the GPU options.

use super::SpecError;
use crate::sbatch::SbatchOptions;
use serde::{Deserialize, Serialize};

/// How a job spreads over nodes and tasks (`-N`, `-n`, `--ntasks-per-node`)
/// and how its GPUs were asked for; its `resources` are the totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geometry {
    /// The least nodes.
    pub nodes: u32,
    /// The most nodes (its resources are counted for these).
    pub nodes_max: u32,
    /// Tasks in all (`SLURM_NTASKS`).
    pub tasks: u32,
    /// At most this many tasks on a node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks_per_node: Option<u32>,
    /// Its GPUs were asked for per job, per node or per task.
    #[serde(default)]
    pub gpus_per: GpusPer,
}

impl Default for Geometry {
    fn default() -> Self {
        Geometry {
            nodes: 1,
            nodes_max: 1,
            tasks: 1,
            tasks_per_node: None,
            gpus_per: GpusPer::Job,
        }
    }
}

impl Geometry {
    /// One task on one node.
    pub fn is_single(&self) -> bool {
        *self == Geometry::default()
    }

    /// `N` or `MIN-MAX`, as `-N` takes it.
    pub fn nodes_text(&self) -> String {
        if self.nodes == self.nodes_max {
            self.nodes.to_string()
        } else {
            format!("{}-{}", self.nodes, self.nodes_max)
        }
    }
}

/// What a job's GPU count was given for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpusPer {
    /// The job (`--gpus`, `--gres` on one node).
    #[default]
    Job,
    /// Each node (`--gpus-per-node`).
    Node,
    /// Each task (`--gpus-per-task`).
    Task,
}

/// A job's nodes and tasks: `-N` (1 by default), `-n` (else
/// `--ntasks-per-node` on each node, else one task per node).
pub(super) fn geometry_of(d: &SbatchOptions) -> Result<Geometry, SpecError> {
    let (nodes, nodes_max) = d.nodes.unwrap_or((1, 1));
    let tasks = match (d.ntasks, d.ntasks_per_node) {
        (Some(n), _) => n,
        (None, Some(per)) => per.saturating_mul(nodes),
        (None, None) => nodes,
    };
    if tasks > crate::sbatch::MAX_TASKS {
        return Err(SpecError::limit(
            "ntasks",
            format!("{tasks} tasks is out of range"),
            format!("1 to {}", crate::sbatch::MAX_TASKS),
        ));
    }
    if tasks < nodes {
        return Err(SpecError::new(
            "ntasks",
            format!("{tasks} tasks on at least {nodes} nodes: each node runs at least one task"),
        ));
    }
    if let Some(per) = d.ntasks_per_node
        && tasks > per.saturating_mul(nodes_max)
    {
        return Err(SpecError::new(
            "ntasks",
            format!("{tasks} tasks do not fit {per} per node on at most {nodes_max} nodes"),
        ));
    }
    Ok(Geometry {
        nodes,
        nodes_max,
        tasks,
        tasks_per_node: d.ntasks_per_node,
        gpus_per: GpusPer::Job,
    })
}

/// A job's GPUs from `--gpus`, `--gpus-per-node` or `--gpus-per-task`: the
/// type, the count, and what the count is for.
pub(super) fn gpus_of(d: &SbatchOptions) -> Result<(Option<String>, u32, GpusPer), SpecError> {
    let asked: Vec<(&str, Option<String>, u32, GpusPer)> = [
        (
            "--gpus",
            d.gpus.map(|n| (d.gpu_type.clone(), n)),
            GpusPer::Job,
        ),
        ("--gpus-per-node", d.gpus_per_node.clone(), GpusPer::Node),
        ("--gpus-per-task", d.gpus_per_task.clone(), GpusPer::Task),
    ]
    .into_iter()
    .filter_map(|(k, v, per)| v.map(|(t, n)| (k, t, n, per)))
    .collect();
    match asked.as_slice() {
        [] => Ok((None, 0, GpusPer::Job)),
        [(_, t, n, per)] => Ok((t.clone(), *n, *per)),
        [(k1, t1, n1, per), rest @ ..] => {
            if let Some((k2, _, _, _)) = rest.iter().find(|(_, t, n, _)| (t, n) != (t1, n1)) {
                return Err(SpecError::new(
                    "gpus",
                    format!("{k1} and {k2} ask for different GPUs: give one of them"),
                ));
            }
            Ok((t1.clone(), *n1, *per))
        }
    }
}
