//! `--dependency`: when a job may start, given how the jobs it names went,
//! with Slurm's meaning: `after` (started, or ended without starting),
//! `afterany` (ended), `afterok` (completed), `afternotok` (ended otherwise),
//! `singleton` (no earlier job of the same name and user still waits or
//! runs), `aftercorr` (each task of an array after the same task of another
//! array completed); `,` joins conditions that must all hold, `?` conditions
//! of which one is enough; `after:ID+MIN` waits MIN minutes more. A job
//! named `N_T` is task T of array N; `N` alone is all of an array.

use crate::array::JobRef;
use crate::{JobId, JobState};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The most jobs one dependency may name.
pub const MAX_JOBS: usize = 1000;

/// What a condition waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum After {
    /// The job started (or ended without starting).
    Start,
    /// The job ended, however.
    Any,
    /// The job completed (exit status 0).
    Ok,
    /// The job ended otherwise (failed, timed out, cancelled, preempted).
    NotOk,
    /// Each task of this array waits for the same task of that array to
    /// complete (`aftercorr`).
    Corr,
}

impl After {
    fn name(self) -> &'static str {
        match self {
            After::Start => "after",
            After::Any => "afterany",
            After::Ok => "afterok",
            After::NotOk => "afternotok",
            After::Corr => "aftercorr",
        }
    }
}

/// One job waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// For what.
    pub after: After,
    /// The job.
    pub job: JobId,
    /// Its task, when one task of an array is named (`N_T`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<u32>,
    /// Seconds more after the event (`after:ID+MIN` only).
    #[serde(default)]
    pub delay_s: u64,
}

/// A job's dependency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// One condition is enough (`?`); otherwise all must hold (`,`).
    pub any: bool,
    /// The jobs waited for.
    pub conditions: Vec<Condition>,
    /// `singleton`: no earlier job of the same name and user waits or runs.
    #[serde(default)]
    pub singleton: bool,
}

impl Dependency {
    /// Reads `--dependency`'s value.
    pub fn parse(value: &str) -> Result<Dependency, String> {
        let (any, parts): (bool, Vec<&str>) = match (value.contains(','), value.contains('?')) {
            (true, true) => {
                return Err("use , (all) or ? (any) between conditions, not both".into());
            }
            (_, true) => (true, value.split('?').collect()),
            _ => (false, value.split(',').collect()),
        };
        let mut dep = Dependency {
            any,
            conditions: Vec::new(),
            singleton: false,
        };
        for part in parts {
            let part = part.trim();
            if part == "singleton" {
                dep.singleton = true;
                continue;
            }
            let (kind, jobs) = part
                .split_once(':')
                .ok_or_else(|| format!("{part:?}: use TYPE:JOBID[:JOBID...] or singleton"))?;
            let after = match kind {
                "after" => After::Start,
                "afterany" => After::Any,
                "afterok" => After::Ok,
                "afternotok" => After::NotOk,
                "aftercorr" => After::Corr,
                "afterburstbuffer" => return Err("this centre has no burst buffers".into()),
                k => {
                    return Err(format!(
                        "{k:?} is not a dependency type (after, afterany, afterok, afternotok, aftercorr, singleton)"
                    ));
                }
            };
            for job in jobs.split(':') {
                let (id, delay) = match job.split_once('+') {
                    Some((id, min)) if after == After::Start => {
                        let min: u64 = min.parse().map_err(|_| {
                            format!("{job:?}: +{min} is not a whole number of minutes")
                        })?;
                        (id, min.saturating_mul(60))
                    }
                    Some(_) => {
                        return Err(format!(
                            "{part:?}: +MINUTES goes with after only, as in Slurm"
                        ));
                    }
                    None => (job, 0),
                };
                let r: JobRef = id.parse().map_err(|_| {
                    format!("{id:?} is not a job id (N, or N_T for task T of array N)")
                })?;
                if after == After::Corr && r.task.is_some() {
                    return Err(format!(
                        "aftercorr:{id}: name the array (aftercorr pairs each task with the same task of it)"
                    ));
                }
                dep.conditions.push(Condition {
                    after,
                    job: r.id,
                    task: r.task,
                    delay_s: delay,
                });
            }
        }
        if dep.conditions.len() > MAX_JOBS {
            return Err(format!(
                "{} jobs named; at most {MAX_JOBS}",
                dep.conditions.len()
            ));
        }
        if dep.conditions.is_empty() && !dep.singleton {
            return Err("no job named".into());
        }
        Ok(dep)
    }

