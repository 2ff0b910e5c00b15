//! Job arrays (`sbatch -a/--array`): the task list as Slurm reads it
//! (`0-15`, `1,3,5`, `1-9:2`, each with an optional `%N` throttle), the
//! folded form `squeue` prints (`5-15`, `1-9:2`), the variables each task
//! gets and `%A`/`%a` in output paths.
//!
//! An array is one job record while its tasks wait (its remaining tasks in
//! folded form beside it); each task that starts becomes a job record of its
//! own, `<array id>_<task>`, and the last one takes the array's own record.

use crate::JobId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Slurm's default `MaxArraySize`: task ids run from 0 to one less.
pub const DEFAULT_MAX_ARRAY_SIZE: u32 = 10_001;

/// The largest `MaxArraySize` Slurm accepts, and so the largest
/// `--max-array-size` a server may set.
pub const HARD_MAX_ARRAY_SIZE: u32 = 4_000_001;

/// An array's task ids, ascending and without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tasks(Vec<u32>);

impl Tasks {
    /// Task ids as given (sorted, repeats dropped).
    pub fn from_ids(mut ids: Vec<u32>) -> Tasks {
        ids.sort_unstable();
        ids.dedup();
        Tasks(ids)
    }

    /// Reads a task list without its throttle: `0-15`, `1,3,5`, `1-9:2`,
    /// or several of them separated by commas. Every id must be below
    /// `max_size` (Slurm's `MaxArraySize`).
    pub fn parse(text: &str, max_size: u32) -> Result<Tasks, String> {
        let mut ids = Vec::new();
        for item in text.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(format!("{text:?}: an empty item"));
            }
            let (range, step) = match item.split_once(':') {
                Some((r, s)) => (r, Some(s)),
                None => (item, None),
            };
            let num = |s: &str| {
                s.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("{item:?} is not a task id, a range A-B or A-B:STEP"))
            };
            let (first, last) = match range.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                None if step.is_some() => {
                    return Err(format!("{item:?}: a step needs a range (A-B:STEP)"));
                }
                None => {
                    let n = num(range)?;
                    (n, n)
                }
            };
            if last < first {
                return Err(format!("{item:?}: the range ends before it begins"));
            }
            let step = match step.map(num).transpose()? {
                Some(0) => return Err(format!("{item:?}: the step must be at least 1")),
                Some(s) => s,
                None => 1,
            };
            if last >= max_size {
                return Err(format!(
                    "task {last} is above the largest task id allowed, {} (the maximum array size is {max_size})",
                    max_size - 1
                ));
            }
            // Counted before anything is allocated: a list is an attacker's input.
            let count = (last - first) / step + 1;
            if ids.len() + count as usize > max_size as usize {
                return Err(format!(
                    "more than {max_size} tasks (the maximum array size)"
                ));
            }
            ids.extend((first..=last).step_by(step as usize));
        }
        Ok(Tasks::from_ids(ids))
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The lowest.
    pub fn first(&self) -> Option<u32> {
        self.0.first().copied()
    }

    /// The highest.
    pub fn last(&self) -> Option<u32> {
        self.0.last().copied()
    }

    /// Whether `task` is among them.
    pub fn contains(&self, task: u32) -> bool {
        self.0.binary_search(&task).is_ok()
    }

    /// Takes out the lowest.
    pub fn pop_first(&mut self) -> Option<u32> {
        (!self.0.is_empty()).then(|| self.0.remove(0))
    }

    /// Takes `task` out; false if it was not there.
    pub fn remove(&mut self, task: u32) -> bool {
        match self.0.binary_search(&task) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Puts `task` back.
    pub fn insert(&mut self, task: u32) {
        if let Err(i) = self.0.binary_search(&task) {
            self.0.insert(i, task);
        }
    }

    /// The ids, ascending.
    pub fn ids(&self) -> &[u32] {
        &self.0
    }
}

