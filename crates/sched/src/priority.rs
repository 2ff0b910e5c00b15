//! Multifactor priority, as in Slurm's `priority/multifactor`:
//!
//! `priority = w_fairshare × F + w_age × A + w_qos × Q`, rounded to an integer, where
//! - `F = 2^-(u / s)`: `s` is the project's fraction of all shares (the
//!   GPU-hours of its active grants over everyone's) and `u` its fraction of
//!   all decayed usage. An idle project has 1, one using exactly its share ½,
//!   one with no grant 0;
//! - `A = min(age / max_age, 1)`: waiting raises priority, so nothing starves;
//! - `Q` is 1 for `high` and 0 otherwise.
//!
//! Usage decays exponentially with the policy's half-life ([`decay`]): a
//! GPU-hour used one half-life ago counts as half a GPU-hour today.

use crate::{PendingJob, Project, Qos, Snapshot};
use aisc_model::ProjectId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Weights and switches of the scheduling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Weight of the fair-share factor.
    pub weight_fairshare: u32,
    /// Weight of the age factor.
    pub weight_age: u32,
    /// Weight of the QOS factor (`high` jobs).
    pub weight_qos: u32,
    /// The wait at which the age factor reaches 1, seconds.
    pub max_age_s: u64,
    /// Half-life of recorded usage, seconds.
    pub half_life_s: u64,
    /// EASY backfill: lower jobs may start when they cannot delay the reservation.
    pub backfill: bool,
    /// Guaranteed jobs may preempt scavenger jobs (otherwise scavenger jobs hold their GPUs like any other).
    pub preemption: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            weight_fairshare: 10_000,
            weight_age: 5_000,
            weight_qos: 100_000,
            max_age_s: 7 * 86_400,
            half_life_s: 7 * 86_400,
            backfill: true,
            preemption: true,
        }
    }
}

/// A job's priority and what it is made of.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Factors {
    /// Fair-share factor, 0 to 1.
    pub fairshare: f64,
    /// Age factor, 0 to 1.
    pub age: f64,
    /// QOS factor, 0 or 1.
    pub qos: f64,
    /// The weighted sum, rounded.
    pub priority: u64,
    /// The project's fraction of all shares.
    pub share: f64,
    /// The project's fraction of all decayed usage.
    pub usage: f64,
}

/// `value` after `elapsed_s` seconds of exponential decay with the given half-life
/// (no decay when the half-life is 0).
pub fn decay(value: f64, elapsed_s: u64, half_life_s: u64) -> f64 {
    if half_life_s == 0 {
        return value;
    }
    value * (-(elapsed_s as f64) / half_life_s as f64).exp2()
}

/// Everyone's shares and usage, summed once: then any number of jobs' factors.
#[derive(Debug, Clone)]
pub struct FairShare {
    /// Each project's fair-share factor, share fraction and usage fraction.
    by_project: BTreeMap<ProjectId, (f64, f64, f64)>,
}

impl FairShare {
    /// Sums the shares and usage of `projects`.
    pub fn new(projects: &BTreeMap<ProjectId, Project>) -> Self {
        let shares: u128 = projects.values().map(|p| u128::from(p.shares)).sum();
        let usage: u128 = projects.values().map(|p| u128::from(p.usage)).sum();
        let by_project = projects
            .iter()
            .map(|(id, p)| {
                let s = if shares == 0 {
                    0.0
                } else {
                    p.shares as f64 / shares as f64
                };
                let u = if usage == 0 {
                    0.0
                } else {
                    p.usage as f64 / usage as f64
                };
                let f = if s == 0.0 { 0.0 } else { (-(u / s)).exp2() };
                (*id, (f, s, u))
            })
            .collect();
        FairShare { by_project }
    }

    fn of(&self, project: ProjectId) -> (f64, f64, f64) {
        self.by_project
            .get(&project)
            .copied()
            .unwrap_or((0.0, 0.0, 0.0))
    }

    /// One pending job's priority factors at `now`.
    pub fn factors(&self, policy: &Policy, job: &PendingJob, now: u64) -> Factors {
        let (fairshare, share, usage) = self.of(job.project);
        let age = if policy.max_age_s == 0 {
            1.0
        } else {
            (now.saturating_sub(job.submit) as f64 / policy.max_age_s as f64).min(1.0)
        };
        let qos = if job.qos == Qos::High { 1.0 } else { 0.0 };
        let sum = f64::from(policy.weight_fairshare) * fairshare
            + f64::from(policy.weight_age) * age
            + f64::from(policy.weight_qos) * qos;
        Factors {
            fairshare,
            age,
            qos,
            priority: sum.round() as u64,
            share,
            usage,
        }
    }
}

/// The priority factors of one pending job of `snapshot` at `now`.
pub fn factors(snapshot: &Snapshot, job: &PendingJob, now: u64) -> Factors {
    FairShare::new(&snapshot.projects).factors(&snapshot.policy, job, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_halves_per_half_life() {
        assert_eq!(decay(100.0, 0, 10), 100.0);
        assert!((decay(100.0, 10, 10) - 50.0).abs() < 1e-9);
        assert!((decay(100.0, 30, 10) - 12.5).abs() < 1e-9);
        assert_eq!(decay(100.0, 30, 0), 100.0);
    }

    #[test]
    fn fair_share_is_one_idle_half_at_share_and_falls_above() {
        let p = |shares, usage| Project {
            shares,
            usage,
            max_gpus: None,
        };
        let projects = BTreeMap::from([
            (ProjectId(1), p(1, 0)),
            (ProjectId(2), p(1, 100)),
            (ProjectId(3), p(2, 100)),
            (ProjectId(4), p(0, 0)),
        ]);
        let fs = FairShare::new(&projects);
        assert_eq!(fs.of(ProjectId(1)).0, 1.0);
        // Project 3 has half the shares and half the usage: exactly at its share.
        assert!((fs.of(ProjectId(3)).0 - 0.5).abs() < 1e-12);
        // Project 2 has a quarter of the shares and half the usage: above its share.
        assert!((fs.of(ProjectId(2)).0 - 0.25).abs() < 1e-12);
        assert_eq!(fs.of(ProjectId(4)).0, 0.0);
        assert_eq!(fs.of(ProjectId(99)).0, 0.0);
    }
}