    /// The jobs it names (the array, for a task of one).
    pub fn jobs(&self) -> impl Iterator<Item = JobId> + '_ {
        self.conditions.iter().map(|c| c.job)
    }

    /// Whether it pairs an array's tasks with another's (`aftercorr`).
    pub fn pairs_tasks(&self) -> bool {
        self.conditions.iter().any(|c| c.after == After::Corr)
    }

    /// What it waits for, for task `own` of the array that depends (or for
    /// a job that is not a task): each condition's job, with `aftercorr`'s
    /// task the same as `own` (none where `own` is none: a whole array
    /// waits task by task).
    pub fn targets(&self, own: Option<u32>) -> impl Iterator<Item = JobRef> + '_ {
        self.conditions.iter().filter_map(move |c| match c.after {
            After::Corr => own.map(|t| JobRef {
                id: c.job,
                task: Some(t),
            }),
            _ => Some(JobRef {
                id: c.job,
                task: c.task,
            }),
        })
    }
}

impl Condition {
    fn target(&self) -> JobRef {
        JobRef {
            id: self.job,
            task: self.task,
        }
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.any { "?" } else { "," };
        let mut parts: Vec<String> = self
            .conditions
            .iter()
            .map(|c| match c.delay_s {
                0 => format!("{}:{}", c.after.name(), c.target()),
                d => format!("{}:{}+{}", c.after.name(), c.target(), d / 60),
            })
            .collect();
        if self.singleton {
            parts.push("singleton".into());
        }
        f.write_str(&parts.join(sep))
    }
}

/// What is known of a job waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// It waits.
    Waiting,
    /// It runs, since then (epoch ms).
    Running(i64),
    /// It ended, in this state, then (epoch ms).
    Ended(JobState, i64),
    /// There is no such job.
    Missing,
}

/// Whether a job may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It may.
    Ready,
    /// Not yet: it waits for this (and, if known, until then, epoch ms).
    Wait {
        /// What it waits for, in words.
        on: String,
        /// When a delay runs out, if that is all it waits for.
        until_ms: Option<i64>,
    },
    /// Never: it is cancelled, saying why.
    Never(String),
}

enum One {
    Met(i64),
    Pending(String),
    Never(String),
}

fn one(c: &Condition, job: JobRef, seen: Seen) -> One {
    let name = c.after.name();
    let after = match c.after {
        After::Corr => After::Ok,
        a => a,
    };
    match (after, seen) {
        (_, Seen::Missing) => One::Never(format!("job {job} does not exist ({name})")),
        (After::Start, Seen::Running(at)) | (After::Start, Seen::Ended(_, at)) => {
            One::Met(at.saturating_add(i64::try_from(c.delay_s * 1000).unwrap_or(i64::MAX)))
        }
        (After::Any, Seen::Ended(_, at)) => One::Met(at),
        (After::Ok, Seen::Ended(JobState::Completed, at)) => One::Met(at),
        (After::Ok, Seen::Ended(s, _)) => One::Never(format!("job {job} ended {s} ({name})")),
        (After::NotOk, Seen::Ended(JobState::Completed, _)) => {
            One::Never(format!("job {job} completed ({name})"))
        }
        (After::NotOk, Seen::Ended(_, at)) => One::Met(at),
        (After::Start, _) => One::Pending(format!("job {job} to start ({name})")),
        (_, _) => One::Pending(format!("job {job} to end ({name})")),
    }
}

