//! `--dependency`: when a job may start, given how the jobs it names went,
//! with Slurm's meaning: `after` (started, or ended without starting),
//! `afterany` (ended), `afterok` (completed), `afternotok` (ended otherwise),
//! `singleton` (no earlier job of the same name and user still waits or
//! runs); `,` joins conditions that must all hold, `?` conditions of which
//! one is enough; `after:ID+MIN` waits MIN minutes more.

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
}

impl After {
    fn name(self) -> &'static str {
        match self {
            After::Start => "after",
            After::Any => "afterany",
            After::Ok => "afterok",
            After::NotOk => "afternotok",
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
                "aftercorr" => {
                    return Err(
                        "aftercorr pairs the tasks of job arrays, which are not run yet".into(),
                    );
                }
                "afterburstbuffer" => return Err("this centre has no burst buffers".into()),
                k => {
                    return Err(format!(
                        "{k:?} is not a dependency type (after, afterany, afterok, afternotok, singleton)"
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
                if id.contains('_') {
                    return Err(format!(
                        "{id}: job arrays are not run yet, so no array task can be waited for"
                    ));
                }
                let id: i64 = id
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{id:?} is not a job id"))?;
                dep.conditions.push(Condition {
                    after,
                    job: JobId(id),
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

    /// The jobs it names.
    pub fn jobs(&self) -> impl Iterator<Item = JobId> + '_ {
        self.conditions.iter().map(|c| c.job)
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.any { "?" } else { "," };
        let mut parts: Vec<String> = self
            .conditions
            .iter()
            .map(|c| match c.delay_s {
                0 => format!("{}:{}", c.after.name(), c.job),
                d => format!("{}:{}+{}", c.after.name(), c.job, d / 60),
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

fn one(c: &Condition, seen: Seen) -> One {
    let name = c.after.name();
    match (c.after, seen) {
        (_, Seen::Missing) => One::Never(format!("job {} does not exist ({name})", c.job)),
        (After::Start, Seen::Running(at)) | (After::Start, Seen::Ended(_, at)) => {
            One::Met(at.saturating_add(i64::try_from(c.delay_s * 1000).unwrap_or(i64::MAX)))
        }
        (After::Any, Seen::Ended(_, at)) => One::Met(at),
        (After::Ok, Seen::Ended(JobState::Completed, at)) => One::Met(at),
        (After::Ok, Seen::Ended(s, _)) => One::Never(format!("job {} ended {s} ({name})", c.job)),
        (After::NotOk, Seen::Ended(JobState::Completed, _)) => {
            One::Never(format!("job {} completed ({name})", c.job))
        }
        (After::NotOk, Seen::Ended(_, at)) => One::Met(at),
        (After::Start, _) => One::Pending(format!("job {} to start ({name})", c.job)),
        (_, _) => One::Pending(format!("job {} to end ({name})", c.job)),
    }
}

/// Whether a job with `dep` may start at `now_ms`, given what `seen` says of
/// each job it names (`None`: not known now, so it waits) and, for
/// `singleton`, whether an earlier job of its name and user waits or runs.
pub fn verdict(
    dep: &Dependency,
    seen: impl Fn(JobId) -> Option<Seen>,
    earlier_namesake: bool,
    now_ms: i64,
) -> Verdict {
    let mut waits = Vec::new();
    let mut nevers = Vec::new();
    let mut met_at = Vec::new();
    for c in &dep.conditions {
        match seen(c.job).map(|s| one(c, s)) {
            None => waits.push(format!("job {} ({})", c.job, c.after.name())),
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
            "aftercorr:1",
            "afterburstbuffer:1",
            "later:1",
            "afterok:12_3",
        ] {
            assert!(Dependency::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn each_type_holds_as_slurm_says() {
        let d = |s: &str| Dependency::parse(s).unwrap();
        let at = |seen: Seen| move |_: JobId| Some(seen);
        let ok = Seen::Ended(JobState::Completed, 5);
        let failed = Seen::Ended(JobState::Failed, 5);
        assert_eq!(verdict(&d("afterok:1"), at(ok), false, 10), Verdict::Ready);
        assert!(matches!(
            verdict(&d("afterok:1"), at(failed), false, 10),
            Verdict::Never(_)
        ));
        assert_eq!(
            verdict(&d("afternotok:1"), at(failed), false, 10),
            Verdict::Ready
        );
        assert!(matches!(
            verdict(&d("afternotok:1"), at(ok), false, 10),
            Verdict::Never(_)
        ));
        assert_eq!(
            verdict(&d("afterany:1"), at(failed), false, 10),
            Verdict::Ready
        );
        assert!(matches!(
            verdict(&d("afterany:1"), at(Seen::Running(1)), false, 10),
            Verdict::Wait { .. }
        ));
        assert_eq!(
            verdict(&d("after:1"), at(Seen::Running(1)), false, 10),
            Verdict::Ready
        );
        assert_eq!(
            verdict(&d("after:1+1"), at(Seen::Running(1)), false, 10),
            Verdict::Wait {
                on: "a delay after a job it waits for".into(),
                until_ms: Some(60_001)
            }
        );
        assert!(matches!(
            verdict(&d("afterok:1"), at(Seen::Missing), false, 10),
            Verdict::Never(_)
        ));
        assert!(matches!(
            verdict(&d("afterok:1"), |_| None, false, 10),
            Verdict::Wait { .. }
        ));
        assert!(matches!(
            verdict(&d("singleton"), |_| None, true, 10),
            Verdict::Wait { .. }
        ));
        assert_eq!(
            verdict(&d("singleton"), |_| None, false, 10),
            Verdict::Ready
        );
    }
}