/// Folded as `squeue` prints it: runs of consecutive ids as `A-B`, runs of
/// three or more with one step as `A-B:S`, others one by one.
impl fmt::Display for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.0;
        let mut i = 0;
        let mut first = true;
        while i < v.len() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            let step = v.get(i + 1).map(|n| n - v[i]);
            let mut j = i;
            if let Some(step) = step {
                while j + 1 < v.len() && v[j + 1] - v[j] == step {
                    j += 1;
                }
            }
            let run = j - i + 1;
            match step {
                Some(1) if run >= 2 => write!(f, "{}-{}", v[i], v[j])?,
                Some(s) if run >= 3 => write!(f, "{}-{}:{s}", v[i], v[j])?,
                _ => {
                    write!(f, "{}", v[i])?;
                    j = i;
                }
            }
            i = j + 1;
        }
        Ok(())
    }
}

impl Serialize for Tasks {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Tasks {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Tasks, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() {
            return Ok(Tasks::default());
        }
        Tasks::parse(&text, HARD_MAX_ARRAY_SIZE).map_err(serde::de::Error::custom)
    }
}

/// `--array`: the tasks and how many may run at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Array {
    /// Every task id.
    pub tasks: Tasks,
    /// `%N`: at most this many tasks run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<u32>,
}

impl Array {
    /// Reads `--array`'s value: a task list and an optional `%N`.
    pub fn parse(value: &str, max_size: u32) -> Result<Array, String> {
        let (list, throttle) = match value.split_once('%') {
            Some((l, t)) => {
                let t = t
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| format!("%{t}: the throttle is a number of tasks"))?;
                if t == 0 {
                    return Err("%0: at least one task must be allowed to run".into());
                }
                (l, Some(t))
            }
            None => (value, None),
        };
        Ok(Array {
            tasks: Tasks::parse(list, max_size)?,
            throttle,
        })
    }

    /// The variables Slurm gives every task of this array (but the task's own id).
    pub fn vars(&self, array: JobId, task: u32) -> Vec<(&'static str, String)> {
        vec![
            ("SLURM_ARRAY_JOB_ID", array.to_string()),
            ("SLURM_ARRAY_TASK_ID", task.to_string()),
            ("SLURM_ARRAY_TASK_COUNT", self.tasks.len().to_string()),
            (
                "SLURM_ARRAY_TASK_MIN",
                self.tasks.first().unwrap_or(0).to_string(),
            ),
            (
                "SLURM_ARRAY_TASK_MAX",
                self.tasks.last().unwrap_or(0).to_string(),
            ),
        ]
    }
}

/// Which array a job is a task of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOf {
    /// The array's id (`SLURM_ARRAY_JOB_ID`).
    pub array: JobId,
    /// The task's id (`SLURM_ARRAY_TASK_ID`).
    pub task: u32,
}

impl fmt::Display for TaskOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.array, self.task)
    }
}

/// A job named as users name it: `123`, or `123_4` for task 4 of array 123.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobRef {
    /// The job, or the array.
    pub id: JobId,
    /// The task of that array, if one is named.
    pub task: Option<u32>,
}

impl From<JobId> for JobRef {
    fn from(id: JobId) -> JobRef {
        JobRef { id, task: None }
    }
}

impl std::str::FromStr for JobRef {
    type Err = String;

