//! Jobs that wait for their start time (`--begin`, reason `BeginTime`) or
//! for other jobs (`--dependency`, reason `Dependency`): each pass, the core
//! looks at the time and at what the jobs they name became, starts
//! considering those whose time has come and whose dependency holds, and
//! cancels those whose dependency never can (`DependencyNeverSatisfied`,
//! never run, their lien released).

use crate::core::Core;
use crate::effect::Effect;
use aisc_model::calendar::format_minute;
use aisc_model::dependency::{Seen, Verdict, verdict};
use aisc_model::{JobId, JobState, PendingReason, UserId};
use std::collections::{BTreeSet, HashMap, HashSet};

impl Core {
    /// The jobs that waiting jobs name, and that the core does not follow
    /// itself (it knows those that wait or run): the driver looks them up.
    pub fn dependency_targets(&self) -> BTreeSet<JobId> {
        self.queue
            .blocked()
            .filter_map(|q| q.spec.dependency.as_ref())
            .flat_map(|d| d.jobs())
            .filter(|id| {
                !self.queue.contains(*id)
                    && !self.running.contains(*id)
                    && self.running.tasks_of(*id) == 0
            })
            .collect()
    }

    /// Decides about every job waiting for others, given what `ended` says
    /// of the jobs the core does not follow (absent: not known now, so it
    /// waits). Returns the steps: reasons to store, cancellations.
    pub fn dependencies(&mut self, ended: &HashMap<JobId, Seen>, now_ms: i64) -> Vec<Effect> {
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
        let seen = |id: JobId| {
            // An array waits while any task of it is admitted here.
            if self.queue.contains(id) || self.running.tasks_of(id) > 0 {
                return Some(Seen::Waiting);
            }
            match self.running.get(id) {
                Some(a) if a.started => Some(Seen::Running(a.start_ms)),
                Some(_) => Some(Seen::Waiting),
                None => ended.get(&id).copied(),
            }
        };
        let mut decided = Vec::new();
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
            decided.push((
                q.id,
                verdict(dep, seen, namesake, now_ms),
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
        steps
    }
}

#[cfg(test)]
mod tests;
