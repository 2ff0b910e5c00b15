//! The steps ([`Effect`]s) of what the core decides: an admission (its lien,
//! then `admitted`, then the engine's start), an end (its start where it was
//! never reported, its settlement, its fair-share usage, a requeue, its
//! state, then the engine's release), a stop (its reason, then the signal),
//! a job the engine could not start.

use crate::Queued;
use crate::core::{Core, Finish, NotStarted};
use crate::effect::Effect;
use crate::running::Active;
use crate::stops::Due;
use aisc_model::engine::{Admission, How, StartJob};
use aisc_model::job::{Charging, Fields};
use aisc_model::{JobId, JobState, ProjectId};
use aisc_sched::Placement;

/// A planned job, with what the driver looked up for the engine.
#[derive(Debug, Clone)]
pub struct Admit {
    /// The job, as it waited.
    pub queued: Queued,
    /// Where the plan put it.
    pub placement: Placement,
    /// What the engine needs to start it.
    pub start: StartJob,
    /// What the engine says of it once admitted.
    pub admission: Admission,
    /// Why the engine could never start it (a Unix account it needs and the
    /// user lacks), if so.
    pub refused: Option<String>,
}

impl Core {
    /// Admits a planned job (taken out of the queue by
    /// [`Core::hand_over`]): refused, it fails without having run; with a
    /// grant, its lien is held first ([`Effect::HoldLien`], answered with
    /// [`Core::lien`]); then it is stored `admitted` and handed to the engine.
    pub fn admit(&mut self, a: Admit, now_ms: i64) -> Vec<Effect> {
        let job = a.queued.id;
        if let Some(reason) = a.refused {
            // A lien left by an admission a crash interrupted is released.
            let held = (a.queued.charging, a.queued.project);
            let states = (JobState::Pending, JobState::Failed);
            return never_ran(job, held, states, reason, now_ms, None);
        }
        match a.queued.charging {
            Some(charging) => {
                self.admitting.insert(job, (Box::new(a), now_ms));
                vec![Effect::HoldLien { job, charging }]
            }
            None => self.admitted(a, now_ms),
        }
    }

    /// The answer to [`Effect::HoldLien`]: held, the job is admitted; not,
    /// it waits again with `GrantExhausted`.
    pub fn lien(&mut self, job: JobId, held: bool) -> Vec<Effect> {
        let Some((a, now_ms)) = self.admitting.remove(&job) else {
            return Vec::new();
        };
        if held {
            return self.admitted(*a, now_ms);
        }
        self.lien_refused(a.queued);
        vec![Effect::Reasons(vec![(job, "GrantExhausted".into())])]
    }

    /// An admission whose steps failed part-way (the store refused one): it
    /// is forgotten here, as a restart would find it (its lien, if held, is
    /// released when the job is next admitted or cancelled).
    pub fn admission_failed(&mut self, job: JobId) {
        self.admitting.remove(&job);
        if self.running.get(job).is_some_and(|a| !a.started) {
            self.running.remove(job);
        }
    }

    fn admitted(&mut self, a: Admit, now_ms: i64) -> Vec<Effect> {
        let job = a.queued.id;
        let set = Fields {
            node: a.admission.node,
            gpu_ids: a.admission.gpu_ids,
            engine_submit_ms: a.admission.handed_over.then_some(now_ms),
            ..Default::default()
        };
        self.running
            .insert(job, Active::admitted(a.queued, a.placement, now_ms));
        vec![
            Effect::record(
                job,
                (JobState::Pending, JobState::Admitted),
                a.admission.reason,
                now_ms,
                set,
            ),
            Effect::Start(Box::new(a.start)),
        ]
    }

    /// Stops an admitted job: its reason stored first, then SIGTERM (or the
    /// engine's cancel). Nothing for a job not admitted.
    pub fn stop(
        &mut self,
        job: JobId,
        state: JobState,
        reason: String,
        now_ms: i64,
    ) -> Vec<Effect> {
        if !self.running.stop(job, state, reason.clone(), now_ms) {
            return Vec::new();
        }
        vec![
            Effect::StopReason { job, state, reason },
            Effect::Signal {
                job,
                how: How::Term,
            },
        ]
    }

    /// The steps of what falls due at `now_ms`: stops at time limits,
    /// SIGKILL after the grace.
    pub fn on_tick(&mut self, now_ms: i64) -> Vec<(JobId, Vec<Effect>)> {
        let mut out = Vec::new();
        for (job, due) in self.due(now_ms) {
            let steps = match due {
                Due::TimeLimit(s) => self.stop(job, s.state, s.reason, now_ms),
                Due::Kill if self.running.killed(job) => vec![Effect::Signal {
                    job,
                    how: How::Kill,
                }],
                Due::Kill => Vec::new(),
                Due::Warn(w) => {
                    self.running.warned(job);
                    let how = if w.batch_only {
                        How::SignalBatch(w.signal)
                    } else {
                        How::Signal(w.signal)
                    };
                    vec![Effect::Signal { job, how }]
                }
            };
            out.push((job, steps));
        }
        out
    }

