//! Keeping Slurm's accounts in step with aisc (the reconcile loop): what
//! should be is read from the store, what is from `sacctmgr`, and the
//! difference is made (or, for a dry run, only listed). See
//! [`aisc_engine::slurm::accounts`] for the rules.

use crate::clock::now_ms;
use aisc_engine::slurm::SlurmError;
use aisc_engine::slurm::accounts::{self, Change, Desired, DesiredProject};
use aisc_store::{SlurmTenancy, Store, StoreError};
use std::time::Duration;

/// Why a sync could not run.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Slurm's accounting failed.
    #[error(transparent)]
    Slurm(#[from] SlurmError),
}

/// GPU-minutes a project's grants have left at `now_ms`: each grant in its
/// period gives its GPU-hours less the GPU time already charged to it
/// (what is left rounded down to whole minutes, so
/// Slurm never allows more than the grant has); grants outside their period give none.
pub fn gpu_minutes_left(t: &aisc_store::SlurmProject, now_ms: i64) -> i64 {
    t.grants
        .iter()
        .filter(|g| g.starts_ms <= now_ms && now_ms < g.ends_ms)
        .map(|g| (g.gpu_hours.saturating_mul(3_600_000) - g.used_gpu_ms).max(0) / 60_000)
        .sum()
}

/// The most GPUs a project's jobs may hold at once, as the scheduler counts
/// it: the sum of its grants' caps while every grant in its period has one;
/// no cap if any of them has none (or none is in its period).
pub fn gpu_cap(t: &aisc_store::SlurmProject, now_ms: i64) -> Option<i64> {
    let mut active = t
        .grants
        .iter()
        .filter(|g| g.starts_ms <= now_ms && now_ms < g.ends_ms)
        .peekable();
    active.peek()?;
    active.map(|g| g.max_gpus).sum()
}

/// The accounts Slurm should have for this tenancy.
pub fn desired(t: &SlurmTenancy, now_ms: i64) -> Desired {
    Desired {
        orgs: t.orgs.clone(),
        projects: t
            .projects
            .iter()
            .map(|p| DesiredProject {
                name: p.name.clone(),
                org: p.org.clone(),
                users: p.members.clone(),
                gpu_minutes: gpu_minutes_left(p, now_ms),
                gpu_cap: gpu_cap(p, now_ms),
                unmapped: p.unmapped.clone(),
            })
            .collect(),
    }
}

/// Compares and (unless `dry_run`) applies; returns the changes.
pub async fn sync(store: &Store, cluster: &str, dry_run: bool) -> Result<Vec<Change>, SyncError> {
    let tenancy = store.slurm_tenancy().await?;
    let want = desired(&tenancy, now_ms());
    let have = accounts::read_current(cluster).await?;
    let changes = accounts::plan(&want, &have);
    if !dry_run {
        accounts::apply(cluster, &changes).await?;
    }
    Ok(changes)
}

/// Runs [`sync`] every `every`, logging what it changed.
pub async fn run_loop(store: Store, cluster: String, every: Duration) {
    loop {
        match sync(&store, &cluster, false).await {
            Ok(changes) => {
                for c in changes {
                    match c {
                        Change::Conflict { .. } => {
                            tracing::warn!(change = %c, "Slurm accounts drift")
                        }
                        _ => tracing::info!(change = %c, "Slurm accounts"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not keep Slurm's accounts in step"),
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisc_model::ProjectId;
    use aisc_store::{SlurmGrant, SlurmProject};

    #[test]
    fn only_grants_in_their_period_count_and_use_comes_off() {
        let p = SlurmProject {
            id: ProjectId(1),
            name: "llm".into(),
            org: "hku".into(),
            members: vec![],
            unmapped: vec![],
            grants: vec![
                // 10 GPU-hours, 90.5 GPU-minutes used: 509 whole minutes left.
                SlurmGrant {
                    id: 1,
                    gpu_hours: 10,
                    starts_ms: 0,
                    ends_ms: 1000,
                    used_gpu_ms: 5_430_000,
                    max_gpus: Some(8),
                },
                // Expired: nothing more.
                SlurmGrant {
                    id: 2,
                    gpu_hours: 100,
                    starts_ms: 0,
                    ends_ms: 500,
                    used_gpu_ms: 0,
                    max_gpus: None,
                },
                // Overspent (cannot happen through liens, but never negative).
                SlurmGrant {
                    id: 3,
                    gpu_hours: 1,
                    starts_ms: 0,
                    ends_ms: 1000,
                    used_gpu_ms: 7_200_000,
                    max_gpus: Some(4),
                },
            ],
        };
        assert_eq!(gpu_minutes_left(&p, 600), 509);
        // Caps: grants 1 and 3 are in their period and both capped; 2 (uncapped) has expired.
        assert_eq!(gpu_cap(&p, 600), Some(12));
        // Before it expired, the uncapped grant lifted the cap.
        assert_eq!(gpu_cap(&p, 400), None);
        // With no grant in its period there is nothing to cap.
        assert_eq!(gpu_cap(&p, 2000), None);
    }
}
