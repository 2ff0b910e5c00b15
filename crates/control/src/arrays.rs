//! Job arrays in the core: a waiting array is one job of the queue with
//! its waiting tasks beside it; the plan starts it once per task that fits
//! (at most its `%N` less the tasks already admitted), and each start takes
//! the lowest waiting task off it. A task is a job of its own from then on;
//! the last one takes the array's own record.

use crate::Queued;
use crate::core::Core;
use aisc_model::JobId;
use aisc_model::array::Tasks;

/// A task taken off a waiting array, to be stored before it goes further.
#[derive(Debug, Clone)]
pub struct Split {
    /// The array.
    pub array: JobId,
    /// The task.
    pub task: u32,
    /// The array's waiting tasks without it, folded (stored with the task).
    pub waiting: String,
    /// It was the last waiting task: the array's own record becomes it.
    pub last: bool,
    /// The array as it waited, where this was its last task (to put it
    /// back if the split cannot be stored).
    pub was: Option<Box<Queued>>,
}

impl Split {
    /// The task as a job: the array's spec made the task's (its variables,
    /// `%A`/`%a`), under the array's id until the store gives it its own
    /// (the last task keeps the array's).
    pub fn task(&self, array: &Queued) -> Queued {
        let mut q = array.clone();
        q.spec = array.spec.task(self.array, self.task);
        q.held = false;
        q
    }
}

impl Core {
    /// How many tasks of a waiting job may start in one pass: 1 for a job;
    /// for an array, its waiting tasks, within its `%N` less those admitted
    /// (0: it waits with `JobArrayTaskLimit`).
    pub fn copies(&self, q: &Queued) -> u32 {
        let Some(waiting) = self.queue.array_waiting(q.id) else {
            return 1;
        };
        let n = u32::try_from(waiting.len()).unwrap_or(u32::MAX);
        match q.spec.array.as_ref().and_then(|a| a.throttle) {
            Some(t) => n.min(t.saturating_sub(self.running.tasks_of(q.id))),
            None => n,
        }
    }

    /// Takes the lowest waiting task off the array `id` (which must wait for
    /// the scheduler); the array itself leaves the queue with its last task.
    pub(crate) fn split_next(&mut self, id: JobId) -> Option<(Queued, Split)> {
        if !self.queue.considered(id) {
            return None;
        }
        let task = self.queue.array_waiting_mut(id)?.pop_first()?;
        self.split_off(id, task)
    }

    /// Takes task `task` off the waiting array `id` (it is cancelled before
    /// it starts). `None` when the array does not wait with that task.
    pub fn split_task(&mut self, id: JobId, task: u32) -> Option<(Queued, Split)> {
        if !self.queue.array_waiting_mut(id)?.remove(task) {
            return None;
        }
        self.split_off(id, task)
    }

    /// Task `task`, just taken off the array `id`'s waiting tasks, as a job
    /// of its own; the array leaves the queue with its last task.
    fn split_off(&mut self, id: JobId, task: u32) -> Option<(Queued, Split)> {
        let waiting = self.queue.array_waiting(id)?;
        let mut split = Split {
            array: id,
            task,
            waiting: waiting.to_string(),
            last: waiting.is_empty(),
            was: None,
        };
        let array = if split.last {
            let q = self.queue.take(id)?;
            split.was = Some(Box::new(q.clone()));
            q
        } else {
            self.queue.get(id)?.clone()
        };
        Some((split.task(&array), split))
    }

    /// The store could not record a split: the task waits with its array
    /// again (the array itself put back where it was its last).
    pub fn split_failed(&mut self, split: Split) {
        if let Some(w) = self.queue.array_waiting_mut(split.array) {
            w.insert(split.task);
        } else if let Some(was) = split.was {
            self.queue
                .insert_array(*was, Tasks::from_ids(vec![split.task]));
        }
    }
}

#[cfg(test)]
mod tests;