    /// The engine reports its own id for `job`: stored; a stop asked for
    /// before the engine knew the job is sent again.
    pub fn accepted(&mut self, job: JobId, engine_id: i64) -> Vec<Effect> {
        let mut out = Vec::new();
        if let Some(a) = self.running.get_mut(job) {
            a.engine_id = Some(engine_id);
            if a.kill.is_some() {
                out.push(Effect::Signal {
                    job,
                    how: How::Term,
                });
            }
        }
        out.push(Effect::EngineJob { job, engine_id });
        out
    }

    /// The steps after the engine could not start `job` (see [`Core::not_started`]).
    pub fn on_not_started(
        &mut self,
        job: JobId,
        reason: String,
        retry: bool,
        now_ms: i64,
    ) -> Vec<Effect> {
        match self.not_started(job, retry) {
            NotStarted::Unknown => Vec::new(),
            // Reported running, then refused by the launcher: it used nothing.
            NotStarted::Started(a) => {
                let set = Fields {
                    end_ms: Some(now_ms),
                    wall_ms: Some(0),
                    gpu_ms: Some(0),
                    cpu_ms: Some(0),
                    ..Default::default()
                };
                let mut out = ran_to_end(job, &a, JobState::Failed, reason, set);
                out.push(Effect::Release { job });
                out
            }
            NotStarted::Requeued => vec![Effect::record(
                job,
                (JobState::Admitted, JobState::Pending),
                reason,
                now_ms,
                Fields::default(),
            )],
            NotStarted::NeverRan(q) => {
                let states = (JobState::Admitted, JobState::Failed);
                never_ran(job, (q.charging, q.project), states, reason, now_ms, None)
            }
        }
    }
}

impl Finish {
    /// The steps that record this end.
    pub fn effects(self, job: JobId) -> Vec<Effect> {
        let Finish {
            active,
            state,
            reason,
            end_ms,
            usage,
            exit: (exit_code, signal),
            never_ran: unrun,
            ran,
        } = self;
        if unrun {
            let held = (active.charging, active.project);
            let states = (JobState::Admitted, state);
            return never_ran(job, held, states, reason, end_ms, active.engine_id);
        }
        let again = requeued(state, &active);
        let mut out = Vec::new();
        if let Some(ran) = ran {
            let set = Fields {
                start_ms: Some(ran.at_ms),
                node: Some(ran.node),
                engine_job_id: active.engine_id,
                ..Default::default()
            };
            out.push(Effect::record(
                job,
                (JobState::Admitted, JobState::Running),
                ran.reason,
                ran.at_ms,
                set,
            ));
        }
        let set = Fields {
            end_ms: Some(end_ms),
            exit_code,
            signal,
            wall_ms: Some(usage.wall_ms),
            gpu_ms: Some(usage.gpu_ms),
            cpu_ms: Some(usage.cpu_ms),
            ..Default::default()
        };
        out.extend(ran_to_end(job, &active, state, reason, set));
        out.push(Effect::Release { job });
        // A requeued job's logs go on with its next run: sealed when it ends for good.
        if active.logs_here && !again {
            out.push(Effect::SealLogs { job });
        }
        out
    }
}

/// Whether a run that ended in `state` is requeued: asked for (`aisc
/// requeue`: the stop's state is `pending`), or preempted and `--requeue`.
fn requeued(state: JobState, a: &Active) -> bool {
    state == JobState::Pending || (state == JobState::Preempted && a.requeue)
}

/// The steps of a job that ends without having run: any lien it holds
/// released (nothing charged), then `from → to` at `at_ms` (with the
/// engine's id for it, where it had one).
pub(crate) fn never_ran(
    job: JobId,
    (charging, project): (Option<Charging>, Option<ProjectId>),
    (from, to): (JobState, JobState),
    reason: String,
    at_ms: i64,
    engine_id: Option<i64>,
) -> Vec<Effect> {
    let set = Fields {
        end_ms: Some(at_ms),
        engine_job_id: engine_id,
        ..Default::default()
    };
    // Requeued before it ran: its run's lien is released, and the next run is
    // numbered one more (as a run that ran).
    Effect::settle(job, charging, project, 0)
        .into_iter()
        .chain([Effect::end_of_run(job, (from, to), reason, at_ms, set)])
        .collect()
}

/// A running job's end: settled first (if the server dies before the
/// transition, the next start finishes it again and the store refuses the
/// second settlement of the run), its usage counted for fair share, then its
/// state; or, requeued (asked for, or preempted with `--requeue`), back to
/// pending with its id for its next run.
fn ran_to_end(job: JobId, a: &Active, state: JobState, reason: String, set: Fields) -> Vec<Effect> {
    let gpu_ms = set.gpu_ms.unwrap_or(0);
    let end_ms = set.end_ms.unwrap_or(a.start_ms);
    let mut out: Vec<Effect> = Effect::settle(job, a.charging, a.project, gpu_ms)
        .into_iter()
        .collect();
    if let Some(project) = a.project {
        out.push(Effect::FairShare {
            project,
            gpu_ms,
            at_ms: end_ms,
        });
    }
    let (to, reason) = match (requeued(state, a), state) {
        (true, JobState::Preempted) => (JobState::Pending, format!("{reason}; requeued")),
        (true, _) => (JobState::Pending, reason),
        (false, _) => (state, reason),
    };
    out.push(Effect::end_of_run(
        job,
        (JobState::Running, to),
        reason,
        end_ms,
        set,
    ));
    out
}

#[cfg(test)]
mod tests;
