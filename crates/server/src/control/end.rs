//! A job's end: how it is recorded (state, reason, usage, charge, requeue),
//! a refusal by the launcher, and what is cleaned up after it.

use super::{Active, Controller};
use crate::clock::now_ms;
use aisc_engine::{LocalEngine, Outcome};
use aisc_model::units::format_duration;
use aisc_model::{JobId, JobState};
use aisc_store::{Fields, StoreError};

impl Controller {
    /// The launcher refused to start a job (its output file, its account, its
    /// working directory): it fails with the launcher's reason, charged nothing.
    pub(super) async fn not_started(&mut self, job: JobId, reason: String) {
        let Some(active) = self.running.remove(&job) else {
            tracing::warn!(%job, "refusal reported for a job that is not running");
            return;
        };
        let now = now_ms();
        let set = Fields {
            end_ms: Some(now),
            wall_ms: Some(0),
            gpu_ms: Some(0),
            cpu_ms: Some(0),
            ..Default::default()
        };
        let reason = format!("could not start: {}", reason.trim());
        if let Err(e) = self
            .record_end(job, active, JobState::Failed, reason, set)
            .await
        {
            tracing::error!(%job, error = %e, "could not record a job that did not start");
        }
        self.release_engine(job);
        self.dirty = true;
    }

    /// Removes what is left of a job on the engine (its cgroup), off the loop.
    pub(super) fn release_engine(&self, job: JobId) {
        let engine = self.engine.clone();
        let dir = Self::job_dir(&self.data_dir, job);
        tokio::task::spawn_blocking(move || engine.release(job, &dir));
    }

    /// Records how a running job ended, with its metered usage.
    pub(super) async fn finish(
        &mut self,
        id: JobId,
        active: Active,
        outcome: Outcome,
        end_ms: i64,
    ) -> Result<(), StoreError> {
        let watchdog = active.kill.is_none()
            && active.slurm.is_none()
            && LocalEngine::stopped_by_watchdog(&Self::job_dir(&self.data_dir, id));
        let (state, reason) = match (&active.kill, outcome) {
            (Some(k), _) => (k.state, k.reason.clone()),
            (None, _) if watchdog => (
                JobState::TimedOut,
                format!(
                    "time limit of {} reached; stopped by the job's own watchdog",
                    format_duration(
                        u64::try_from(active.deadline_ms - active.start_ms).unwrap_or(0) / 1000
                    )
                ),
            ),
            (None, Outcome::Exited(0)) => (JobState::Completed, "exited with status 0".to_string()),
            (None, Outcome::Exited(code)) if (129..=192).contains(&code) => (
                JobState::Failed,
                format!(
                    "exited with status {code} (its command was killed by signal {})",
                    code - 128
                ),
            ),
            (None, Outcome::Exited(code)) => {
                (JobState::Failed, format!("exited with status {code}"))
            }
            (None, Outcome::Signaled(sig)) => (JobState::Failed, format!("killed by signal {sig}")),
            (None, Outcome::Lost) => (JobState::Failed, "lost on server restart".to_string()),
        };
        let usage = aisc_billing::meter(&active.resources, active.start_ms, end_ms);
        let overrun_ms = end_ms - active.deadline_ms - self.kill_grace_ms;
        let reason = if active.slurm.is_none() && overrun_ms > 1000 {
            format!(
                "{reason}; it ran {} s past its time limit and grace (charged at most its lien)",
                overrun_ms / 1000
            )
        } else {
            reason
        };
        let (exit_code, signal) = match outcome {
            Outcome::Exited(c) => (Some(c), None),
            Outcome::Signaled(s) => (None, Some(s)),
            Outcome::Lost => (None, None),
        };
        let set = Fields {
            end_ms: Some(end_ms),
            exit_code,
            signal,
            wall_ms: Some(usage.wall_ms),
            gpu_ms: Some(usage.gpu_ms),
            cpu_ms: Some(usage.cpu_ms),
            ..Default::default()
        };
        self.record_end(id, active, state, reason, set).await?;
        if self.slurm.is_none() {
            self.release_engine(id);
        }
        self.seal_logs(id);
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
