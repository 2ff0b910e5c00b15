//! The driver's side of the core's steps ([`Effect`]): each done in the
//! order the core gave, the first that fails ending the rest (a signal never
//! goes without its stored reason, an admission never without its lien).

use super::Controller;
use super::money::Hold;
use aisc_control::effect::Effect;
use aisc_engine::StartJob;
use aisc_model::JobId;
use aisc_store::{JobChange, NewAudit, StoreError};
use std::collections::VecDeque;

impl Controller {
    /// Does `steps`; `audit` (whoever asked) goes with the first write.
    /// Returns the jobs to hand to the engine ([`Effect::Start`]): the
    /// caller starts them as one batch.
    pub(super) async fn apply(
        &mut self,
        steps: Vec<Effect>,
        mut audit: Option<NewAudit>,
    ) -> Result<Vec<StartJob>, StoreError> {
        let mut todo: VecDeque<Effect> = steps.into();
        let mut starts = Vec::new();
        while let Some(step) = todo.pop_front() {
            match step {
                Effect::Record {
                    job,
                    from,
                    to,
                    reason,
                    at_ms,
                    set,
                } => {
                    let change = JobChange::Transition {
                        id: job,
                        from,
                        to,
                        reason,
                        at_ms,
                        set,
                    };
                    self.write(change, audit.take()).await?;
                }
                Effect::StopReason { job, state, reason } => {
                    let change = JobChange::KillReason {
                        id: job,
                        state,
                        reason,
                    };
                    self.write(change, audit.take()).await?;
                }
                Effect::Reasons(r) => self.store.change(JobChange::Reasons(r)).await?,
                Effect::EngineJob { job, engine_id } => {
                    let change = JobChange::EngineJob {
                        id: job,
                        engine_job_id: engine_id,
                    };
                    self.store.change(change).await?;
                }
                Effect::HoldLien { job, charging } => {
                    let held = self.hold(job, &charging).await? == Hold::Held;
                    for s in self.core.lien(job, held).into_iter().rev() {
                        todo.push_front(s);
                    }
                }
                Effect::Settle {
                    job,
                    charging,
                    project,
                    gpu_ms,
                } => self.settle(job, &charging, project, gpu_ms).await?,
                Effect::FairShare {
                    project,
                    gpu_ms,
                    at_ms,
                } => self.fair.record(project, gpu_ms, at_ms),
                Effect::Requeue {
                    job,
                    from,
                    reason,
                    at_ms,
                    set,
                } => {
                    let change = JobChange::Requeue {
                        id: job,
                        from,
                        reason,
                        at_ms,
                        set,
                    };
                    self.write(change, audit.take()).await?;
                    self.queue_again(job).await?;
                }
                Effect::SplitTask { array, task } => {
                    if let Some((q, split)) = self.core.split_task(array, task) {
                        let q = self.record_split(q, split).await?;
                        self.core.queue.insert(q);
                        self.dirty = true;
                    }
                }
                Effect::Start(job) => starts.push(*job),
                Effect::Signal { job, how } => self.engine.signal(job, how),
                Effect::Release { job } => self.engine.release(job),
                Effect::SealLogs { job } => self.seal_logs(job),
            }
        }
        Ok(starts)
    }

    async fn write(&self, change: JobChange, audit: Option<NewAudit>) -> Result<(), StoreError> {
        match audit {
            Some(a) => self.store.change_audited(change, a).await,
            None => self.store.change(change).await,
        }
    }

    /// Does `steps` where nobody waits for the answer: a failure is logged.
    pub(super) async fn apply_logged(&mut self, steps: Vec<Effect>, what: &'static str) {
        if let Err(e) = self.apply(steps, None).await {
            tracing::error!(error = %e, "could not record {what}");
        }
    }

    /// Seals an ended job's logs in the background (see `crate::sealed`).
    pub(super) fn seal_logs(&self, id: JobId) {
        let store = self.store.clone();
        let dir = Self::job_dir(&self.data_dir, id);
        tokio::spawn(async move {
            let sealed = match store.job(id).await {
                Ok(row) => crate::sealed::seal_job_logs(&store, &row, &dir).await,
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = sealed {
                tracing::error!(job = %id, error = %e, "could not seal a job's logs");
            }
        });
    }
}

impl Controller {
    /// Records how an admitted job ended, as the core decides it (see
    /// `aisc_control::core::Core::finish`).
    pub(super) async fn finish(
        &mut self,
        id: JobId,
        active: aisc_control::running::Active,
        end: aisc_engine::End,
    ) -> Result<(), StoreError> {
        let steps = self
            .core
            .finish(active, end, crate::clock::now_ms())
            .effects(id);
        self.apply(steps, None).await.map(drop)
    }
}
