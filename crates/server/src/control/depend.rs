//! The driver's side of jobs waiting for others: what became of the jobs
//! they name that the core does not follow (read from the store once they
//! have ended, then kept), handed to the core each pass.

use super::Controller;
use crate::clock::now_ms;
use aisc_model::JobState;
use aisc_model::dependency::Seen;
use aisc_store::{JobFilter, JobRow, StoreError};
use std::collections::HashMap;

/// Ended jobs kept for dependencies; beyond this the memory starts afresh.
const KEEP_ENDED: usize = 100_000;

impl Controller {
    /// Lets the core decide about the jobs waiting for others.
    pub(super) async fn follow_dependencies(&mut self) {
        if self.core.queue.blocked().next().is_none() {
            return;
        }
        let now = now_ms();
        let mut seen = HashMap::new();
        for id in self.core.dependency_targets() {
            if let Some(s) = self.ended.get(&id) {
                seen.insert(id, *s);
                continue;
            }
            let row = match self.store.job(id).await {
                Ok(row) if row.array_job_id == Some(id) => self.array_outcome(row).await,
                other => other,
            };
            match row {
                Ok(row) if row.state.is_terminal() => {
                    let s = Seen::Ended(row.state, row.end_ms.unwrap_or(now));
                    self.remember_end(id, s);
                    seen.insert(id, s);
                }
                // Another server's job (a shared database): as the store has it.
                Ok(row) => {
                    let s = match (row.state, row.start_ms) {
                        (JobState::Running, Some(at)) => Seen::Running(at),
                        _ => Seen::Waiting,
                    };
                    seen.insert(id, s);
                }
                Err(StoreError::NotFound) => {
                    seen.insert(id, Seen::Missing);
                }
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "could not read a job others wait for")
                }
            }
        }
        let steps = self.core.dependencies(&seen, now);
        if !steps.is_empty() {
            self.dirty = true;
        }
        self.apply_logged(steps, "a dependency's outcome").await;
    }

    /// An array as the jobs that wait for it see it: waiting while any of
    /// it waits, running from its first task's start while any runs, and
    /// ended once all have, `completed` only if every task completed (else
    /// as its first task that did not), at its last task's end.
    async fn array_outcome(&self, array: JobRow) -> Result<JobRow, StoreError> {
        let filter = JobFilter {
            array: Some(array.id),
            limit: u32::MAX,
            ..Default::default()
        };
        let rows = self.store.list(&filter).await?;
        let waits = array.array_task_id.is_none()
            && array
                .array_waiting
                .as_deref()
                .is_some_and(|w| !w.is_empty());
        let mut out = array;
        if waits || rows.iter().any(|r| !r.state.is_terminal()) {
            out.state = if rows.iter().any(|r| r.state == JobState::Running) {
                JobState::Running
            } else {
                JobState::Pending
            };
            out.start_ms = rows.iter().filter_map(|r| r.start_ms).min();
            return Ok(out);
        }
        out.state = rows
            .iter()
            .rev()
            .map(|r| r.state)
            .find(|s| *s != JobState::Completed)
            .unwrap_or(JobState::Completed);
        out.end_ms = rows.iter().filter_map(|r| r.end_ms).max();
        Ok(out)
    }

    /// Keeps how a job ended, for the jobs that wait for it.
    pub(super) fn remember_end(&mut self, id: aisc_model::JobId, s: Seen) {
        if self.ended.len() >= KEEP_ENDED {
            self.ended.clear();
        }
        self.ended.insert(id, s);
    }
}
