//! The jobs admitted to an engine: waiting in its own queue, running, or
//! being stopped; what each holds, since when, and until when.

use crate::Queued;
use crate::stops::{self, Due, Stop};
use aisc_model::job::Charging;
use aisc_model::{JobId, JobState, ProjectId, Qos, Resources};
use aisc_sched::Placement;
use std::collections::HashMap;

/// An admitted job.
#[derive(Debug, Clone)]
pub struct Active {
    /// Where it runs (as the scheduler counts it).
    pub placement: Placement,
    /// What it asked for.
    pub resources: Resources,
    /// When it started (or was admitted, until it starts), epoch ms.
    pub start_ms: i64,
    /// Its start plus its time limit, epoch ms.
    pub deadline_ms: i64,
    /// The stop in progress, if it is being stopped.
    pub kill: Option<Stop>,
    /// The project it is charged to.
    pub project: Option<ProjectId>,
    /// Its grant, price and lien.
    pub charging: Option<Charging>,
    /// Its QOS.
    pub qos: Qos,
    /// The engine reported it running (else it waits in the engine's own queue).
    pub started: bool,
    /// It ended in the engine and holds nothing there; its end is being read.
    pub released: bool,
    /// The engine's own id for it, once known.
    pub engine_id: Option<i64>,
    /// The job as it was queued, until it starts: queued again if the engine
    /// could not take it for now.
    pub queued: Option<Box<Queued>>,
    /// Its logs are on this host: sealed when it ends.
    pub logs_here: bool,
    /// The signal to send before its time limit (`--signal`), until it is sent.
    pub warn: Option<aisc_model::signal::Warning>,
    /// Its submitter and name (`--dependency=singleton`).
    pub owner: aisc_model::UserId,
    /// Its name.
    pub name: String,
    /// The array it is a task of (`%N` counts its running tasks).
    pub array: Option<JobId>,
    /// It waits again, keeping its id, when it is preempted (`--requeue`,
    /// the default); `aisc requeue` is refused with `--no-requeue`.
    pub requeue: bool,
}

impl Active {
    /// A job admitted at `now_ms`, not started yet.
    pub fn admitted(q: Queued, placement: Placement, now_ms: i64) -> Self {
        let limit_ms = i64::try_from(q.spec.time_limit_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        Active {
            placement,
            resources: q.spec.resources,
            start_ms: now_ms,
            deadline_ms: now_ms.saturating_add(limit_ms),
            kill: None,
            project: q.project,
            charging: q.charging,
            qos: q.spec.qos,
            started: false,
            released: false,
            engine_id: None,
            warn: q.spec.signal,
            owner: q.owner,
            name: q.spec.name.clone(),
            array: q.spec.task_of.map(|t| t.array),
            requeue: q.spec.requeue,
            queued: Some(Box::new(q)),
            logs_here: false,
        }
    }

    /// The engine says it started at `at_ms` (on `placement`, where the
    /// engine placed it): its deadline moves with its start. False when it
    /// was known to run already (nothing to record).
    pub fn start(
        &mut self,
        at_ms: i64,
        placement: Option<Placement>,
        engine_id: Option<i64>,
        logs_here: bool,
    ) -> bool {
        if self.started {
            return false;
        }
        if let Some(p) = placement {
            self.placement = p;
        }
        self.started = true;
        self.queued = None;
        self.logs_here = logs_here;
        if engine_id.is_some() {
            self.engine_id = engine_id;
        }
        let limit = self.deadline_ms.saturating_sub(self.start_ms);
        self.start_ms = at_ms;
        self.deadline_ms = at_ms.saturating_add(limit);
        true
    }

    /// Whether it holds resources as the scheduler counts them: once the
    /// engine runs it, until the engine lets go. Jobs waiting in an engine's
    /// own queue are bounded by its queue depth instead.
    pub fn occupies(&self) -> bool {
        self.started && !self.released
    }
}

/// The admitted jobs.
#[derive(Debug, Default)]
pub struct Running {
    jobs: HashMap<JobId, Active>,
    /// How many tasks of each array are admitted.
    per_array: HashMap<JobId, u32>,
}

impl Running {
    /// None yet.
    pub fn new() -> Self {
        Running::default()
    }

    /// Follows an admitted job.
    pub fn insert(&mut self, id: JobId, a: Active) {
        let array = a.array;
        if let Some(old) = self.jobs.insert(id, a) {
            self.uncount(old.array);
        }
        if let Some(array) = array {
            *self.per_array.entry(array).or_default() += 1;
        }
    }

