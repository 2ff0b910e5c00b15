//! The control loop: the one task that owns the queue and the running jobs.
//!
//! It receives submissions, cancels and engine events; after each batch it
//! builds a [`Snapshot`], asks [`aisc_sched::plan`] what to start, and applies
//! the plan through the engine. Because only this task changes the state of
//! pending and running jobs, no two decisions about one job can race.
//!
//! Guarantees:
//! - write-ahead: a job is stored `admitted` before its process is spawned,
//!   and a kill's reason is stored before the signal is sent, so a restart
//!   always knows what was in flight;
//! - a job is never started twice: after a restart an `admitted` job whose
//!   process cannot be found is failed, not started again;
//! - time limits: SIGTERM at the limit, SIGKILL after the grace period.

mod apply;
mod command;
mod depend;
mod events;
mod fairshare;
mod follow;
mod launch;
mod money;
mod nodes;
mod queue;
mod recover;
#[cfg(test)]
mod tests;

pub use aisc_engine::slurm::SlurmSettings;
pub use command::{CancelOutcome, Command, ControlError, Queued};

pub use aisc_model::tenancy::JobAccess;
pub use nodes::NodeStatus;
pub use queue::{QueueEntry, QueueView};

pub use aisc_engine::expand_pattern;

use crate::clock::now_ms;
use aisc_engine::Engine;
use aisc_model::{JobId, JobState, ProjectId, Resources};
use aisc_sched::{Node, PendingJob, RunningJob, Snapshot};
use aisc_store::{Fields, JobChange, NewAudit, Store, StoreError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

use aisc_control::core::{Cancel, Core, EngineTerms};
use aisc_control::queue::NotHeld;
use aisc_control::running::Active;

/// The loop's state.
pub struct Controller {
    store: Store,
    engine: Box<dyn Engine>,
    nodes: Vec<Node>,
    data_dir: PathBuf,
    /// The waiting and admitted jobs and the decisions about them (`aisc_control`).
    core: Core,
    dirty: bool,
    last_pass: Instant,
    /// What each grant seen has available for new liens, HK cents.
    grant_available: HashMap<i64, i64>,
    /// Each grant's subsidy rate, basis points (grants do not change).
    grant_rates: HashMap<i64, u16>,
    /// Each grant's metered total as last read or written here.
    grant_metered: HashMap<i64, aisc_billing::carry::Metered>,
    /// Each grant's class name (grants do not change class).
    grant_class: HashMap<i64, String>,
    /// Project names (the engine's accounts).
    project_names: HashMap<ProjectId, String>,
    /// Scheduling policy.
    policy: aisc_sched::Policy,
    /// Projects' shares, usage and caps.
    fair: fairshare::FairShare,
    /// Reservations made by the last pass, by job: when, seconds.
    reservations: HashMap<JobId, u64>,
    /// Other servers accept jobs into the same database (PostgreSQL): poll for them.
    shared_db: bool,
    /// The highest job id the poll has seen pending (see `follow`).
    seen: JobId,
    /// How jobs that others wait for ended (see `depend`).
    ended: HashMap<aisc_model::array::JobRef, aisc_model::dependency::Seen>,
    /// Interactive jobs start under the relay's agent (none in tests without one).
    relay: Option<std::sync::Arc<crate::relay::Relay>>,
}

/// The shortest time between two scheduling passes: a burst of submissions
/// then costs one pass, not one per submission.
const MIN_PASS_INTERVAL: Duration = Duration::from_millis(10);

/// The longest time between two passes while jobs wait.
const PERIODIC_PASS: Duration = Duration::from_secs(5);

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("queue", &self.core.queue.counts())
            .field("running", &self.core.running.len())
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// A controller running jobs on `engine`, whose nodes are `nodes`.
    pub fn new(
        store: Store,
        engine: Box<dyn Engine>,
        nodes: Vec<Node>,
        data_dir: PathBuf,
        kill_grace: Duration,
        policy: aisc_sched::Policy,
    ) -> Self {
        let kill_grace_ms = i64::try_from(kill_grace.as_millis()).unwrap_or(i64::MAX);
        let core = Core::new(EngineTerms {
            limits_by_aisc: engine.limits_by_aisc(),
            queue_depth: engine.queue_depth(),
            grace_ms: kill_grace_ms,
        });
        Controller {
            store,
            engine,
            core,
            nodes,
            data_dir,
            dirty: true,
            last_pass: Instant::now(),
            grant_available: HashMap::new(),
            grant_rates: HashMap::new(),
            grant_metered: HashMap::new(),
            grant_class: HashMap::new(),
            project_names: HashMap::new(),
            fair: fairshare::FairShare::new(policy.half_life_s),
            policy,
            reservations: HashMap::new(),
            shared_db: false,
            seen: JobId(0),
            ended: HashMap::new(),
            relay: None,
        }
    }

    /// Starts interactive jobs under `relay`'s agent.
    pub fn relay(&mut self, relay: std::sync::Arc<crate::relay::Relay>) {
        self.relay = Some(relay);
    }

    /// The directory holding a job's script, pid and exit files and default log.
    pub fn job_dir(data_dir: &Path, id: JobId) -> PathBuf {
        aisc_engine::Local::job_dir(data_dir, id)
    }

    /// Runs until the command channel closes.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(1024);
        let mut engine_open = true;
        let mut poll = tokio::time::interval(follow::POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wake = self.next_wake();
            tokio::select! {
                evs = self.engine.next_events(), if engine_open => match evs {
                    Some(evs) => {
                        for ev in evs {
                            self.on_engine(ev).await;
                        }
                    }
                    None => engine_open = false,
                },
                n = commands.recv_many(&mut batch, 4096) => {
                    if n == 0 {
                        break;
                    }
                    for cmd in batch.drain(..) {
                        self.on_command(cmd).await;
                    }
                }
                _ = poll.tick(), if self.shared_db => self.poll_new_jobs().await,
                _ = tokio::time::sleep_until(wake) => {}
            }
            self.enforce_limits().await;
            // Priorities age and reservations come due without any event: look again now and then.
            if self.core.queue.has_pending() && self.last_pass.elapsed() >= PERIODIC_PASS {
                self.dirty = true;
            }
            if self.dirty && self.last_pass.elapsed() >= MIN_PASS_INTERVAL {
                self.dirty = false;
                self.last_pass = Instant::now();
                self.schedule().await;
            }
        }
        tracing::info!(
            running = self.core.running.len(),
            "control loop stopped; running jobs keep running"
        );
    }

    fn next_wake(&self) -> Instant {
        let now = now_ms();
        let next = self
            .core
            .next_due()
            .into_iter()
            .chain(self.engine.poll_at(now))
            .min()
            .unwrap_or(i64::MAX)
            .min(now + 1000);
        let mut wake =
            Instant::now() + Duration::from_millis(u64::try_from(next - now).unwrap_or(0));
        if let Some(retry) = self.engine.unavailable_until()
            && self.core.queue.has_pending()
        {
            wake = wake.min(retry);
        }
        if self.dirty {
            wake.min(self.last_pass + MIN_PASS_INTERVAL)
        } else {
            wake
        }
    }

    async fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Submitted(q) => {
                if self.accepts(q.id) {
                    self.core.queue.insert(*q);
                    self.dirty = true;
                }
            }
            Command::Cancel {
                id,
                task,
                by,
                audit,
                reply,
            } => {
                let res = self.cancel(id, task, &by, audit).await;
                let _ = reply.send(res);
            }
            Command::SetHeld {
                id,
                held,
                audit,
                reply,
            } => {
                let res = self.set_held(id, held, audit).await;
                let _ = reply.send(res);
            }
            Command::Requeue {
                id,
                by,
                audit,
                reply,
            } => {
                let res = self.requeue(id, &by, audit).await;
                let _ = reply.send(res);
            }
            Command::Update {
                update,
                audit,
                reply,
            } => {
                let res = self.update(*update, audit).await;
                let _ = reply.send(res);
            }
            Command::Usage(reply) => {
                let used = self
                    .core
                    .running
                    .iter()
                    .map(|(_, a)| a.placement.total())
                    .fold(Resources::default(), |acc, t| Resources {
                        gpus: acc.gpus + t.gpus,
                        cpus: acc.cpus + t.cpus,
                        mem_mb: acc.mem_mb + t.mem_mb,
                    });
                let _ = reply.send(used);
            }
            Command::Queue(reply) => {
                let _ = reply.send(self.queue_view());
            }
            Command::QueueLength(reply) => {
                let _ = reply.send(self.core.queue.counts());
            }
            Command::GrantsChanged => {
                self.fair.invalidate();
                self.dirty = true;
            }
            Command::Nodes(reply) => {
                let _ = reply.send(self.node_statuses());
            }
            Command::Drain {
                name,
                drained,
                reply,
            } => {
                let _ = reply.send(self.set_drained(&name, drained));
            }
        }
    }

    async fn cancel(
        &mut self,
        id: JobId,
        task: Option<u32>,
        by: &str,
        audit: NewAudit,
    ) -> Result<CancelOutcome, ControlError> {
        let now = now_ms();
        let id = match task {
            None => id,
            // A task that waits with its array: split off as its own record first.
            Some(t) => match self.core.split_task(id, t) {
                Some((q, split)) => {
                    let task = self.record_split(q, split).await?;
                    let id = task.id;
                    self.core.queue.insert(task);
                    id
                }
                None => return Ok(CancelOutcome::NotActive),
            },
        };
        match self.core.cancel(id, by) {
            Cancel::Pending { reason } => {
                let change = JobChange::Transition {
                    id,
                    from: JobState::Pending,
                    to: JobState::Cancelled,
                    reason,
                    at_ms: now,
                    set: Box::new(Fields {
                        end_ms: Some(now),
                        ..Default::default()
                    }),
                };
                self.store.change_audited(change, audit).await?;
                if let Some(q) = self.core.queue.take(id)
                    && let Some(c) = q.charging
                {
                    // A lien may remain from an admission that did not complete (a crash): release it.
                    self.settle(id, &c, q.project, 0).await?;
                }
                self.dirty = true;
                Ok(CancelOutcome::Cancelled)
            }
            Cancel::Stop { reason } => {
                let steps = self.core.stop(id, JobState::Cancelled, reason, now);
                self.apply(steps, Some(audit)).await?;
                Ok(CancelOutcome::Signalled)
            }
            Cancel::AlreadyStopping => Ok(CancelOutcome::AlreadyStopping),
            Cancel::NotActive => Ok(CancelOutcome::NotActive),
        }
    }

    /// Ends a running job's run to queue it again with its id: the stop's
    /// reason (state `pending`) stored with its audit event, then SIGTERM;
    /// its end settles the run and queues it (see `aisc_control::steps`).
    async fn requeue(&mut self, id: JobId, by: &str, audit: NewAudit) -> Result<(), ControlError> {
        use aisc_control::core::NoRequeue;
        match self.core.requeue(id, by) {
            Ok(reason) => {
                let steps = self.core.stop(id, JobState::Pending, reason, now_ms());
                self.apply(steps, Some(audit)).await?;
                Ok(())
            }
            Err(no) => Err(ControlError::Conflict(match no {
                NoRequeue::Waiting => format!(
                    "job {id} waits: it has no run to end (requeue ends a running job's run and queues it again)"
                ),
                NoRequeue::Stopping => format!("job {id} is being stopped already"),
                NoRequeue::NotActive => format!("job {id} has ended"),
                NoRequeue::NotRequeueable => {
                    format!("job {id} was submitted with --no-requeue: it is never requeued")
                }
            })),
        }
    }

    /// Changes a waiting job: stored with its audit event first, then in the queue.
    async fn update(
        &mut self,
        u: aisc_store::JobUpdate,
        audit: NewAudit,
    ) -> Result<(), ControlError> {
        let id = u.id;
        if !self.core.queue.contains(id) {
            return Err(ControlError::Conflict(format!(
                "job {id} no longer waits: only a waiting job is changed"
            )));
        }
        let (spec, charging) = (u.spec.clone(), u.charging);
        self.store.update_job(u, audit).await?;
        self.core.queue.update(id, spec, charging);
        self.dirty = true;
        Ok(())
    }

    /// Holds a waiting job (`held`) or releases a held one: stored with its
    /// audit event first, then applied to the queue.
    async fn set_held(
        &mut self,
        id: JobId,
        held: bool,
        audit: NewAudit,
    ) -> Result<(), ControlError> {
        let (may, change) = if held {
            (self.core.queue.may_hold(id), JobChange::Hold { id })
        } else {
            (self.core.queue.may_release(id), JobChange::Release { id })
        };
        match (may, held) {
            (Ok(()), _) => {
                self.store.change_audited(change, audit).await?;
                if held {
                    self.core.queue.hold(id);
                } else {
                    self.core.queue.release(id);
                }
                self.dirty = true;
                Ok(())
            }
            (Err(NotHeld::Pending), true) => {
                Err(ControlError::Conflict(format!("job {id} is held already")))
            }
            (Err(NotHeld::Pending), false) => {
                Err(ControlError::Conflict(format!("job {id} is not held")))
            }
            (Err(NotHeld::NotPending), true) => Err(ControlError::Conflict(format!(
                "job {id} is not pending: only a waiting job can be held"
            ))),
            (Err(NotHeld::NotPending), false) => {
                Err(ControlError::Conflict(format!("job {id} is not pending")))
            }
        }
    }

    /// What the core says falls due (time limits and kill grace, where aisc
    /// enforces them); then whatever the engine finds when it looks.
    async fn enforce_limits(&mut self) {
        let now = now_ms();
        for (_, steps) in self.core.on_tick(now) {
            self.apply_logged(steps, "a time-out").await;
        }
        for ev in self.engine.poll(now) {
            self.on_engine(ev).await;
        }
    }

    async fn transition(
        &self,
        id: JobId,
        from: JobState,
        to: JobState,
        reason: &str,
        at_ms: i64,
        set: Fields,
    ) -> Result<(), StoreError> {
        let change = JobChange::Transition {
            id,
            from,
            to,
            reason: reason.to_string(),
            at_ms,
            set: Box::new(set),
        };
        self.store.change(change).await
    }

    async fn schedule(&mut self) {
        self.follow_dependencies().await;
        let grants: std::collections::BTreeSet<i64> = self
            .core
            .queue
            .pending()
            .filter_map(|q| q.charging.map(|c| c.grant))
            .collect();
        let mut grant_available = std::collections::BTreeMap::new();
        for g in grants {
            match self.available(g).await {
                Ok(a) => {
                    grant_available.insert(g, a);
                }
                Err(e) => {
                    tracing::error!(grant = g, error = %e, "could not read a grant's balance")
                }
            }
        }
        let now = now_ms();
        let now_s = u64::try_from(now / 1000).unwrap_or(0);
        if let Err(e) = self.fair.refresh(&self.store, now).await {
            tracing::error!(error = %e, "could not read projects' shares and usage");
        }
        let projects = self.projects_at(now);
        // Arrays with as many tasks admitted as their %N allows wait apart.
        let mut at_limit = Vec::new();
        let pending = self
            .core
            .queue
            .pending()
            .filter_map(|q| match self.core.copies(q) {
                0 => {
                    at_limit.push((q.id, aisc_model::PendingReason::JobArrayTaskLimit));
                    None
                }
                copies => Some(PendingJob {
                    copies,
                    ..pending_job(q)
                }),
            })
            .collect();
        let snapshot = Snapshot {
            policy: self.policy,
            grant_available,
            projects,
            engine_unavailable: self.engine.unavailable_until().is_some(),
            nodes: self.nodes.clone(),
            running: self
                .core
                .running
                .occupying()
                .map(|(id, a)| RunningJob {
                    id,
                    project: a.project.unwrap_or(ProjectId(0)),
                    qos: a.qos,
                    placement: a.placement.clone(),
                    start: secs(a.start_ms),
                    end: secs(a.deadline_ms),
                    stopping: a.kill.is_some(),
                })
                .collect(),
            // Held jobs are kept apart: their reason, Held, was stored with them.
            pending,
        };
        let plan = aisc_sched::plan(&snapshot, now_s);
        for (id, reason) in self.core.preemptions(&plan) {
            let steps = self.core.stop(id, JobState::Preempted, reason, now);
            self.apply_logged(steps, "a preemption").await;
        }
        self.reservations = plan.reservations.iter().map(|r| (r.job, r.at)).collect();
        self.hand_over(&plan).await;
        // Arrays that started as many tasks as their %N allows wait for those now.
        let mut started: Vec<JobId> = plan.starts.iter().map(|s| s.id).collect();
        started.dedup();
        let full = started
            .into_iter()
            .filter(|id| {
                self.core.queue.get(*id).is_some_and(|q| {
                    self.core.queue.array_waiting(*id).is_some() && self.core.copies(q) == 0
                })
            })
            .map(|id| (id, aisc_model::PendingReason::JobArrayTaskLimit));
        let at_limit: Vec<_> = at_limit.into_iter().chain(full).collect();
        let changed: Vec<(JobId, String)> = self
            .core
            .queue
            .note_reasons(plan.waiting.into_iter().chain(at_limit))
            .into_iter()
            .map(|(id, r)| (id, r.to_string()))
            .collect();
        if !changed.is_empty()
            && let Err(e) = self.store.change(JobChange::Reasons(changed)).await
        {
            tracing::error!(error = %e, "could not record pending reasons");
        }
    }
}

/// A queued job as the scheduler sees it.
fn pending_job(q: &Queued) -> PendingJob {
    PendingJob {
        id: q.id,
        project: q.project.unwrap_or(ProjectId(0)),
        qos: q.spec.qos,
        submit: secs(q.submit_ms),
        request: q.spec.resources,
        gpu_type: q.spec.gpu_type.clone(),
        class: None,
        time_limit: q.spec.time_limit_s,
        held: q.held,
        cost: q.charging.map(|c| aisc_sched::Cost {
            grant: c.grant,
            amount: c.lien_cents,
        }),
        copies: 1,
    }
}

/// Epoch milliseconds as whole seconds (0 before the epoch).
fn secs(ms: i64) -> u64 {
    u64::try_from(ms / 1000).unwrap_or(0)
}

pub(crate) fn secs_to_ms(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
}
