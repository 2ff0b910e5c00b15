//! The queue as users see it: pending jobs in the order the scheduler takes
//! them, each with its priority factors, why it waits, and its reservation.

use super::{Controller, pending_job};
use crate::clock::now_ms;
use aisc_model::{OrgId, PendingReason, ProjectId, Qos, UserId};
use aisc_sched::FairShare;
use serde::{Deserialize, Serialize};

/// One pending job.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueEntry {
    /// Job id.
    pub id: i64,
    /// 1-based place in the order the scheduler considers jobs.
    pub position: usize,
    /// Submitter.
    pub user: String,
    /// Project charged.
    pub project: Option<String>,
    /// Whose job it is, for the visibility check (not sent).
    #[serde(skip)]
    pub access: Option<JobAccess>,
    /// QOS.
    #[schema(value_type = String)]
    pub qos: Qos,
    /// GPUs asked for.
    pub gpus: u32,
    /// Time limit, seconds.
    pub time_limit_s: u64,
    /// Submitted, epoch ms.
    pub submit_ms: i64,
    /// The weighted sum of the factors below.
    pub priority: u64,
    /// Fair-share factor (0 to 1).
    pub fairshare: f64,
    /// Age factor (0 to 1).
    pub age: f64,
    /// QOS factor (1 for `high`).
    pub qos_factor: f64,
    /// The project's fraction of all active grants.
    pub share: f64,
    /// The project's fraction of all decayed usage.
    pub usage: f64,
    /// Why it waits.
    pub reason: String,
    /// When it is expected to start, if it holds the reservation of its pool (epoch ms).
    pub reserved_at_ms: Option<i64>,
}

/// What decides who may see a job: as `policy::Resource::Job`.
#[derive(Debug, Clone, Copy)]
pub struct JobAccess {
    /// Its submitter.
    pub owner: UserId,
    /// Its project.
    pub project: Option<ProjectId>,
    /// Its project's organisation.
    pub org: Option<OrgId>,
}

/// The queue, with the weights that rank it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueView {
    /// Pending jobs in the order the scheduler considers them.
    pub jobs: Vec<QueueEntry>,
    /// Weight of the fair-share factor.
    pub weight_fairshare: u32,
    /// Weight of the age factor.
    pub weight_age: u32,
    /// Weight of the QOS factor.
    pub weight_qos: u32,
    /// The wait at which the age factor reaches 1, seconds.
    pub max_age_s: u64,
    /// Half-life of usage, seconds.
    pub half_life_s: u64,
}

impl Controller {
    pub(super) fn queue_view(&self) -> QueueView {
        let now = now_ms();
        let now_s = u64::try_from(now / 1000).unwrap_or(0);
        let fs = FairShare::new(&self.projects_at(now));
        let mut jobs: Vec<(u128, QueueEntry)> = self
            .pending
            .values()
            .chain(self.held.values())
            .map(|q| {
                let j = pending_job(q);
                let f = fs.factors(&self.policy, &j, now_s);
                let reason = if q.held {
                    PendingReason::Held
                } else {
                    self.reasons
                        .get(&q.id)
                        .copied()
                        .unwrap_or(PendingReason::Priority)
                };
                let entry = QueueEntry {
                    id: q.id.0,
                    position: 0,
                    user: q.user.clone(),
                    project: q.spec.account.clone(),
                    access: Some(JobAccess {
                        owner: q.owner,
                        project: q.project,
                        org: q.org,
                    }),
                    qos: q.spec.qos,
                    gpus: q.spec.resources.gpus,
                    time_limit_s: q.spec.time_limit_s,
                    submit_ms: q.submit_ms,
                    priority: f.priority,
                    fairshare: f.fairshare,
                    age: f.age,
                    qos_factor: f.qos,
                    share: f.share,
                    usage: f.usage,
                    reason: reason.to_string(),
                    reserved_at_ms: self
                        .reservations
                        .get(&q.id)
                        .map(|s| i64::try_from(*s).unwrap_or(i64::MAX).saturating_mul(1000)),
                };
                (aisc_sched::order_key(&j, f.priority), entry)
            })
            .collect();
        jobs.sort_unstable_by_key(|j| j.0);
        QueueView {
            jobs: jobs
                .into_iter()
                .enumerate()
                .map(|(i, (_, mut e))| {
                    e.position = i + 1;
                    e
                })
                .collect(),
            weight_fairshare: self.policy.weight_fairshare,
            weight_age: self.policy.weight_age,
            weight_qos: self.policy.weight_qos,
            max_age_s: self.policy.max_age_s,
            half_life_s: self.policy.half_life_s,
        }
    }
}
