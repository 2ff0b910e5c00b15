//! The lifecycle core: the waiting and admitted jobs and every decision
//! about them, synchronous and without I/O. Each method takes what happened
//! (and `now`, where time matters) and answers what to do, as a decision or
//! as the steps to take ([`crate::effect::Effect`], built in
//! [`crate::steps`]); the loop in `aisc-server` takes them in order and
//! reports back what its I/O answered (a lien the grant could not cover).

use crate::Queued;
use crate::arrays::Split;
use crate::ending;
use crate::handover;
use crate::queue::Queue;
use crate::running::{Active, Running};
use crate::stops::Due;
use aisc_billing::Usage;
use aisc_model::engine::{End, Ran};
use aisc_model::{JobId, JobState, PendingReason};
use aisc_sched::{Placement, Plan};
use std::collections::HashMap;

/// What the engine can do, as far as the core's decisions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineTerms {
    /// aisc signals jobs at their limit and kills them after the grace.
    pub limits_by_aisc: bool,
    /// Jobs it may hold in a queue of its own (`None`: it starts only what is placed).
    pub queue_depth: Option<usize>,
    /// Between SIGTERM and SIGKILL, ms.
    pub grace_ms: i64,
}

/// What to do about a cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    /// It waits: record it cancelled with this reason, then take it out of the queue.
    Pending {
        /// The reason.
        reason: String,
    },
    /// It is admitted: record the stop's reason, then stop it.
    Stop {
        /// The reason.
        reason: String,
    },
    /// It is being stopped already.
    AlreadyStopping,
    /// It neither waits nor runs.
    NotActive,
}

/// Why a requeue is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRequeue {
    /// It waits: it has no run to end.
    Waiting,
    /// It is being stopped already.
    Stopping,
    /// It neither waits nor runs.
    NotActive,
    /// It was submitted with `--no-requeue`.
    NotRequeueable,
}

/// What to do about a job the engine could not start.
#[derive(Debug)]
pub enum NotStarted {
    /// Not a job the core follows.
    Unknown,
    /// It had been reported running (the launcher refused it after the
    /// spawn): it ends failed, having used nothing.
    Started(Box<Active>),
    /// The engine cannot take it now: back to `pending`, waiting with
    /// `EngineUnavailable` (already queued again here).
    Requeued,
    /// The engine refused it: it fails, its lien released, never having run.
    NeverRan(Box<Queued>),
}

/// How an admitted job ended, decided.
#[derive(Debug)]
pub struct Finish {
    /// The job as it was followed (its lien, project, engine id ...).
    pub active: Active,
    /// The state it ends in.
    pub state: JobState,
    /// Why, with what the end adds.
    pub reason: String,
    /// When, epoch ms.
    pub end_ms: i64,
    /// What it used (zero when it never ran).
    pub usage: Usage,
    /// Its exit status and signal.
    pub exit: (Option<i32>, Option<i32>),
    /// It never ran: recorded from `admitted` straight to `state`.
    pub never_ran: bool,
    /// It ran though its start was never reported: record the start first.
    pub ran: Option<Ran>,
}

/// The core's state.
#[derive(Debug)]
pub struct Core {
    /// The waiting jobs.
    pub queue: Queue,
    /// The admitted jobs.
    pub running: Running,
    /// Admissions waiting for their lien ([`crate::effect::Effect::HoldLien`]), with when they began.
    pub(crate) admitting: HashMap<JobId, (Box<crate::steps::Admit>, i64)>,
    terms: EngineTerms,
}

impl Core {
    /// An empty core for an engine with `terms`.
    pub fn new(terms: EngineTerms) -> Self {
        Core {
            queue: Queue::new(),
            running: Running::new(),
            admitting: HashMap::new(),
            terms,
        }
    }

    /// The engine's terms.
    pub fn terms(&self) -> EngineTerms {
        self.terms
    }

    /// What a cancel by `by` of `id` comes to (nothing changes yet: the loop
    /// records it first, then applies it with [`Queue::take`] or
    /// [`Running::stop`]).
    pub fn cancel(&self, id: JobId, by: &str) -> Cancel {
        let reason = format!("cancelled by {by}");
        if self.queue.contains(id) {
            return Cancel::Pending { reason };
        }
        match self.running.get(id) {
            None => Cancel::NotActive,
            Some(a) if a.kill.is_some() => Cancel::AlreadyStopping,
            Some(_) => Cancel::Stop { reason },
        }
    }

    /// What a requeue by `by` of `id` comes to: the reason of the stop that
    /// ends its run (stopped with the state `pending`, it waits again with
    /// its id, see [`crate::steps`]), or why it is refused.
    pub fn requeue(&self, id: JobId, by: &str) -> Result<String, NoRequeue> {
        if self.queue.contains(id) {
            return Err(NoRequeue::Waiting);
        }
        match self.running.get(id) {
            None => Err(NoRequeue::NotActive),
            Some(a) if a.kill.is_some() => Err(NoRequeue::Stopping),
            Some(a) if !a.requeue => Err(NoRequeue::NotRequeueable),
            Some(_) => Ok(format!("requeued by {by}")),
        }
    }