    fn uncount(&mut self, array: Option<JobId>) {
        if let Some(array) = array
            && let Some(n) = self.per_array.get_mut(&array)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_array.remove(&array);
            }
        }
    }

    /// How many tasks of `array` are admitted (running, starting or stopping).
    pub fn tasks_of(&self, array: JobId) -> u32 {
        self.per_array.get(&array).copied().unwrap_or(0)
    }

    /// The job, if admitted.
    pub fn get(&self, id: JobId) -> Option<&Active> {
        self.jobs.get(&id)
    }

    /// The job, if admitted, to change.
    pub fn get_mut(&mut self, id: JobId) -> Option<&mut Active> {
        self.jobs.get_mut(&id)
    }

    /// Stops following a job (it ended, or went back to the queue).
    pub fn remove(&mut self, id: JobId) -> Option<Active> {
        let a = self.jobs.remove(&id)?;
        self.uncount(a.array);
        Some(a)
    }

    /// Whether the job is admitted.
    pub fn contains(&self, id: JobId) -> bool {
        self.jobs.contains_key(&id)
    }

    /// How many are admitted.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Every admitted job.
    pub fn iter(&self) -> impl Iterator<Item = (JobId, &Active)> {
        self.jobs.iter().map(|(id, a)| (*id, a))
    }

    /// Those that hold resources as the scheduler counts them.
    pub fn occupying(&self) -> impl Iterator<Item = (JobId, &Active)> {
        self.iter().filter(|(_, a)| a.occupies())
    }

    /// How many wait in the engine's own queue.
    pub fn waiting_in_engine(&self) -> usize {
        self.jobs
            .values()
            .filter(|a| !a.started && !a.released)
            .count()
    }

    /// Whether a stop may begin for the job (it is admitted and not being stopped).
    pub fn may_stop(&self, id: JobId) -> bool {
        self.jobs.get(&id).is_some_and(|a| a.kill.is_none())
    }

    /// Records a stop that began at `now_ms`; false if the job is not admitted.
    pub fn stop(&mut self, id: JobId, state: JobState, reason: String, now_ms: i64) -> bool {
        let Some(a) = self.jobs.get_mut(&id) else {
            return false;
        };
        a.kill = Some(Stop {
            state,
            reason,
            term_at_ms: now_ms,
            kill_sent: false,
        });
        true
    }

    /// What falls due now where aisc enforces limits (time limits to stop,
    /// grace periods run out).
    pub fn due(&self, now_ms: i64, grace_ms: i64) -> Vec<(JobId, Due)> {
        self.iter()
            .filter_map(|(id, a)| {
                stops::due(now_ms, a.start_ms, a.deadline_ms, a.kill.as_ref(), grace_ms)
                    .or_else(|| {
                        let w = a.warn.filter(|_| a.started && a.kill.is_none())?;
                        (now_ms >= warn_at(a.deadline_ms, w)).then_some(Due::Warn(w))
                    })
                    .map(|d| (id, d))
            })
            .collect()
    }

    /// Notes that the job's warning is sent (it is sent once).
    pub fn warned(&mut self, id: JobId) {
        if let Some(a) = self.jobs.get_mut(&id) {
            a.warn = None;
        }
    }

    /// Notes that SIGKILL is sent to the job; false if it is not being stopped.
    pub fn killed(&mut self, id: JobId) -> bool {
        match self.jobs.get_mut(&id).and_then(|a| a.kill.as_mut()) {
            Some(k) => {
                k.kill_sent = true;
                true
            }
            None => false,
        }
    }

    /// When something next falls due, epoch ms.
    pub fn next_due(&self, grace_ms: i64) -> Option<i64> {
        self.jobs
            .values()
            .map(|a| {
                let stop = stops::next_due(a.deadline_ms, a.kill.as_ref(), grace_ms);
                match a.warn.filter(|_| a.started && a.kill.is_none()) {
                    Some(w) => stop.min(warn_at(a.deadline_ms, w)),
                    None => stop,
                }
            })
            .min()
    }
}

/// When a job's warning falls due: that long before its deadline.
fn warn_at(deadline_ms: i64, w: aisc_model::signal::Warning) -> i64 {
    let before = i64::try_from(w.before_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    deadline_ms.saturating_sub(before)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(id: i64, limit_s: u64) -> Queued {
        crate::test_job(id, 1, limit_s)
    }

    #[test]
    fn a_job_waiting_in_the_engine_counts_from_its_start_not_its_admission() {
        let mut r = Running::new();
        let empty = Placement { allocs: Vec::new() };
        r.insert(JobId(1), Active::admitted(queued(1, 60), empty, 1_000));
        assert_eq!(r.waiting_in_engine(), 1);
        assert_eq!(r.occupying().count(), 0);
        // The engine started it 30 s after its admission: the limit counts from then.
        let a = r.get_mut(JobId(1)).expect("admitted");
        assert!(a.start(31_000, None, Some(7), false));
        assert!(
            !a.start(32_000, None, None, false),
            "a second start is not news"
        );
        assert_eq!(
            (a.start_ms, a.deadline_ms, a.engine_id),
            (31_000, 91_000, Some(7))
        );
        assert!(a.queued.is_none());
        assert_eq!(r.occupying().count(), 1);
        assert!(r.due(90_999, 10_000).is_empty());
        let due = r.due(91_000, 10_000);
        assert!(matches!(due.as_slice(), [(JobId(1), Due::TimeLimit(_))]));
        assert_eq!(r.next_due(10_000), Some(91_000));
    }

    #[test]
    fn a_stop_is_recorded_once_and_killed_after_the_grace() {
        let mut r = Running::new();
        let empty = Placement { allocs: Vec::new() };
        r.insert(JobId(2), Active::admitted(queued(2, 600), empty, 0));
        assert!(r.may_stop(JobId(2)));
        assert!(r.stop(
            JobId(2),
            JobState::Cancelled,
            "cancelled by ann".into(),
            5_000
        ));
        assert!(!r.may_stop(JobId(2)));
        assert!(!r.stop(JobId(9), JobState::Cancelled, "x".into(), 5_000));
        assert_eq!(r.next_due(10_000), Some(15_000));
        assert!(matches!(
            r.due(15_000, 10_000).as_slice(),
            [(JobId(2), Due::Kill)]
        ));
        assert!(r.killed(JobId(2)));
        assert!(r.due(99_000, 10_000).is_empty());
    }
}
