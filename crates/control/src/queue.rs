//! The jobs that wait: those the scheduler considers, those held until
//! released and those waiting for other jobs (`--dependency`), both kept
//! apart so that no pass spends time on them, and the reason each waits
//! with, as last recorded.

use crate::Queued;
use aisc_model::array::Tasks;
use aisc_model::{JobId, PendingReason};
use std::collections::{BTreeMap, HashMap};

/// Why a release was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotHeld {
    /// It waits, but is not held.
    Pending,
    /// It does not wait at all.
    NotPending,
}

/// The waiting jobs.
#[derive(Debug, Default)]
pub struct Queue {
    pending: BTreeMap<JobId, Queued>,
    held: BTreeMap<JobId, Queued>,
    blocked: BTreeMap<JobId, Queued>,
    waits_for: HashMap<JobId, String>,
    reasons: HashMap<JobId, PendingReason>,
    /// Each waiting array's waiting tasks (the array is one job here until
    /// its tasks start).
    arrays: HashMap<JobId, Tasks>,
}

impl Queue {
    /// An empty queue.
    pub fn new() -> Self {
        Queue::default()
    }

    /// Puts a job where it belongs: with the held ones, with those waiting
    /// for other jobs (until [`Queue::unblock`]), or with the jobs the
    /// scheduler considers.
    pub fn insert(&mut self, q: Queued) {
        if q.spec.task_of.is_none()
            && let Some(a) = &q.spec.array
        {
            self.arrays.entry(q.id).or_insert_with(|| a.tasks.clone());
        }
        if q.held {
            self.held.insert(q.id, q);
        } else if q.spec.dependency.is_some() || q.spec.begin_ms.is_some() {
            self.blocked.insert(q.id, q);
        } else {
            self.pending.insert(q.id, q);
        }
    }

    /// Puts an array back with the tasks of it that still wait (after a
    /// restart, or when a task could not be split off).
    pub fn insert_array(&mut self, q: Queued, waiting: Tasks) {
        self.arrays.insert(q.id, waiting);
        self.insert(q);
    }

    /// An array's waiting tasks (`None` for a job that is not a waiting array).
    pub fn array_waiting(&self, id: JobId) -> Option<&Tasks> {
        self.arrays.get(&id)
    }

    /// An array's waiting tasks, to take tasks from or put them back.
    pub(crate) fn array_waiting_mut(&mut self, id: JobId) -> Option<&mut Tasks> {
        self.arrays.get_mut(&id)
    }

    /// Whether the scheduler considers the job (it waits, neither held nor blocked).
    pub fn considered(&self, id: JobId) -> bool {
        self.pending.contains_key(&id)
    }

    /// A waiting job, by id.
    pub fn get(&self, id: JobId) -> Option<&Queued> {
        self.pending
            .get(&id)
            .or_else(|| self.held.get(&id))
            .or_else(|| self.blocked.get(&id))
    }

    /// A waiting job changed (`aisc update`): its spec and charging
    /// replaced where it waits; false if it no longer waits.
    pub fn update(
        &mut self,
        id: JobId,
        spec: aisc_model::JobSpec,
        charging: Option<aisc_model::job::Charging>,
    ) -> bool {
        let q = match self.pending.get_mut(&id) {
            Some(q) => Some(q),
            None => match self.held.get_mut(&id) {
                Some(q) => Some(q),
                None => self.blocked.get_mut(&id),
            },
        };
        match q {
            Some(q) => {
                q.spec = spec;
                q.charging = charging;
                true
            }
            None => false,
        }
    }

    /// The jobs waiting for other jobs, by id.
    pub fn blocked(&self) -> impl Iterator<Item = &Queued> {
        self.blocked.values()
    }

    /// Its dependency holds: the scheduler considers the job from now on.
    pub fn unblock(&mut self, id: JobId) {
        if let Some(q) = self.blocked.remove(&id) {
            self.waits_for.remove(&id);
            self.reasons.remove(&id);
            self.pending.insert(id, q);
        }
    }

    /// Notes what a job waits for, and why; true when its reason changed.
    pub fn note_waits_for(&mut self, id: JobId, on: String, reason: PendingReason) -> bool {
        self.waits_for.insert(id, on);
        self.reasons.insert(id, reason) != Some(reason)
    }

    /// What a job waiting for others waits for, in words.
    pub fn waits_for(&self, id: JobId) -> Option<&str> {
        self.waits_for.get(&id).map(String::as_str)
    }

    /// Puts a job back to wait with `reason` (its grant could not cover it,
    /// or the engine could not take it).
    pub fn wait(&mut self, q: Queued, reason: PendingReason) {
        self.reasons.insert(q.id, reason);
        self.insert(q);
    }

    /// Whether the job waits (held, for other jobs, or for the scheduler).
    pub fn contains(&self, id: JobId) -> bool {
        self.pending.contains_key(&id)
            || self.held.contains_key(&id)
            || self.blocked.contains_key(&id)
    }

