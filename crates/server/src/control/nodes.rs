//! Nodes as the scheduler sees them, and draining them: a drained node runs
//! the jobs it has and takes no new ones until it is resumed.

use super::Controller;
pub use aisc_api::queue::NodeStatus;
use aisc_sched::NodeState;

fn state_name(s: NodeState) -> &'static str {
    match s {
        NodeState::Up => "up",
        NodeState::Drain => "drain",
        NodeState::Down => "down",
    }
}

impl Controller {
    /// Every node with what its running jobs hold.
    pub(super) fn node_statuses(&self) -> Vec<NodeStatus> {
        let mut out: Vec<NodeStatus> = self
            .nodes
            .iter()
            .map(|n| NodeStatus {
                name: n.name.clone(),
                state: state_name(n.state).into(),
                gpus: n.capacity.gpus,
                gpu_type: n.gpu_type.clone(),
                cpus: n.capacity.cpus,
                mem_mb: n.capacity.mem_mb,
                gpus_busy: 0,
                cpus_busy: 0,
                mem_busy_mb: 0,
                jobs: 0,
            })
            .collect();
        for (_, a) in self.core.running.occupying() {
            for alloc in &a.placement.allocs {
                if let Some(n) = out.get_mut(alloc.node) {
                    n.gpus_busy += alloc.gpus.len() as u32;
                    n.cpus_busy += alloc.cpus;
                    n.mem_busy_mb += alloc.mem_mb;
                    n.jobs += 1;
                }
            }
        }
        out
    }

    /// Drains (or resumes) a node by name; `false` when there is no such node.
    /// A node the engine reports down stays down when resumed.
    pub(super) fn set_drained(&mut self, name: &str, drained: bool) -> bool {
        let Some(node) = self.nodes.iter_mut().find(|n| n.name == name) else {
            return false;
        };
        node.state = match (node.state, drained) {
            (NodeState::Down, _) => NodeState::Down,
            (_, true) => NodeState::Drain,
            (_, false) => NodeState::Up,
        };
        self.dirty = true;
        true
    }

    /// Applies the drains kept in the store (at start).
    pub async fn load_drains(&mut self) -> Result<(), aisc_store::StoreError> {
        for d in self.store.node_drains().await? {
            self.set_drained(&d.name, true);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::state_name;
    use aisc_sched::NodeState;

    #[test]
    fn states_have_stable_names() {
        assert_eq!(state_name(NodeState::Up), "up");
        assert_eq!(state_name(NodeState::Drain), "drain");
        assert_eq!(state_name(NodeState::Down), "down");
    }
}
