//! The simulated machine: pools of identical nodes (`375x8`, or
//! `h800:375x8,a100:16x4`), split into topology groups.

use aisc_model::Resources;
use aisc_sched::{Node, NodeState};
use serde::Serialize;
use std::ops::Range;
use std::str::FromStr;

/// The most nodes of one pool.
pub const MAX_NODES: u32 = 100_000;
/// The most GPUs of one node.
pub const MAX_GPUS_PER_NODE: u32 = 64;

/// Identical nodes of one resource class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pool {
    /// The resource class; `None` until named (see [`ClusterSpec::name_unnamed`]).
    pub class: Option<String>,
    /// Nodes.
    pub nodes: u32,
    /// GPUs per node.
    pub gpus_per_node: u32,
}

/// The whole machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterSpec {
    /// Its pools, in the order given.
    pub pools: Vec<Pool>,
    /// Topology groups (leaf switches) per pool.
    pub groups: u32,
}

impl FromStr for ClusterSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut pools = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            let (class, size) = match part.split_once(':') {
                Some((c, rest)) if !c.is_empty() => (Some(c.to_string()), rest),
                _ => (None, part),
            };
            let msg = || {
                format!(
                    "{part:?} is not NODESxGPUS (e.g. 375x8, or h800:375x8): nodes 1 to \
                     {MAX_NODES}, GPUs per node 1 to {MAX_GPUS_PER_NODE}"
                )
            };
            let (n, g) = size.split_once(['x', 'X']).ok_or_else(msg)?;
            let nodes: u32 = n.trim().parse().map_err(|_| msg())?;
            let gpus: u32 = g.trim().parse().map_err(|_| msg())?;
            if !(1..=MAX_NODES).contains(&nodes) || !(1..=MAX_GPUS_PER_NODE).contains(&gpus) {
                return Err(msg());
            }
            if pools.iter().any(|p: &Pool| p.class == class) {
                return Err(format!("{part:?}: the class is given twice"));
            }
            pools.push(Pool {
                class,
                nodes,
                gpus_per_node: gpus,
            });
        }
        if pools.len() > 1 && pools.iter().any(|p| p.class.is_none()) {
            return Err(format!(
                "{s:?}: with several pools, name each one's class (e.g. h800:375x8,a100:16x4)"
            ));
        }
        Ok(ClusterSpec { pools, groups: 1 })
    }
}

impl ClusterSpec {
    /// GPUs in all pools.
    pub fn total_gpus(&self) -> u64 {
        self.pools
            .iter()
            .map(|p| u64::from(p.nodes) * u64::from(p.gpus_per_node))
            .sum()
    }

    /// GPUs of one pool.
    pub fn pool_gpus(&self, pool: usize) -> u64 {
        let p = &self.pools[pool];
        u64::from(p.nodes) * u64::from(p.gpus_per_node)
    }

    /// Node indices of each pool: pools are laid out one after another.
    pub fn ranges(&self) -> Vec<Range<usize>> {
        let mut at = 0usize;
        self.pools
            .iter()
            .map(|p| {
                let r = at..at + p.nodes as usize;
                at = r.end;
                r
            })
            .collect()
    }

    /// Each pool's class name; an unnamed pool is `gpu`.
    pub fn classes(&self) -> Vec<String> {
        self.pools
            .iter()
            .map(|p| p.class.clone().unwrap_or_else(|| "gpu".into()))
            .collect()
    }

    /// Gives an unnamed single pool the class `name`.
    pub fn name_unnamed(&mut self, name: &str) {
        for p in &mut self.pools {
            if p.class.is_none() {
                p.class = Some(name.to_string());
            }
        }
    }

    /// The pool of a job that asks for `class` (none: the first pool), if any.
    pub fn pool_of(&self, class: Option<&str>) -> Option<usize> {
        match class {
            None => Some(0),
            Some(c) => self
                .pools
                .iter()
                .position(|p| p.class.as_deref() == Some(c))
                .or((self.pools.len() == 1).then_some(0)),
        }
    }

    /// The nodes as the scheduler sees them: node `i` of a pool of `n` is in
    /// topology group `i × groups / n`.
    pub fn nodes(&self) -> Vec<Node> {
        let mut out = Vec::new();
        for (p, class) in self.pools.iter().zip(self.classes()) {
            let groups = self.groups.clamp(1, p.nodes);
            for i in 0..p.nodes {
                out.push(Node {
                    name: format!("{class}-{i:05}"),
                    capacity: Resources {
                        gpus: p.gpus_per_node,
                        cpus: p.gpus_per_node * 16,
                        mem_mb: u64::from(p.gpus_per_node) << 17,
                    },
                    gpu_type: Some(class.clone()),
                    class: Some(class.clone()),
                    group: (u64::from(i) * u64::from(groups) / u64::from(p.nodes)) as u32,
                    state: NodeState::Up,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_bad_ones_name_the_limits() {
        let c: ClusterSpec = "375x8".parse().unwrap();
        assert_eq!(c.total_gpus(), 3_000);
        let c: ClusterSpec = "h800:375x8,a100:16x4".parse().unwrap();
        assert_eq!(c.total_gpus(), 3_064);
        assert_eq!(c.pool_of(Some("a100")), Some(1));
        assert_eq!(c.pool_of(Some("v100")), None);
        assert_eq!(c.ranges(), vec![0..375, 375..391]);
        for bad in ["", "375", "0x8", "8x0", "8x65", "375x8,16x4", "a:1x8,a:2x8"] {
            assert!(bad.parse::<ClusterSpec>().is_err(), "{bad}");
        }
        let e = "8x99".parse::<ClusterSpec>().unwrap_err();
        assert!(e.contains("1 to 64"), "{e}");
    }

    #[test]
    fn nodes_spread_evenly_over_groups() {
        let mut c: ClusterSpec = "12x8".parse().unwrap();
        c.groups = 4;
        let groups: Vec<u32> = c.nodes().iter().map(|n| n.group).collect();
        assert_eq!(groups, vec![0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
    }
}
