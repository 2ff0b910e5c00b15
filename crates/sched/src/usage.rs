//! Each project's decayed GPU usage, as fair share counts it. The server
//! feeds it from the store and the simulator from simulated jobs; both ask it
//! for the [`Project`]s a [`crate::Snapshot`] holds, so fair share is computed
//! one way only.

use crate::{Project, decay};
use aisc_model::ProjectId;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// Decayed GPU-seconds of finished jobs, per project.
#[derive(Debug, Clone)]
pub struct Usage {
    half_life_s: u64,
    /// Per project: decayed GPU-seconds, as of the epoch milliseconds beside them.
    by_project: FxHashMap<ProjectId, (f64, i64)>,
}

/// A project's share of the machine, as its grants give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// The project.
    pub project: ProjectId,
    /// Its shares: the GPU-hours of its active grants.
    pub shares: u64,
    /// The most GPUs its jobs may hold at once, if capped.
    pub max_gpus: Option<u32>,
}

impl Usage {
    /// No usage yet; recorded usage halves every `half_life_s` (never, when 0).
    pub fn new(half_life_s: u64) -> Self {
        Usage {
            half_life_s,
            by_project: FxHashMap::default(),
        }
    }

    /// Adds a finished job's GPU time (milliseconds) to its project, as of `end_ms`.
    /// The order in which jobs are recorded does not matter.
    pub fn record(&mut self, project: ProjectId, gpu_ms: u64, end_ms: i64) {
        let add = gpu_ms as f64 / 1000.0;
        let e = self.by_project.entry(project).or_insert((0.0, end_ms));
        if end_ms >= e.1 {
            e.0 = decay(e.0, elapsed_s(e.1, end_ms), self.half_life_s) + add;
            e.1 = end_ms;
        } else {
            e.0 += decay(add, elapsed_s(end_ms, e.1), self.half_life_s);
        }
    }

    /// Every project with a share or with usage, as the scheduler sees it at
    /// `now_ms`; `running` adds the GPU-milliseconds of jobs still running.
    pub fn projects(
        &self,
        now_ms: i64,
        shares: impl IntoIterator<Item = Share>,
        running: impl IntoIterator<Item = (ProjectId, i64)>,
    ) -> BTreeMap<ProjectId, Project> {
        let mut out: BTreeMap<ProjectId, Project> = shares
            .into_iter()
            .map(|s| {
                let p = Project {
                    shares: s.shares,
                    usage: 0,
                    max_gpus: s.max_gpus,
                };
                (s.project, p)
            })
            .collect();
        let mut used: FxHashMap<ProjectId, f64> = self
            .by_project
            .iter()
            .map(|(p, (v, at))| (*p, decay(*v, elapsed_s(*at, now_ms), self.half_life_s)))
            .collect();
        for (p, gpu_ms) in running {
            *used.entry(p).or_default() += gpu_ms as f64 / 1000.0;
        }
        for (p, u) in used {
            out.entry(p).or_default().usage = u.round() as u64;
        }
        out
    }
}

fn elapsed_s(from_ms: i64, to_ms: i64) -> u64 {
    u64::try_from(to_ms.saturating_sub(from_ms) / 1000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_decays_by_half_each_half_life_whatever_the_order_it_is_recorded_in() {
        let mut a = Usage::new(100);
        a.record(ProjectId(1), 8_000_000, 0);
        a.record(ProjectId(1), 4_000_000, 100_000);
        let mut b = Usage::new(100);
        b.record(ProjectId(1), 4_000_000, 100_000);
        b.record(ProjectId(1), 8_000_000, 0);
        let at = |u: &Usage, t| u.projects(t, [], [])[&ProjectId(1)].usage;
        // 8,000 GPU-s one half-life ago (4,000) + 4,000 now.
        assert_eq!(at(&a, 100_000), 8_000);
        assert_eq!(at(&b, 100_000), 8_000);
        assert_eq!(at(&a, 200_000), 4_000);
        let with_running = a.projects(100_000, [], [(ProjectId(1), 2_000_000)]);
        assert_eq!(with_running[&ProjectId(1)].usage, 10_000);
    }

    #[test]
    fn shares_and_caps_come_through_beside_usage() {
        let mut u = Usage::new(0);
        u.record(ProjectId(2), 5_000, 0);
        let share = Share {
            project: ProjectId(1),
            shares: 40,
            max_gpus: Some(8),
        };
        let p = u.projects(0, [share], []);
        assert_eq!(p[&ProjectId(1)].shares, 40);
        assert_eq!(p[&ProjectId(1)].max_gpus, Some(8));
        assert_eq!(p[&ProjectId(1)].usage, 0);
        assert_eq!(p[&ProjectId(2)].shares, 0);
        assert_eq!(p[&ProjectId(2)].usage, 5);
    }
}
