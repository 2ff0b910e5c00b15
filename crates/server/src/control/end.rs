//! A job's end: how it is recorded (state, reason, usage, charge, requeue),
//! and what is cleaned up after it. The same for every engine: the engine
//! says how the job ended and, where it measured it, what it used; billing
//! meters it.

use super::{Active, Controller};
use crate::clock::now_ms;
use aisc_control::core::Finish;
use aisc_engine::End;
use aisc_model::{JobId, JobState};
use aisc_store::{Fields, StoreError};

impl Controller {
    /// Records how an admitted job ended (decided by the core: see
    /// `aisc_control::core::Core::finish`).
    pub(super) async fn finish(
        &mut self,
        id: JobId,
        active: Active,
        end: End,
    ) -> Result<(), StoreError> {
        let finish = self.core.finish(active, end, now_ms());
        self.record_finish(id, finish).await
    }

    /// Stores an end the core decided: never ran (its lien released), or ran
    /// (its start first where the engine never reported it), then charged,
    /// then cleaned up.
    pub(super) async fn record_finish(&mut self, id: JobId, f: Finish) -> Result<(), StoreError> {
        let Finish {
            active,
            state,
            reason,
            end_ms,
            usage,
            exit: (exit_code, signal),
            never_ran,
            ran,
        } = f;
        if never_ran {
            let set = Fields {
                end_ms: Some(end_ms),
                engine_job_id: active.engine_id,
                ..Default::default()
            };
            if let Some(c) = active.charging {
                self.settle(id, &c, active.project, 0).await?;
            }
            return self
                .transition(id, JobState::Admitted, state, &reason, end_ms, set)
                .await;
        }
        if let Some(ran) = ran {
            let set = Fields {
                start_ms: Some(ran.at_ms),
                node: Some(ran.node),
                engine_job_id: active.engine_id,
                ..Default::default()
            };
            self.transition(
                id,
                JobState::Admitted,
                JobState::Running,
                &ran.reason,
                ran.at_ms,
                set,
            )
            .await?;
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
        let logs_here = active.logs_here;
        self.record_end(id, active, state, reason, set).await?;
        self.engine.release(id);
        if logs_here {
            self.seal_logs(id);
        }
        Ok(())
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

    /// Records a running job's end: the charge for its GPU time (`set.gpu_ms`),
    /// its usage for fair share, a requeue if it was preempted, then the state.
    pub(super) async fn record_end(
        &mut self,
        id: JobId,
        active: Active,
        state: JobState,
        reason: String,
        set: Fields,
    ) -> Result<(), StoreError> {
        let end_ms = set.end_ms.unwrap_or_else(now_ms);
        let gpu_ms = set.gpu_ms.unwrap_or(0);
        // Settle first: if the server dies before the transition, the next start
        // finishes the job again and the store refuses the second settlement.
        if let Some(c) = active.charging {
            self.settle(id, &c, active.project, gpu_ms).await?;
        }
        if let Some(p) = active.project {
            self.fair.record(p, gpu_ms, end_ms);
        }
        let reason = if state == JobState::Preempted {
            match self.requeue(id).await {
                Ok(Some(new)) => format!("{reason}; requeued as job {new}"),
                Ok(None) => reason,
                Err(e) => {
                    tracing::error!(job = %id, error = %e, "could not requeue a preempted job");
                    reason
                }
            }
        } else {
            reason
        };
        self.transition(id, JobState::Running, state, &reason, end_ms, set)
            .await
    }
}
