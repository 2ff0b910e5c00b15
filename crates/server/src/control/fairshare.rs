//! What fair share needs from the store, kept by the control loop: each
//! project's active grants (re-read every few seconds) and its decayed usage
//! (read once at start, then added to as jobs end).

use super::Controller;
use aisc_model::ProjectId;
use aisc_sched::{Project, Share, Usage};
use aisc_store::{ProjectShare, Store, StoreError};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long projects' grants are reused before being read again.
const SHARES_LIFETIME: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(super) struct FairShare {
    half_life_s: u64,
    /// Decayed GPU-seconds of finished jobs.
    usage: Usage,
    loaded: bool,
    shares: Vec<ProjectShare>,
    read_at: Option<Instant>,
}

impl FairShare {
    pub(super) fn new(half_life_s: u64) -> Self {
        FairShare {
            half_life_s,
            usage: Usage::new(half_life_s),
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
        self.usage.record(project, gpu_ms, end_ms);
    }

    /// Every project with a grant or with usage, as the scheduler sees it at
    /// `now_ms`; `running` adds the GPU-milliseconds of jobs still running.
    pub(super) fn projects(
        &self,
        now_ms: i64,
        running: impl Iterator<Item = (ProjectId, i64)>,
    ) -> BTreeMap<ProjectId, Project> {
        let shares = self.shares.iter().map(|s| Share {
            project: s.project,
            shares: u64::try_from(s.gpu_hours).unwrap_or(0),
            max_gpus: s.max_gpus.map(|m| u32::try_from(m).unwrap_or(u32::MAX)),
        });
        self.usage.projects(now_ms, shares, running)
    }
}

impl Controller {
    /// Every project's share, usage (running jobs' GPU time so far included) and cap at `now_ms`.
    pub(super) fn projects_at(&self, now_ms: i64) -> BTreeMap<ProjectId, Project> {
        let running = self.core.running.iter().filter_map(|(_, a)| {
            let gpu_ms = i64::from(a.placement.gpu_count()).saturating_mul(now_ms - a.start_ms);
            a.project.map(|p| (p, gpu_ms.max(0)))
        });
        self.fair.projects(now_ms, running)
    }
}
