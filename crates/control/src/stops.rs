//! Stopping a job where aisc enforces limits: a stop's reason is recorded
//! and SIGTERM sent at the time limit (or on a cancel or a preemption), and
//! SIGKILL follows once the grace period has run out.

use aisc_model::JobState;
use aisc_model::units::format_duration;

/// A stop in progress: why, since when, and whether SIGKILL was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// The state the job ends in.
    pub state: JobState,
    /// Why, for the job's reason.
    pub reason: String,
    /// When SIGTERM was sent, epoch ms.
    pub term_at_ms: i64,
    /// SIGKILL has been sent.
    pub kill_sent: bool,
}

/// What is due for a running job now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Its time limit is reached: stop it, ending `timed_out` with this reason.
    TimeLimit(Stop),
    /// Its grace period has run out: SIGKILL.
    Kill,
    /// Its warning (`--signal`) is due: send this signal, once.
    Warn(aisc_model::signal::Warning),
}

/// What is due for a job that started at `start_ms` with deadline
/// `deadline_ms`, being stopped as `stop` says (if it is), at `now_ms`.
pub fn due(
    now_ms: i64,
    start_ms: i64,
    deadline_ms: i64,
    stop: Option<&Stop>,
    grace_ms: i64,
) -> Option<Due> {
    match stop {
        None if now_ms >= deadline_ms => {
            let limit_s = u64::try_from(deadline_ms - start_ms).unwrap_or(0) / 1000;
            Some(Due::TimeLimit(Stop {
                state: JobState::TimedOut,
                reason: format!("time limit of {} reached", format_duration(limit_s)),
                term_at_ms: now_ms,
                kill_sent: false,
            }))
        }
        Some(s) if !s.kill_sent && now_ms >= s.term_at_ms.saturating_add(grace_ms) => {
            Some(Due::Kill)
        }
        _ => None,
    }
}

/// When something next falls due for such a job, epoch ms (`i64::MAX`: never).
pub fn next_due(deadline_ms: i64, stop: Option<&Stop>, grace_ms: i64) -> i64 {
    match stop {
        None => deadline_ms,
        Some(s) if !s.kill_sent => s.term_at_ms.saturating_add(grace_ms),
        Some(_) => i64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(term_at_ms: i64, kill_sent: bool) -> Stop {
        Stop {
            state: JobState::Cancelled,
            reason: "cancelled by ann".into(),
            term_at_ms,
            kill_sent,
        }
    }

    #[test]
    fn the_limit_then_the_grace_fall_due_at_their_times() {
        // Started at 1,000 ms with a 60 s limit; a 10 s grace.
        let (start, deadline, grace) = (1_000, 61_000, 10_000);
        assert_eq!(due(60_999, start, deadline, None, grace), None);
        let Some(Due::TimeLimit(s)) = due(61_000, start, deadline, None, grace) else {
            panic!("the limit is due at the deadline");
        };
        assert_eq!(s.state, JobState::TimedOut);
        assert_eq!(s.reason, "time limit of 00:01:00 reached");
        assert_eq!(s.term_at_ms, 61_000);
        assert_eq!(next_due(deadline, Some(&s), grace), 71_000);
        assert_eq!(due(70_999, start, deadline, Some(&s), grace), None);
        assert_eq!(
            due(71_000, start, deadline, Some(&s), grace),
            Some(Due::Kill)
        );
        // Once SIGKILL is sent nothing more falls due.
        let killed = Stop {
            kill_sent: true,
            ..s
        };
        assert_eq!(due(99_000, start, deadline, Some(&killed), grace), None);
        assert_eq!(next_due(deadline, Some(&killed), grace), i64::MAX);
    }

    #[test]
    fn a_cancel_gets_the_grace_from_when_it_was_asked_not_the_limit() {
        let s = stop(5_000, false);
        // Within the grace: nothing; then SIGKILL, counted from the cancel.
        assert_eq!(due(14_999, 1_000, 60_000, Some(&s), 10_000), None);
        assert_eq!(
            due(15_000, 1_000, 60_000, Some(&s), 10_000),
            Some(Due::Kill)
        );
        // Past the deadline while stopping: no second stop (its reason stays the cancel's).
        assert_eq!(
            due(99_000, 1_000, 60_000, Some(&stop(5_000, true)), 10_000),
            None
        );
    }
}
