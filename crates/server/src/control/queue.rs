//! The queue as users see it: pending jobs in the order the scheduler takes
//! them, each with its priority factors, why it waits, and its reservation.

use super::{Controller, JobAccess, pending_job};
use crate::clock::now_ms;
pub use aisc_api::queue::{QueueEntry, QueueView};
use aisc_model::PendingReason;
use aisc_sched::FairShare;

impl Controller {
    pub(super) fn queue_view(&self) -> QueueView {
        let now = now_ms();
        let now_s = u64::try_from(now / 1000).unwrap_or(0);
        let fs = FairShare::new(&self.projects_at(now));
        let mut jobs: Vec<(u128, QueueEntry)> = self
            .core
            .queue
            .pending()
            .chain(self.core.queue.held())
            .chain(self.core.queue.blocked())
            .map(|q| {
                let j = pending_job(q);
                let f = fs.factors(&self.policy, &j, now_s);
                let reason = if q.held {
                    PendingReason::Held
                } else {
                    self.core
                        .queue
                        .reason(q.id)
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
                    waits_for: self.core.queue.waits_for(q.id).map(str::to_string),
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