/// Whether a job with `dep` may start at `now_ms`, given what `seen` says of
/// each job it names (`None`: not known now, so it waits) and, for
/// `singleton`, whether an earlier job of its name and user waits or runs.
/// `own` is the job's task of its array (`aftercorr` waits for the same
/// task of the array it names); a whole array with `aftercorr` waits, each
/// of its tasks being decided on its own.
pub fn verdict(
    dep: &Dependency,
    seen: impl Fn(JobRef) -> Option<Seen>,
    own: Option<u32>,
    earlier_namesake: bool,
    now_ms: i64,
) -> Verdict {
    let mut waits = Vec::new();
    let mut nevers = Vec::new();
    let mut met_at = Vec::new();
    for c in &dep.conditions {
        let job = match (c.after, own) {
            (After::Corr, Some(t)) => JobRef {
                id: c.job,
                task: Some(t),
            },
            (After::Corr, None) => {
                waits.push(format!(
                    "each task for the same task of job {} (aftercorr)",
                    c.job
                ));
                continue;
            }
            _ => c.target(),
        };
        match seen(job).map(|s| one(c, job, s)) {
            None => waits.push(format!("job {job} ({})", c.after.name())),
            Some(One::Pending(w)) => waits.push(w),
            Some(One::Never(n)) => nevers.push(n),
            Some(One::Met(at)) => met_at.push(at),
        }
    }
    if dep.singleton && earlier_namesake {
        waits.push("an earlier job of the same name and user (singleton)".into());
    }
    if dep.any {
        if let Some(at) = met_at.iter().min() {
            return if *at <= now_ms {
                Verdict::Ready
            } else {
                Verdict::Wait {
                    on: "a delay after a job it waits for".into(),
                    until_ms: Some(*at),
                }
            };
        }
        if waits.is_empty() && !nevers.is_empty() {
            return Verdict::Never(nevers.join("; "));
        }
    } else {
        if !nevers.is_empty() {
            return Verdict::Never(nevers.join("; "));
        }
        if waits.is_empty() {
            let last = met_at.iter().max().copied().unwrap_or(now_ms);
            return if last <= now_ms {
                Verdict::Ready
            } else {
                Verdict::Wait {
                    on: "a delay after a job it waits for".into(),
                    until_ms: Some(last),
                }
            };
        }
    }
    Verdict::Wait {
        on: waits.join(", "),
        until_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurms_forms_are_read() {
        let d = Dependency::parse("afterok:12:13,afterany:14,after:15+5,singleton").unwrap();
        assert!(!d.any && d.singleton);
        assert_eq!(d.conditions.len(), 4);
        assert_eq!(d.conditions[3].delay_s, 300);
        assert_eq!(
            d.to_string(),
            "afterok:12,afterok:13,afterany:14,after:15+5,singleton"
        );
        assert!(Dependency::parse("afterok:1?afternotok:2").unwrap().any);
        for bad in [
            "",
            "afterok",
            "afterok:x",
            "afterok:0",
            "afterok:1,afterok:2?afterok:3",
            "afterok:1+5",
            "aftercorr:1_2",
            "afterburstbuffer:1",
            "later:1",
            "afterok:12_x",
        ] {
            assert!(Dependency::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn each_type_holds_as_slurm_says() {
        let d = |s: &str| Dependency::parse(s).unwrap();
        let at = |seen: Seen| move |_: JobRef| Some(seen);
        let ok = Seen::Ended(JobState::Completed, 5);
        let failed = Seen::Ended(JobState::Failed, 5);
        assert_eq!(
            verdict(&d("afterok:1"), at(ok), None, false, 10),
            Verdict::Ready
        );
        assert!(matches!(
            verdict(&d("afterok:1"), at(failed), None, false, 10),
            Verdict::Never(_)
        ));
        assert_eq!(
            verdict(&d("afternotok:1"), at(failed), None, false, 10),
            Verdict::Ready
        );
        assert!(matches!(
            verdict(&d("afternotok:1"), at(ok), None, false, 10),
            Verdict::Never(_)
        ));
        assert_eq!(
            verdict(&d("afterany:1"), at(failed), None, false, 10),
            Verdict::Ready
        );
        assert!(matches!(
            verdict(&d("afterany:1"), at(Seen::Running(1)), None, false, 10),
            Verdict::Wait { .. }
        ));
        assert_eq!(
            verdict(&d("after:1"), at(Seen::Running(1)), None, false, 10),
            Verdict::Ready
        );
        assert_eq!(
            verdict(&d("after:1+1"), at(Seen::Running(1)), None, false, 10),
            Verdict::Wait {
                on: "a delay after a job it waits for".into(),
                until_ms: Some(60_001)
            }
        );
        assert!(matches!(
            verdict(&d("afterok:1"), at(Seen::Missing), None, false, 10),
            Verdict::Never(_)
        ));
        assert!(matches!(
            verdict(&d("afterok:1"), |_| None, None, false, 10),
            Verdict::Wait { .. }
        ));
        assert!(matches!(
            verdict(&d("singleton"), |_| None, None, true, 10),
            Verdict::Wait { .. }
        ));
        assert_eq!(
            verdict(&d("singleton"), |_| None, None, false, 10),
            Verdict::Ready
        );
    }

    #[test]
    fn a_task_of_an_array_and_aftercorr_name_tasks() {
        let d = Dependency::parse("afterok:12_3,aftercorr:14").unwrap();
        assert_eq!(d.to_string(), "afterok:12_3,aftercorr:14");
        assert!(d.pairs_tasks());
        let task = |id: i64, t: u32| JobRef {
            id: JobId(id),
            task: Some(t),
        };
        assert_eq!(
            d.targets(Some(5)).collect::<Vec<_>>(),
            [task(12, 3), task(14, 5)]
        );
        assert_eq!(d.targets(None).collect::<Vec<_>>(), [task(12, 3)]);
        let ok = Seen::Ended(JobState::Completed, 5);
        // Task 5 waits for task 5 of 14, which completed; and for 12_3.
        let seen = |r: JobRef| (r == task(14, 5) || r == task(12, 3)).then_some(ok);
        assert_eq!(verdict(&d, seen, Some(5), false, 10), Verdict::Ready);
        let failed = |r: JobRef| {
            Some(if r == task(14, 6) {
                Seen::Ended(JobState::Failed, 5)
            } else {
                ok
            })
        };
        let Verdict::Never(why) = verdict(&d, failed, Some(6), false, 10) else {
            panic!("a failed pair never lets the task run");
        };
        assert_eq!(why, "job 14_6 ended failed (aftercorr)");
        // The whole array waits: its tasks are decided one by one.
        let Verdict::Wait { on, .. } = verdict(&d, seen, None, false, 10) else {
            panic!("the array waits");
        };
        assert!(
            on.contains("each task for the same task of job 14 (aftercorr)"),
            "{on}"
        );
    }
}
