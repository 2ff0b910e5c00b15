//! Recovery after a (re)start: what became of the jobs the last server left.

use super::{Active, Controller, Queued, secs_to_ms};
use crate::clock::now_ms;
use aisc_control::stops::Stop;
use aisc_engine::{End, How, RecoverJob, Recovered, Verdict};
use aisc_model::JobState;
use aisc_sched::Placement;
use aisc_store::{Fields, JobRow, StoreError};

impl Controller {
    /// Loads unfinished jobs after a (re)start: pending jobs are queued again,
    /// admitted and running ones asked of the engine (followed again, or
    /// finished when they ended meanwhile).
    pub async fn recover(&mut self) -> Result<(), StoreError> {
        for row in self.store.active().await? {
            // Jobs accepted after this read have higher ids: the poll finds those.
            self.seen_up_to(row.id);
            match row.state {
                JobState::Pending => {
                    let Some(q) = super::follow::queued(&row) else {
                        continue;
                    };
                    if row.engine_submit_ms.is_some() {
                        self.engine.may_hold(row.id);
                    }
                    super::follow::enqueue(&mut self.core.queue, q, &row);
                }
                JobState::Admitted | JobState::Running => self.recover_one(row).await?,
                _ => {}
            }
        }
        if !self.core.running.is_empty() || !self.core.queue.is_empty() {
            tracing::info!(
                pending = self.core.queue.counts().0 + self.core.queue.counts().1,
                running = self.core.running.len(),
                "recovered jobs"
            );
        }
        Ok(())
    }

    async fn recover_one(&mut self, row: JobRow) -> Result<(), StoreError> {
        let running = row.state == JobState::Running;
        let job = RecoverJob {
            job: row.id,
            running,
            engine_id: row.engine_job_id,
            pid: row.pid.zip(row.pid_start),
            time_limit_ms: row.time_limit_s.saturating_mul(1000),
            restarts: row.restarts,
        };
        let now = now_ms();
        match self.engine.recover(&job) {
            Recovered::Resubmit { reason } => {
                self.transition(
                    row.id,
                    JobState::Admitted,
                    JobState::Pending,
                    &reason,
                    now,
                    Fields::default(),
                )
                .await?;
                if let Some(q) = super::follow::queued(&row) {
                    self.core.queue.insert(Queued { held: false, ..q });
                }
            }
            Recovered::Waiting => {
                let start = row.start_ms.unwrap_or(now);
                let active = self.active_from_row(&row, start, false);
                self.core.running.insert(row.id, active);
            }
            Recovered::Running { pid } if !running => {
                let set = Fields {
                    pid: pid.map(|p| p.0),
                    pid_start: pid.map(|p| p.1),
                    start_ms: Some(now),
                    ..Default::default()
                };
                self.transition(
                    row.id,
                    JobState::Admitted,
                    JobState::Running,
                    "re-adopted after server restart",
                    now,
                    set,
                )
                .await?;
                let active = self.active_from_row(&row, now, true);
                self.adopt(row.id, active);
            }
            Recovered::Running { pid } => {
                tracing::info!(job = %row.id, pid = ?pid.map(|p| p.0), "re-adopted running job");
                let start = row.start_ms.unwrap_or(now);
                let active = self.active_from_row(&row, start, true);
                self.adopt(row.id, active);
            }
            Recovered::Ended(end) => {
                let start = if running {
                    row.start_ms.unwrap_or(now)
                } else {
                    let set = Fields {
                        start_ms: Some(now),
                        ..Default::default()
                    };
                    self.transition(
                        row.id,
                        JobState::Admitted,
                        JobState::Running,
                        "started before server restart",
                        now,
                        set,
                    )
                    .await?;
                    now
                };
                let active = self.active_from_row(&row, start, true);
                self.finish(row.id, active, end).await?;
            }
            Recovered::NeverStarted if !running => {
                let set = Fields {
                    end_ms: Some(now),
                    ..Default::default()
                };
                self.transition(
                    row.id,
                    JobState::Admitted,
                    JobState::Failed,
                    "lost on server restart (never started)",
                    now,
                    set,
                )
                .await?;
            }
            Recovered::NeverStarted => {
                let start = row.start_ms.unwrap_or(now);
                let active = self.active_from_row(&row, start, true);
                let end = End {
                    verdict: Some(Verdict {
                        state: JobState::Failed,
                        reason: "lost on server restart".into(),
                        firm: true,
                    }),
                    ..End::default()
                };
                self.finish(row.id, active, end).await?;
            }
        }
        Ok(())
    }

    /// Follows a recovered job again. A stop recorded before the restart is
    /// asked of the engine again (the last server may have died between
    /// recording it and sending it); its grace counts from now.
    fn adopt(&mut self, id: aisc_model::JobId, active: Active) {
        if active.kill.is_some() {
            self.engine.signal(id, How::Term);
        }
        self.core.running.insert(id, active);
    }

    fn active_from_row(&self, row: &JobRow, start_ms: i64, started: bool) -> Active {
        let node = row
            .node
            .as_ref()
            .and_then(|n| self.nodes.iter().position(|x| &x.name == n))
            .unwrap_or(0);
        let kill = row
            .kill_state
            .zip(row.kill_reason.clone())
            .map(|(state, reason)| Stop {
                state,
                reason,
                term_at_ms: now_ms(),
                kill_sent: false,
            });
        Active {
            placement: Placement::on_node(
                node,
                row.gpu_ids.clone(),
                row.resources.cpus,
                row.resources.mem_mb,
            ),
            resources: row.resources,
            start_ms,
            deadline_ms: start_ms.saturating_add(secs_to_ms(row.time_limit_s)),
            kill,
            project: row.project,
            charging: row.charging,
            qos: row.spec.as_ref().map(|s| s.qos).unwrap_or_default(),
            started,
            released: false,
            engine_id: row.engine_job_id,
            queued: None,
            logs_here: row.stdout_path.is_some(),
            warn: row.spec.as_ref().and_then(|s| s.signal),
            owner: row.owner,
            name: row.name.clone(),
            array: row.array_job_id.filter(|_| row.array_task_id.is_some()),
            requeue: row.spec.as_ref().is_some_and(|s| s.requeue),
        }
    }
}
