//! The job state machine: `pending → admitted → running → completed | failed |
//! cancelled | timed_out | preempted`, and `running → pending` for a job
//! requeued (it keeps its id; its next run is settled on its own). Every transition carries a reason; the
//! store records each one, so a job's history is always explainable.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted and stored; waiting for the scheduler.
    Pending,
    /// Chosen by the scheduler and given a placement; being started.
    Admitted,
    /// Its processes run.
    Running,
    /// Exited with status 0.
    Completed,
    /// Exited non-zero, was killed by a signal it did not ask for, or was lost.
    Failed,
    /// Cancelled by a user before or while it ran.
    Cancelled,
    /// Killed for running past its time limit.
    TimedOut,
    /// Stopped to make room for more important work.
    Preempted,
}

/// Every state, in lifecycle order.
pub const ALL_STATES: [JobState; 8] = [
    JobState::Pending,
    JobState::Admitted,
    JobState::Running,
    JobState::Completed,
    JobState::Failed,
    JobState::Cancelled,
    JobState::TimedOut,
    JobState::Preempted,
];

impl JobState {
    /// The live states: not finished (the one list every layer derives its
    /// own from: the store's queries, the CLI's filters, the API's docs).
    pub const LIVE: [JobState; 3] = [JobState::Pending, JobState::Admitted, JobState::Running];

    /// Live and not yet running: a job here has a reason it waits.
    pub const WAITING: [JobState; 2] = [JobState::Pending, JobState::Admitted];

    /// Live and holding resources: placed, started or starting.
    pub const PLACED: [JobState; 2] = [JobState::Admitted, JobState::Running];

    /// The names of `states`, comma-separated (`pending, admitted`).
    pub fn names(states: &[JobState]) -> String {
        states
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The name used in the API, the CLI and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Admitted => "admitted",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::TimedOut => "timed_out",
            JobState::Preempted => "preempted",
        }
    }

    /// A terminal state never changes again.
    pub fn is_terminal(self) -> bool {
        !JobState::LIVE.contains(&self)
    }

    /// Whether `self → to` is a legal step.
    pub fn can_become(self, to: JobState) -> bool {
        use JobState::*;
        match self {
            Pending => matches!(to, Admitted | Cancelled | Failed),
            Admitted => matches!(to, Running | Pending | Cancelled | Failed),
            // Back to pending: requeued (`aisc requeue`, or preempted with `--requeue`).
            Running => matches!(
                to,
                Pending | Completed | Failed | Cancelled | TimedOut | Preempted
            ),
            Completed | Failed | Cancelled | TimedOut | Preempted => false,
        }
    }

    /// Checks `self → to`, returning the new state or why it is refused.
    pub fn transition(self, to: JobState) -> Result<JobState, InvalidTransition> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(InvalidTransition { from: self, to })
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one of [`ALL_STATES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job state {0:?} (expected one of {names})", names = JobState::names(&ALL_STATES))]
pub struct UnknownState(pub String);

impl FromStr for JobState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_STATES
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownState(s.to_string()))
    }
}

/// A step the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} job cannot become {to}")]
pub struct InvalidTransition {
    /// The state the job is in.
    pub from: JobState,
    /// The state that was asked for.
    pub to: JobState,
}

/// Why a pending job waits, in words a user understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PendingReason {
    /// A job ahead of it in the queue must start first.
    Priority,
    /// Not enough free GPUs, CPUs or memory right now.
    Resources,
    /// Resources are reserved for a higher-priority job.
    Reservation,
    /// The grant's remaining balance cannot cover the job's worst case.
    GrantExhausted,
    /// A per-project limit is reached.
    QuotaLimit,
    /// Held by its owner or an operator until released.
    Held,
    /// The engine that would run it cannot be reached.
    EngineUnavailable,
    /// It waits for other jobs (`--dependency`).
    Dependency,
    /// Its start time has not come (`--begin`).
    BeginTime,
    /// As many of its array's tasks run as its `%N` allows.
    JobArrayTaskLimit,
}

impl PendingReason {
    /// The reason's name as shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            PendingReason::Priority => "Priority",
            PendingReason::Resources => "Resources",
            PendingReason::Reservation => "Reservation",
            PendingReason::GrantExhausted => "GrantExhausted",
            PendingReason::QuotaLimit => "QuotaLimit",
            PendingReason::Held => "Held",
            PendingReason::EngineUnavailable => "EngineUnavailable",
            PendingReason::Dependency => "Dependency",
            PendingReason::BeginTime => "BeginTime",
            PendingReason::JobArrayTaskLimit => "JobArrayTaskLimit",
        }
    }
}

impl fmt::Display for PendingReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a job is charged to: a grant, the list price per GPU-hour in force
/// when it was submitted, and the lien its worst case holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charging {
    /// The grant.
    pub grant: i64,
    /// HK cents per GPU-hour.
    pub price_cents: i64,
    /// HK cents held while it is admitted or running.
    pub lien_cents: i64,
    /// Which run of the job this is: 0, then one more each time it is
    /// requeued. Each run holds a lien of its own and is settled on its own.
    pub run: u32,
}

/// Columns a transition may set besides the state; `None` leaves a column as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// Node.
    pub node: Option<String>,
    /// GPU indices.
    pub gpu_ids: Option<Vec<u32>>,
    /// Process id.
    pub pid: Option<i64>,
    /// Process start time.
    pub pid_start: Option<u64>,
    /// Output path.
    pub stdout_path: Option<String>,
    /// Error path.
    pub stderr_path: Option<String>,
    /// Start time.
    pub start_ms: Option<i64>,
    /// End time.
    pub end_ms: Option<i64>,
    /// Exit status.
    pub exit_code: Option<i32>,
    /// Ending signal.
    pub signal: Option<i32>,
    /// Metered wall time.
    pub wall_ms: Option<u64>,
    /// Metered GPU time.
    pub gpu_ms: Option<u64>,
    /// Metered CPU time.
    pub cpu_ms: Option<u64>,
    /// The engine's id for the job.
    pub engine_job_id: Option<i64>,
    /// First hand-over to an engine with its own queue (kept once set).
    pub engine_submit_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_is_legal() {
        let s = JobState::Pending;
        let s = s.transition(JobState::Admitted).unwrap();
        let s = s.transition(JobState::Running).unwrap();
        assert_eq!(s.transition(JobState::Completed), Ok(JobState::Completed));
    }

    #[test]
    fn terminal_states_never_move() {
        for from in ALL_STATES.into_iter().filter(|s| s.is_terminal()) {
            for to in ALL_STATES {
                assert!(!from.can_become(to), "{from} -> {to} must be refused");
            }
        }
    }

    #[test]
    fn a_pending_job_cannot_skip_to_running_or_finish_normally() {
        for to in [
            JobState::Running,
            JobState::Completed,
            JobState::TimedOut,
            JobState::Preempted,
        ] {
            assert_eq!(
                JobState::Pending.transition(to),
                Err(InvalidTransition {
                    from: JobState::Pending,
                    to
                })
            );
        }
    }

    #[test]
    fn only_running_jobs_time_out_or_complete() {
        for from in ALL_STATES {
            let ok = from.can_become(JobState::TimedOut) || from.can_become(JobState::Completed);
            assert_eq!(ok, from == JobState::Running, "{from}");
        }
    }

    #[test]
    fn names_round_trip() {
        for s in ALL_STATES {
            assert_eq!(s.as_str().parse::<JobState>(), Ok(s));
        }
        assert_eq!("TIMED_OUT".parse::<JobState>(), Ok(JobState::TimedOut));
        assert!("sleeping".parse::<JobState>().is_err());
    }
}