    fn from_str(s: &str) -> Result<JobRef, String> {
        let bad = || format!("{s:?} is not a job id (N, or N_T for task T of array N)");
        let (id, task) = match s.split_once('_') {
            Some((a, t)) => (a, Some(t.parse::<u32>().map_err(|_| bad())?)),
            None => (s, None),
        };
        match id.parse::<i64>() {
            Ok(n) if n > 0 => Ok(JobRef { id: JobId(n), task }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for JobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.task {
            Some(t) => write!(f, "{}_{t}", self.id),
            None => write!(f, "{}", self.id),
        }
    }
}

/// `%A` (the array's id) and `%a` (the task's) in an output pattern, as
/// `sbatch -o` expands them for a task; `%%` and every other `%` sequence
/// are left for the engine's own expansion (`%j`, `%x`, `%u`).
pub fn expand_task(pattern: &str, of: TaskOf) -> String {
    crate::engine::expand_with(pattern, |c| match c {
        'A' => Some(of.array.to_string()),
        'a' => Some(of.task.to_string()),
        _ => None,
    })
}

impl crate::JobSpec {
    /// The spec of task `task` of the array `array` whose spec this is: the
    /// array's variables in its environment, `%A` and `%a` expanded in its
    /// output paths, and no tasks of its own.
    pub fn task(&self, array: JobId, task: u32) -> crate::JobSpec {
        let of = TaskOf { array, task };
        let mut spec = self.clone();
        if let Some(a) = spec.array.take() {
            for (k, v) in a.vars(array, task) {
                spec.env.insert(k.to_string(), v);
            }
        }
        spec.output = spec.output.map(|p| expand_task(&p, of));
        spec.error = spec.error.map(|p| expand_task(&p, of));
        spec.task_of = Some(of);
        spec
    }
}

/// How an array is shown while some tasks wait: `123_[5-15%4]`.
pub fn folded(array: JobId, waiting: &Tasks, throttle: Option<u32>) -> String {
    match throttle {
        Some(t) => format!("{array}_[{waiting}%{t}]"),
        None => format!("{array}_[{waiting}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn task_lists_read_as_slurm_reads_them() {
        let ids = |s: &str| Array::parse(s, DEFAULT_MAX_ARRAY_SIZE).unwrap().tasks.0;
        assert_eq!(ids("0-3"), vec![0, 1, 2, 3]);
        assert_eq!(ids("1,3,5"), vec![1, 3, 5]);
        assert_eq!(ids("1-9:2"), vec![1, 3, 5, 7, 9]);
        assert_eq!(ids("7,1-2,7"), vec![1, 2, 7]);
        let a = Array::parse("0-15%4", DEFAULT_MAX_ARRAY_SIZE).unwrap();
        assert_eq!((a.tasks.len(), a.throttle), (16, Some(4)));
    }

    #[test]
    fn bad_task_lists_say_what_is_wrong() {
        let err = |s: &str| Array::parse(s, 1001).unwrap_err();
        assert!(err("5-1").contains("ends before"), "{}", err("5-1"));
        assert!(err("1-9:0").contains("step"));
        assert!(err("x").contains("not a task id"));
        assert!(err("0-3%0").contains("at least one"));
        assert!(err("0-3%x").contains("throttle"));
        assert!(err("1,,2").contains("empty"));
        let big = err("0-1001");
        assert!(
            big.contains("1000") && big.contains("1001"),
            "names the limit: {big}"
        );
    }

    #[test]
    fn tasks_fold_as_squeue_prints_them() {
        let show = |ids: &[u32]| Tasks::from_ids(ids.to_vec()).to_string();
        assert_eq!(show(&[5, 6, 7, 8]), "5-8");
        assert_eq!(show(&[1, 3, 5, 7, 9]), "1-9:2");
        assert_eq!(show(&[1, 3]), "1,3");
        assert_eq!(show(&[1, 2, 3, 10, 20]), "1-3,10,20");
        assert_eq!(show(&[4]), "4");
        assert_eq!(
            folded(JobId(123), &Tasks::from_ids((5..=15).collect()), Some(4)),
            "123_[5-15%4]"
        );
    }

    #[test]
    fn job_refs_name_tasks() {
        let r: JobRef = "123_4".parse().unwrap();
        assert_eq!((r.id, r.task), (JobId(123), Some(4)));
        assert_eq!("9".parse::<JobRef>().unwrap().task, None);
        assert!("0".parse::<JobRef>().is_err());
        assert!("12_x".parse::<JobRef>().is_err());
        assert!("_4".parse::<JobRef>().is_err());
    }

    #[test]
    fn output_patterns_name_the_array_and_the_task() {
        let of = TaskOf {
            array: JobId(12),
            task: 3,
        };
        assert_eq!(expand_task("o-%A_%a-%j.%%a", of), "o-12_3-%j.%%a");
    }

    proptest! {
        /// Folding then reading again gives the same tasks.
        #[test]
        fn folding_is_read_back_exactly(ids in proptest::collection::vec(0u32..200, 0..60)) {
            let t = Tasks::from_ids(ids);
            let back: Tasks = serde_json::from_value(serde_json::to_value(&t).unwrap()).unwrap();
            prop_assert_eq!(back, t);
        }
    }
}
