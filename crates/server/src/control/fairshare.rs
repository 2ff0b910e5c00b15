//! What fair share needs from the store, kept by the control loop: each
//! project's active grants (re-read every few seconds) and its decayed usage
//! (read once at start, then added to as jobs end).

use super::Controller;
use aisc_model::ProjectId;
use aisc_sched::{Project, decay};
use aisc_store::{ProjectShare, Store, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How long projects' grants are reused before being read again.
const SHARES_LIFETIME: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(super) struct FairShare {
    half_life_s: u64,
    /// Per project: decayed GPU-seconds of finished jobs, as of the epoch ms beside it.
    usage: HashMap<ProjectId, (f64, i64)>,
    loaded: bool,
    shares: Vec<ProjectShare>,
    read_at: Option<Instant>,
}

impl FairShare {
    pub(super) fn new(half_life_s: u64) -> Self {
        FairShare {
            half_life_s,
            usage: HashMap::new(),
            loaded: false,
            shares: Vec::new(),
            read_at: None,
        }
    }

    /// Reads the usage of recently finished jobs (once) and the projects' grants (when stale).
    pub(super) async fn refresh(&mut self, store: &Store, now_ms: i64) -> Result<(), StoreError> {
        if !self.loaded {
            // Older usage has decayed below a thousandth of itself.
            let horizon_ms =
                i64::try_from(self.half_life_s.saturating_mul(10_000)).unwrap_or(i64::MAX);
            let since = if self.half_life_s == 0 {
                0
            } else {
                now_ms.saturating_sub(horizon_ms)
            };
            for (project, end_ms, gpu_ms) in store.usage_since(since).await? {
                self.record(project, u64::try_from(gpu_ms).unwrap_or(0), end_ms);
            }
            self.loaded = true;
        }
        if self.read_at.is_none_or(|t| t.elapsed() >= SHARES_LIFETIME) {
            self.shares = store.project_shares(now_ms).await?;
            self.read_at = Some(Instant::now());
        }
        Ok(())
    }

    /// Forgets the projects' grants, so that the next pass reads them again.
    pub(super) fn invalidate(&mut self) {
        self.read_at = None;
    }

    /// Adds a finished job's GPU time to its project's decayed usage.
    pub(super) fn record(&mut self, project: ProjectId, gpu_ms: u64, end_ms: i64) {
        let add = gpu_ms as f64 / 1000.0;
        let e = self.usage.entry(project).or_insert((0.0, end_ms));
        if end_ms >= e.1 {
            e.0 = decay(e.0, elapsed_s(e.1, end_ms), self.half_life_s) + add;
            e.1 = end_ms;
        } else {
            e.0 += decay(add, elapsed_s(end_ms, e.1), self.half_life_s);
        }
    }

    /// Every project with a grant or with usage, as the scheduler sees it at
    /// `now_ms`; `running` adds the GPU-milliseconds of jobs still running.
    pub(super) fn projects(
        &self,
        now_ms: i64,
        running: impl Iterator<Item = (ProjectId, i64)>,
    ) -> BTreeMap<ProjectId, Project> {
        let mut out: BTreeMap<ProjectId, Project> = BTreeMap::new();
        for s in &self.shares {
            out.insert(
                s.project,
                Project {
                    shares: u64::try_from(s.gpu_hours).unwrap_or(0),
                    usage: 0,
                    max_gpus: s.max_gpus.map(|m| u32::try_from(m).unwrap_or(u32::MAX)),
                },
            );
        }
        let mut used: HashMap<ProjectId, f64> = self
            .usage
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

impl Controller {
    /// Every project's share, usage (running jobs' GPU time so far included) and cap at `now_ms`.
    pub(super) fn projects_at(&self, now_ms: i64) -> BTreeMap<ProjectId, Project> {
        let running = self.running.values().filter_map(|a| {
            let gpu_ms = i64::from(a.placement.gpu_count()).saturating_mul(now_ms - a.start_ms);
            a.project.map(|p| (p, gpu_ms.max(0)))
        });
        self.fair.projects(now_ms, running)
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
        let mut a = FairShare::new(100);
        a.record(ProjectId(1), 8_000_000, 0);
        a.record(ProjectId(1), 4_000_000, 100_000);
        let mut b = FairShare::new(100);
        b.record(ProjectId(1), 4_000_000, 100_000);
        b.record(ProjectId(1), 8_000_000, 0);
        let at = |f: &FairShare, t| f.projects(t, std::iter::empty())[&ProjectId(1)].usage;
        // 8,000 GPU-s one half-life ago (4,000) + 4,000 now.
        assert_eq!(at(&a, 100_000), 8_000);
        assert_eq!(at(&b, 100_000), 8_000);
        assert_eq!(at(&a, 200_000), 4_000);
        let with_running = a.projects(100_000, [(ProjectId(1), 2_000_000)].into_iter());
        assert_eq!(with_running[&ProjectId(1)].usage, 10_000);
    }
}
