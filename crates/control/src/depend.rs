//! Jobs that wait for their start time (`--begin`, reason `BeginTime`) or
//! for other jobs (`--dependency`, reason `Dependency`): each pass, the core
//! looks at the time and at what the jobs they name became, starts
//! considering those whose time has come and whose dependency holds, and
//! cancels those whose dependency never can (`DependencyNeverSatisfied`,
//! never run, their lien released). An array with `aftercorr` waits whole;
//! each of its tasks whose pair has ended is split off as a job of its own
//! ([`Effect::SplitTask`]), then decided as any job is.

/// Tasks split off waiting `aftercorr` arrays in one pass, at most (the
/// rest in the next passes).
const SPLITS_PER_PASS: usize = 1000;

use crate::core::Core;
use crate::effect::Effect;
use aisc_model::array::JobRef;
use aisc_model::array::Tasks;
use aisc_model::calendar::format_minute;
use aisc_model::dependency::{Dependency, Seen, Verdict, verdict};
use aisc_model::{JobId, JobState, PendingReason, UserId};
use std::collections::{BTreeSet, HashMap, HashSet};

impl Core {
    /// The jobs that waiting jobs name, and that the core does not follow
    /// itself (it knows those that wait or run, and the tasks that still
    /// wait with their array): the driver looks them up. A waiting array
    /// with `aftercorr` names, for each of its waiting tasks, the same task
    /// of the array it waits for.
    pub fn dependency_targets(&self) -> BTreeSet<JobRef> {
        let mut out = BTreeSet::new();
        for q in self.queue.blocked() {
            let Some(dep) = &q.spec.dependency else {
                continue;
            };
            let own = q.spec.task_of.map(|t| t.task);
            match self.paired_tasks(q.id, dep) {
                Some(tasks) => {
                    for t in tasks.ids() {
                        out.extend(dep.targets(Some(*t)));
                    }
                }
                None => out.extend(dep.targets(own)),
            }
        }
        out.retain(|r| self.known(*r).is_none());
        out
    }

    /// The waiting tasks of `id`, where it is an array whose tasks are
    /// decided one by one (`aftercorr`).
    fn paired_tasks(&self, id: JobId, dep: &Dependency) -> Option<&Tasks> {
        self.queue.array_waiting(id).filter(|_| dep.pairs_tasks())
    }

    /// What the core itself knows of `r`: waiting (in the queue, or a task
    /// still waiting with its array), or admitted; `None` for what only
    /// the store knows.
    fn known(&self, r: JobRef) -> Option<Seen> {
        match r.task {
            Some(t) => self
                .queue
                .array_waiting(r.id)
                .is_some_and(|w| w.contains(t))
                .then_some(Seen::Waiting),
            None => {
                // An array waits while any task of it is admitted here.
                if self.queue.contains(r.id) || self.running.tasks_of(r.id) > 0 {
                    return Some(Seen::Waiting);
                }
                match self.running.get(r.id) {
                    Some(a) if a.started => Some(Seen::Running(a.start_ms)),
                    Some(_) => Some(Seen::Waiting),
                    None => None,
                }
            }
        }
    }

    /// Decides about every job waiting for others, given what `ended` says
    /// of the jobs the core does not follow (absent: not known now, so it
    /// waits). Returns the steps: reasons to store, cancellations.
    pub fn dependencies(&mut self, ended: &HashMap<JobRef, Seen>, now_ms: i64) -> Vec<Effect> {
        // Namesakes only where a waiting job asks for singleton: the
        // whole queue is walked then, not at every pass.
        let singleton = self
            .queue
            .blocked()
            .any(|q| q.spec.dependency.as_ref().is_some_and(|d| d.singleton));
        let mut running: HashSet<(UserId, &str)> = HashSet::new();
        let mut first_waiting: HashMap<(UserId, &str), JobId> = HashMap::new();
        if singleton {
            running.extend(self.running.iter().map(|(_, a)| (a.owner, a.name.as_str())));
            for q in self
                .queue
                .pending()
                .chain(self.queue.held())
                .chain(self.queue.blocked())
            {
                let e = first_waiting
                    .entry((q.owner, q.spec.name.as_str()))
                    .or_insert(q.id);
                *e = (*e).min(q.id);
            }
        }
        let seen = |r: JobRef| self.known(r).or_else(|| ended.get(&r).copied());
        let mut decided = Vec::new();
        let mut splits = Vec::new();
        for q in self.queue.blocked() {
            if let Some(at) = q.spec.begin_ms.filter(|at| *at > now_ms) {
                let on = format!(
                    "its start time (--begin), {} (Hong Kong)",
                    format_minute(at)
                );
                decided.push((
                    q.id,
                    Verdict::Wait {
                        on,
                        until_ms: Some(at),
                    },
                    PendingReason::BeginTime,
                ));
                continue;
            }
            let Some(dep) = &q.spec.dependency else {
                decided.push((q.id, Verdict::Ready, PendingReason::Dependency));
                continue;
            };
            let key = (q.owner, q.spec.name.as_str());
            let namesake =
                running.contains(&key) || first_waiting.get(&key).is_some_and(|f| *f < q.id);
            if let Some(tasks) = self.paired_tasks(q.id, dep) {
                // Each task whose pair has ended is decided as a job of its own.
                for t in tasks.ids() {
                    if splits.len() >= SPLITS_PER_PASS {
                        break;
                    }
                    if !matches!(
                        verdict(dep, seen, Some(*t), namesake, now_ms),
                        Verdict::Wait { .. }
                    ) {
                        splits.push((q.id, *t));
                    }
                }
            }
            let own = q.spec.task_of.map(|t| t.task);
            decided.push((
                q.id,
                verdict(dep, seen, own, namesake, now_ms),
                PendingReason::Dependency,
            ));
        }
        let mut steps = Vec::new();
        let mut reasons = Vec::new();
        for (id, v, why) in decided {
            match v {
                Verdict::Ready => self.queue.unblock(id),
                Verdict::Wait { on, .. } => {
                    if self.queue.note_waits_for(id, on, why) {
                        reasons.push((id, why.to_string()));
                    }
                }
                Verdict::Never(why) => {
                    let Some(q) = self.queue.take(id) else {
                        continue;
                    };
                    steps.extend(crate::steps::never_ran(
                        id,
                        (q.charging, q.project),
                        (JobState::Pending, JobState::Cancelled),
                        format!("DependencyNeverSatisfied: {why}"),
                        now_ms,
                        None,
                    ));
                }
            }
        }
        if !reasons.is_empty() {
            steps.insert(0, Effect::Reasons(reasons));
        }
        steps.extend(
            splits
                .into_iter()
                .map(|(array, task)| Effect::SplitTask { array, task }),
        );
        steps
    }
}

#[cfg(test)]
mod tests;
