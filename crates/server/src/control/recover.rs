//! Recovery after a (re)start: what became of the jobs the last server left.

use super::{Active, Controller, Kill, Queued, secs_to_ms};
use crate::clock::now_ms;
use aisc_engine::{Outcome, Recovery};
use aisc_model::JobState;
use aisc_sched::Placement;
use aisc_store::{Fields, JobRow, StoreError};
use std::path::Path;

impl Controller {
    /// Loads unfinished jobs after a (re)start: pending jobs are queued again,
    /// live processes re-adopted, and jobs that died meanwhile finished.
    pub async fn recover(&mut self) -> Result<(), StoreError> {
        for row in self.store.active().await? {
            // Jobs accepted after this read have higher ids: the poll finds those.
            self.seen_up_to(row.id);
            match row.state {
                JobState::Pending => {
                    let Some(q) = super::follow::queued(&row) else {
                        continue;
                    };
                    if let Some(s) = self.slurm.as_mut()
                        && row.engine_submit_ms.is_some()
                    {
                        s.maybe_submitted.insert(row.id);
                    }
                    self.queue(q);
                }
                JobState::Admitted | JobState::Running if self.slurm.is_some() => {
                    self.recover_on_slurm(row).await?
                }
                JobState::Admitted => self.recover_admitted(&row).await?,
                JobState::Running => self.recover_running(&row).await?,
                _ => {}
            }
        }
        if !self.running.is_empty() || !self.pending.is_empty() || !self.held.is_empty() {
            tracing::info!(
                pending = self.pending.len() + self.held.len(),
                running = self.running.len(),
                "recovered jobs"
            );
        }
        Ok(())
    }

    /// A job handed to Slurm before the restart: followed again if Slurm's id
    /// is known; otherwise queued again, to be looked for in Slurm before it
    /// is submitted (so it is adopted, not submitted twice).
    async fn recover_on_slurm(&mut self, row: JobRow) -> Result<(), StoreError> {
        let slurm_id = row.engine_job_id.and_then(|i| u32::try_from(i).ok());
        let running = row.state == JobState::Running;
        if slurm_id.is_none() && !running {
            let now = now_ms();
            self.transition(
                row.id,
                JobState::Admitted,
                JobState::Pending,
                "server restarted while handing it to Slurm: looked for there before it is submitted again",
                now,
                Fields::default(),
            )
            .await?;
            let Some(spec) = row.spec.clone() else {
                return Ok(());
            };
            if let Some(s) = self.slurm.as_mut() {
                s.maybe_submitted.insert(row.id);
            }
            self.queue(Queued {
                id: row.id,
                user: row.owner_name.clone(),
                owner: row.owner,
                org: row.org,
                spec,
                held: false,
                project: row.project,
                charging: row.charging,
                submit_ms: row.submit_ms,
            });
            return Ok(());
        }
        let start = row.start_ms.unwrap_or_else(now_ms);
        let mut active = self.active_from_row(&row, 0, start);
        active.slurm = Some(super::SlurmJob {
            id: slurm_id,
            started: running,
            finished: false,
        });
        if let Some(s) = &self.slurm {
            s.engine.track(row.id, slurm_id);
        }
        self.running.insert(row.id, active);
        Ok(())
    }

    async fn recover_admitted(&mut self, row: &JobRow) -> Result<(), StoreError> {
        let dir = Self::job_dir(&self.data_dir, row.id);
        let now = now_ms();
        match self.engine.recover(row.id, &dir, None) {
            Recovery::Alive(l) => {
                let set = Fields {
                    pid: Some(l.pid),
                    pid_start: Some(l.pid_start),
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
                let active = self.active_from_row(row, l.pid, now);
                self.running.insert(row.id, active);
            }
            Recovery::Ended(outcome) => {
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
                let active = self.active_from_row(row, 0, now);
                let end = exit_time_ms(&dir).unwrap_or(now);
                self.finish(row.id, active, outcome, end).await?;
            }
            Recovery::NeverStarted => {
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
        }
        Ok(())
    }

    async fn recover_running(&mut self, row: &JobRow) -> Result<(), StoreError> {
        let dir = Self::job_dir(&self.data_dir, row.id);
        let start = row.start_ms.unwrap_or_else(now_ms);
        let known = row.pid.zip(row.pid_start);
        let mut active = self.active_from_row(row, row.pid.unwrap_or(0), start);
        match self.engine.recover(row.id, &dir, known) {
            Recovery::Alive(_) => {
                tracing::info!(job = %row.id, pid = active.pid, "re-adopted running job");
                self.running.insert(row.id, active);
            }
            Recovery::Ended(outcome) => {
                let end = exit_time_ms(&dir).unwrap_or_else(now_ms);
                self.finish(row.id, active, outcome, end).await?;
            }
            Recovery::NeverStarted => {
                active.kill = None;
                self.finish(row.id, active, Outcome::Lost, now_ms()).await?;
            }
        }
        Ok(())
    }

    fn active_from_row(&self, row: &JobRow, pid: i64, start_ms: i64) -> Active {
        let node = row
            .node
            .as_ref()
            .and_then(|n| self.nodes.iter().position(|x| &x.name == n))
            .unwrap_or(0);
        let kill = row
            .kill_state
            .zip(row.kill_reason.clone())
            .map(|(state, reason)| Kill {
                state,
                reason,
                term_at_ms: now_ms(),
                sigkill_sent: false,
            });
        Active {
            leader_outcome: None,
            placement: Placement::on_node(
                node,
                row.gpu_ids.clone(),
                row.resources.cpus,
                row.resources.mem_mb,
            ),
            resources: row.resources,
            pid,
            start_ms,
            deadline_ms: start_ms.saturating_add(secs_to_ms(row.time_limit_s)),
            kill,
            project: row.project,
            charging: row.charging,
            qos: row.spec.as_ref().map(|s| s.qos).unwrap_or_default(),
            slurm: None,
        }
    }
}

fn exit_time_ms(job_dir: &Path) -> Option<i64> {
    let modified = std::fs::metadata(job_dir.join("exit"))
        .ok()?
        .modified()
        .ok()?;
    let d = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}
