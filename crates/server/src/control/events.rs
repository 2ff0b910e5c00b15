//! What the engine reports, applied to aisc's state machine: the same for
//! every engine.
//!
//! Guarantees:
//! - a job the engine holds under its own id has that id stored; a stop
//!   asked for before the engine knew the job is sent again once it does;
//! - a job the engine could not take for now (it was unavailable) goes back
//!   to `pending` with reason `EngineUnavailable`, so none is lost; one it
//!   refused fails with the engine's reason, its lien released;
//! - `running` is stored when the engine says so, with where and when.

use super::Controller;
use crate::clock::now_ms;
use aisc_engine::{EngineEvent, Started};
use aisc_model::JobState;
use aisc_sched::Placement;
use aisc_store::{Fields, JobChange, StoreError};

impl Controller {
    /// One report from the engine.
    pub(super) async fn on_engine(&mut self, ev: EngineEvent) {
        let res = match ev {
            EngineEvent::Accepted { job, engine_id } => {
                let steps = self.core.accepted(job, engine_id);
                self.apply(steps, None).await.map(drop)
            }
            EngineEvent::NotStarted { job, reason, retry } => {
                let steps = self.core.on_not_started(job, reason, retry, now_ms());
                if steps.is_empty() {
                    tracing::warn!(%job, "refusal reported for a job that is not running");
                }
                self.dirty = true;
                self.apply(steps, None).await.map(drop)
            }
            EngineEvent::Waiting { job, reason } => {
                if !self.core.running.contains(job) {
                    return;
                }
                self.store
                    .change(JobChange::Reasons(vec![(job, reason)]))
                    .await
            }
            EngineEvent::Started(s) => self.started(s).await,
            EngineEvent::Released { job } => {
                if let Some(a) = self.core.running.get_mut(job) {
                    a.released = true;
                    self.dirty = true;
                }
                Ok(())
            }
            EngineEvent::Ended { job, end } => {
                let Some(finish) = self.core.ended(job, end, now_ms()) else {
                    tracing::warn!(%job, "end reported for a job that is not running");
                    return;
                };
                self.dirty = true;
                self.apply(finish.effects(job), None).await.map(drop)
            }
            EngineEvent::Reachable(_) => {
                self.dirty = true;
                Ok(())
            }
        };
        if let Err(e) = res {
            tracing::error!(error = %e, "could not record what the engine reported");
        }
    }

    async fn started(&mut self, s: Started) -> Result<(), StoreError> {
        let node = s
            .node
            .as_ref()
            .and_then(|n| self.nodes.iter().position(|x| &x.name == n));
        let Some(a) = self.core.running.get_mut(s.job) else {
            return Ok(());
        };
        // Where the engine placed it, when it did: what the scheduler counts from now on.
        let placement = match (node, &s.gpu_ids) {
            (Some(node), Some(gpus)) => Some(Placement::on_node(
                node,
                gpus.clone(),
                a.resources.cpus,
                a.resources.mem_mb,
            )),
            _ => None,
        };
        if !a.start(s.at_ms, placement, s.engine_id, s.logs.is_some()) {
            return Ok(());
        }
        let (stdout, stderr) = s.logs.unzip();
        let set = Fields {
            start_ms: Some(s.at_ms),
            node: s.node,
            gpu_ids: s.gpu_ids,
            engine_job_id: s.engine_id,
            pid: s.pid.map(|p| p.0),
            pid_start: s.pid.map(|p| p.1),
            stdout_path: stdout,
            stderr_path: stderr,
            ..Default::default()
        };
        self.transition(
            s.job,
            JobState::Admitted,
            JobState::Running,
            &s.reason,
            now_ms().max(s.at_ms),
            set,
        )
        .await
    }
}
