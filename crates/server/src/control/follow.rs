//! Jobs that another server accepted (PostgreSQL, several servers on one
//! database): only the leader runs this loop, and it learns of jobs submitted
//! through the other servers by polling for pending ones.
//!
//! A job is queued at most once whichever way it arrives: the poll reads
//! pending jobs with ids above `seen`, in order, and skips those already
//! known; a local submission with an id the poll has passed is dropped (the
//! poll saw it pending then, or it had already left pending).

use super::{Controller, Queued};
use aisc_model::JobId;
use aisc_store::JobRow;
use std::time::Duration;

/// How often the leader looks for jobs accepted elsewhere.
pub(super) const POLL: Duration = Duration::from_millis(200);

/// The most jobs one poll queues.
const POLL_BATCH: u32 = 4096;

impl Controller {
    /// Reads jobs as another server may share this database.
    pub fn share_database(&mut self) {
        self.shared_db = true;
    }

    /// Whether a job submitted through this server should be queued now.
    pub(super) fn accepts(&self, id: JobId) -> bool {
        id > self.seen && !self.knows(id)
    }

    fn knows(&self, id: JobId) -> bool {
        self.core.queue.contains(id) || self.core.running.contains(id)
    }

    /// Queues pending jobs that another server accepted since the last poll:
    /// their ids first (cheap when every one is known, as with one server),
    /// then the unknown ones whole.
    pub(super) async fn poll_new_jobs(&mut self) {
        let ids = match self.store.pending_ids_after(self.seen, POLL_BATCH).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "polling for jobs accepted elsewhere failed");
                return;
            }
        };
        let Some(last) = ids.last().copied() else {
            return;
        };
        let unknown: Vec<JobId> = ids.into_iter().filter(|id| !self.knows(*id)).collect();
        if !unknown.is_empty() {
            let rows = match self.store.pending_jobs(&unknown).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "reading jobs accepted elsewhere failed");
                    return;
                }
            };
            for row in rows {
                if let Some(q) = queued(&row) {
                    enqueue(&mut self.core.queue, q, &row);
                    self.dirty = true;
                }
            }
        }
        self.seen = self.seen.max(last);
    }

    /// After recovery every pending job up to `id` is known.
    pub(super) fn seen_up_to(&mut self, id: JobId) {
        self.seen = self.seen.max(id);
    }
}

/// A stored pending job as the queue holds it (`None` once its spec is gone).
pub(super) fn queued(row: &JobRow) -> Option<Queued> {
    Some(Queued {
        id: row.id,
        user: row.owner_name.clone(),
        owner: row.owner,
        org: row.org,
        spec: row.spec.clone()?,
        held: row.held,
        project: row.project,
        charging: row.charging,
        submit_ms: row.submit_ms,
        restarts: row.restarts,
    })
}

/// Queues a stored pending job; an array with the tasks of it that still wait.
pub(super) fn enqueue(queue: &mut aisc_control::queue::Queue, q: Queued, row: &JobRow) {
    let waiting = match (row.array_job_id, row.array_task_id, &row.array_waiting) {
        (Some(a), None, Some(w)) if a == row.id && w.is_empty() => Some(Default::default()),
        (Some(a), None, Some(w)) if a == row.id => {
            match aisc_model::array::Tasks::parse(w, aisc_model::array::HARD_MAX_ARRAY_SIZE) {
                Ok(t) => Some(t),
                Err(e) => {
                    // Never the whole array again: none of it runs, and it says why.
                    tracing::error!(job = %row.id, error = %e, "an array's waiting tasks cannot be read");
                    Some(Default::default())
                }
            }
        }
        _ => None,
    };
    match waiting {
        Some(w) => queue.insert_array(q, w),
        None => queue.insert(q),
    }
}