    /// Takes a waiting job out (to start it, or because it was cancelled).
    pub fn take(&mut self, id: JobId) -> Option<Queued> {
        self.arrays.remove(&id);
        self.take_out(id)
    }

    /// Takes a waiting job out, keeping an array's waiting tasks (to put it back).
    fn take_out(&mut self, id: JobId) -> Option<Queued> {
        self.reasons.remove(&id);
        self.waits_for.remove(&id);
        self.pending
            .remove(&id)
            .or_else(|| self.held.remove(&id))
            .or_else(|| self.blocked.remove(&id))
    }

    /// Takes a job out only if the scheduler considers it (not held).
    pub fn take_pending(&mut self, id: JobId) -> Option<Queued> {
        let q = self.pending.remove(&id)?;
        self.reasons.remove(&id);
        self.arrays.remove(&id);
        Some(q)
    }

    /// Whether a release of `id` would be accepted.
    pub fn may_release(&self, id: JobId) -> Result<(), NotHeld> {
        if self.held.contains_key(&id) {
            Ok(())
        } else if self.pending.contains_key(&id) {
            Err(NotHeld::Pending)
        } else {
            Err(NotHeld::NotPending)
        }
    }

    /// Whether a hold of `id` would be accepted: it waits, and is not held.
    pub fn may_hold(&self, id: JobId) -> Result<(), NotHeld> {
        if self.held.contains_key(&id) {
            Err(NotHeld::Pending)
        } else if self.contains(id) {
            Ok(())
        } else {
            Err(NotHeld::NotPending)
        }
    }

    /// Holds a waiting job: kept apart until released.
    pub fn hold(&mut self, id: JobId) {
        if let Some(mut q) = self.take_out(id) {
            q.held = true;
            self.held.insert(id, q);
        }
    }

    /// Releases a held job: the scheduler considers it from now on.
    pub fn release(&mut self, id: JobId) {
        if let Some(mut q) = self.held.remove(&id) {
            q.held = false;
            self.reasons.remove(&id);
            self.insert(q);
        }
    }

    /// Records the reasons the plan gives waiting jobs; returns those that
    /// changed (to be stored), for jobs still waiting.
    pub fn note_reasons(
        &mut self,
        waiting: impl IntoIterator<Item = (JobId, PendingReason)>,
    ) -> Vec<(JobId, PendingReason)> {
        waiting
            .into_iter()
            .filter(|(id, _)| self.pending.contains_key(id))
            .filter(|(id, r)| self.reasons.insert(*id, *r) != Some(*r))
            .collect()
    }

    /// The reason a job waits with, as last recorded.
    pub fn reason(&self, id: JobId) -> Option<PendingReason> {
        self.reasons.get(&id).copied()
    }

    /// The jobs the scheduler considers, by id.
    pub fn pending(&self) -> impl Iterator<Item = &Queued> {
        self.pending.values()
    }

    /// The held jobs, by id.
    pub fn held(&self) -> impl Iterator<Item = &Queued> {
        self.held.values()
    }

    /// How many wait (for the scheduler or for other jobs), and how many are held.
    pub fn counts(&self) -> (usize, usize) {
        (self.pending.len() + self.blocked.len(), self.held.len())
    }

    /// Whether any job waits for the scheduler or for other jobs.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || !self.blocked.is_empty()
    }

    /// Whether nothing waits at all.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.held.is_empty() && self.blocked.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(id: i64, held: bool) -> Queued {
        let mut q = crate::test_job(id, 0, 60);
        q.held = held;
        q.spec.hold = held;
        q
    }

    #[test]
    fn held_jobs_wait_apart_until_released() {
        let mut q = Queue::new();
        q.insert(queued(1, false));
        q.insert(queued(2, true));
        assert_eq!(
            q.pending().map(|j| j.id).collect::<Vec<_>>(),
            vec![JobId(1)]
        );
        assert_eq!(q.counts(), (1, 1));
        assert_eq!(q.may_release(JobId(1)), Err(NotHeld::Pending));
        assert_eq!(q.may_release(JobId(3)), Err(NotHeld::NotPending));
        assert_eq!(q.may_release(JobId(2)), Ok(()));
        q.release(JobId(2));
        assert_eq!(q.counts(), (2, 0));
        assert!(q.take_pending(JobId(2)).is_some_and(|j| !j.held));
    }

    #[test]
    fn only_changed_reasons_of_waiting_jobs_are_recorded() {
        let mut q = Queue::new();
        q.insert(queued(1, false));
        q.insert(queued(2, false));
        let first = q.note_reasons([
            (JobId(1), PendingReason::Resources),
            (JobId(2), PendingReason::Priority),
            (JobId(9), PendingReason::Priority),
        ]);
        assert_eq!(first.len(), 2, "job 9 does not wait here");
        let again = q.note_reasons([
            (JobId(1), PendingReason::Resources),
            (JobId(2), PendingReason::GrantExhausted),
        ]);
        assert_eq!(again, vec![(JobId(2), PendingReason::GrantExhausted)]);
        assert!(q.take(JobId(2)).is_some());
        assert_eq!(q.reason(JobId(2)), None);
    }
}
