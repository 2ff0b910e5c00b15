//! The driver's side of jobs waiting for others: what became of the jobs
//! they name that the core does not follow (read from the store once they
//! have ended, then kept), handed to the core each pass.

use super::Controller;
use crate::clock::now_ms;
use aisc_model::array::JobRef;
use aisc_model::dependency::Seen;
use aisc_model::{JobId, JobState};
use aisc_store::{JobFilter, JobRow, StoreError};
use std::collections::{BTreeMap, HashMap};

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
        // Tasks named one by one (N_T, aftercorr): one read of each array's tasks.
        let mut by_array: BTreeMap<JobId, Vec<u32>> = BTreeMap::new();
        for r in self.core.dependency_targets() {
            if let Some(s) = self.ended.get(&r) {
                seen.insert(r, *s);
                continue;
            }
            let id = match r.task {
                Some(t) => {
                    by_array.entry(r.id).or_default().push(t);
                    continue;
                }
                None => r.id,
            };
            let row = match self.store.job(id).await {
                Ok(row) if row.array_job_id == Some(id) => self.array_outcome(row).await,
                other => other,
            };
            match row {
                Ok(row) => {
                    let s = self.seen_as(&row, id.into(), now);
                    seen.insert(id.into(), s);
                }
                Err(StoreError::NotFound) => {
                    seen.insert(id.into(), Seen::Missing);
                }
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "could not read a job others wait for")
                }
            }
        }
        for (array, tasks) in by_array {
            let filter = JobFilter {
                array: Some(array),
                limit: u32::MAX,
                ..Default::default()
            };
            let rows = match self.store.list(&filter).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(job = %array, error = %e, "could not read an array others wait for");
                    continue;
                }
            };
            // Newest first: a task's newest record (a requeued copy's) is the one that counts.
            let mut newest: HashMap<u32, &JobRow> = HashMap::new();
            for row in &rows {
                if let Some(t) = row.array_task_id {
                    newest.entry(t).or_insert(row);
                }
            }
            for t in tasks {
                let r = JobRef {
                    id: array,
                    task: Some(t),
                };
                let s = match newest.get(&t) {
                    Some(row) => self.seen_as(row, r, now),
                    // Not one of its tasks (the core knows those that still wait).
                    None => Seen::Missing,
                };
                seen.insert(r, s);
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

    /// How a stored job is seen by the jobs that wait for it (an ended one
    /// kept: it does not change again).
    fn seen_as(&mut self, row: &JobRow, r: JobRef, now: i64) -> Seen {
        if row.state.is_terminal() {
            let s = Seen::Ended(row.state, row.end_ms.unwrap_or(now));
            self.remember_end(r, s);
            return s;
        }
        // Another server's job (a shared database), or a task: as the store has it.
        match (row.state, row.start_ms) {
            (JobState::Running, Some(at)) => Seen::Running(at),
            _ => Seen::Waiting,
        }
    }

    /// Keeps how a job ended, for the jobs that wait for it.
    pub(super) fn remember_end(&mut self, r: JobRef, s: Seen) {
        if self.ended.len() >= KEEP_ENDED {
            self.ended.clear();
        }
        self.ended.insert(r, s);
    }
}