    /// What falls due at `now_ms` (nothing where the engine enforces limits).
    pub fn due(&self, now_ms: i64) -> Vec<(JobId, Due)> {
        if self.terms.limits_by_aisc {
            self.running.due(now_ms, self.terms.grace_ms)
        } else {
            Vec::new()
        }
    }

    /// When something next falls due, epoch ms.
    pub fn next_due(&self) -> Option<i64> {
        self.terms
            .limits_by_aisc
            .then(|| self.running.next_due(self.terms.grace_ms))
            .flatten()
    }

    /// The scavenger jobs a plan preempts that are not being stopped yet,
    /// with the reason each is stopped for.
    pub fn preemptions(&self, plan: &Plan) -> Vec<(JobId, String)> {
        plan.preempt
            .iter()
            .filter(|p| self.running.may_stop(p.id))
            .map(|p| {
                let reason = format!(
                    "preempted for job {} (guaranteed work needs its GPUs)",
                    p.for_job
                );
                (p.id, reason)
            })
            .collect()
    }

    /// The jobs to admit now, taken out of the queue: those the plan started,
    /// then, where the engine keeps a queue of its own, the next waiting ones
    /// in priority order while fewer than its depth wait there. Each must be
    /// admitted ([`Running::insert`]) or queued again ([`Core::lien_refused`]).
    /// A start of a waiting array is its next task, with the [`Split`] that
    /// the store must record first (the task's own record).
    pub fn hand_over(&mut self, plan: &Plan) -> Vec<(Queued, Placement, Option<Split>)> {
        let depth = self.terms.queue_depth;
        let mut room = handover::room(depth, self.running.waiting_in_engine());
        let next = plan
            .waiting
            .iter()
            .filter(|(_, r)| depth.is_some() && handover::may_wait_in_engine(*r))
            .map(|(id, _)| (*id, Placement { allocs: Vec::new() }));
        let order = plan
            .starts
            .iter()
            .map(|s| (s.id, s.placement.clone()))
            .chain(next);
        let mut out = Vec::new();
        for (id, placement) in order {
            if room == 0 {
                break;
            }
            if self.queue.array_waiting(id).is_some() {
                // An array: each start is its next waiting task.
                let Some((task, split)) = self.split_next(id) else {
                    continue;
                };
                room -= 1;
                out.push((task, placement, Some(split)));
                continue;
            }
            let Some(q) = self.queue.take_pending(id) else {
                continue;
            };
            room -= 1;
            out.push((q, placement, None));
        }
        out
    }

    /// Its grant could not cover the job's lien: it waits again with `GrantExhausted`.
    pub fn lien_refused(&mut self, q: Queued) {
        self.queue.wait(q, PendingReason::GrantExhausted);
    }

    /// The engine could not start `job`; with `retry`, it cannot take it now.
    pub fn not_started(&mut self, job: JobId, retry: bool) -> NotStarted {
        let Some(mut a) = self.running.remove(job) else {
            return NotStarted::Unknown;
        };
        if a.started {
            return NotStarted::Started(Box::new(a));
        }
        let Some(q) = a.queued.take() else {
            return NotStarted::Unknown;
        };
        if retry {
            self.queue.wait(*q, PendingReason::EngineUnavailable);
            NotStarted::Requeued
        } else {
            NotStarted::NeverRan(q)
        }
    }

    /// `job` ended as `end` says (at `now_ms` when the engine gives no time).
    pub fn ended(&mut self, job: JobId, end: End, now_ms: i64) -> Option<Finish> {
        let active = self.running.remove(job)?;
        Some(self.finish(active, end, now_ms))
    }

    /// How `active` ended, decided: state and reason, whether it ran, when it
    /// ended and what it used (see [`ending`]).
    pub fn finish(&self, mut active: Active, end: End, now_ms: i64) -> Finish {
        let stop = active.kill.as_ref().map(|k| (k.state, k.reason.as_str()));
        let (state, reason) = ending::outcome(&end, stop);
        let end_ms = end.at_ms.unwrap_or(now_ms);
        let mut ran = None;
        if !active.started {
            match end.ran {
                None => {
                    return Finish {
                        end_ms: end_ms.max(active.start_ms),
                        active,
                        state: ending::never_ran(state),
                        reason,
                        usage: Usage::default(),
                        exit: (end.exit_code, end.signal),
                        never_ran: true,
                        ran: None,
                    };
                }
                Some(r) => {
                    active.start_ms = r.at_ms;
                    ran = Some(r);
                }
            }
        }
        let end_ms = end_ms.max(active.start_ms);
        let usage = ending::usage(end.measured, &active.resources, active.start_ms, end_ms);
        let overrun = self
            .terms
            .limits_by_aisc
            .then(|| end_ms - active.deadline_ms - self.terms.grace_ms);
        let reason = ending::reason(reason, overrun, end.note.as_deref());
        Finish {
            active,
            state,
            reason,
            end_ms,
            usage,
            exit: (end.exit_code, end.signal),
            never_ran: false,
            ran,
        }
    }
}

#[cfg(test)]
mod tests;
