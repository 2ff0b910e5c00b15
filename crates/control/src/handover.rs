//! Which jobs go to an engine that keeps a queue of its own (Slurm): those
//! the plan started, then the next waiting ones in priority order, while
//! fewer than its depth wait there. Jobs waiting for a grant, a quota or a
//! release are never handed over.

use aisc_model::PendingReason;

/// How many more jobs may be handed over now: all the plan started where
/// the engine keeps no queue (`depth` is `None`), else the depth less those
/// already waiting in the engine.
pub fn room(depth: Option<usize>, waiting_in_engine: usize) -> usize {
    depth.map_or(usize::MAX, |d| d.saturating_sub(waiting_in_engine))
}

/// Whether a job waiting with `reason` may wait in the engine's own queue
/// instead (it waits only for resources or its turn).
pub fn may_wait_in_engine(reason: PendingReason) -> bool {
    matches!(
        reason,
        PendingReason::Priority | PendingReason::Resources | PendingReason::Reservation
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_depth_bounds_what_waits_in_the_engine() {
        assert_eq!(room(None, 10), usize::MAX);
        assert_eq!(room(Some(256), 250), 6);
        assert_eq!(room(Some(256), 300), 0);
        assert!(may_wait_in_engine(PendingReason::Resources));
        assert!(!may_wait_in_engine(PendingReason::GrantExhausted));
        assert!(!may_wait_in_engine(PendingReason::Held));
    }
}
