//! How a job ended, decided once for every engine: the state and reason,
//! whether it ran at all, what it used, and what its reason adds.

use aisc_billing::Usage;
use aisc_model::engine::{End, Measured, verdict_of};
use aisc_model::{JobState, Resources};

/// The state a job ended in and why. An engine's firm reading stands (Slurm
/// said `TIMEOUT`); else the stop aisc was making (a cancel, a time-out, a
/// preemption); else the engine's own reading (the watchdog stopped it);
/// else its exit status or signal.
pub fn outcome(end: &End, stop: Option<(JobState, &str)>) -> (JobState, String) {
    match (&end.verdict, stop) {
        (Some(v), _) if v.firm => (v.state, v.reason.clone()),
        (_, Some((state, reason))) => (state, reason.to_string()),
        (Some(v), None) => (v.state, v.reason.clone()),
        (None, None) => verdict_of(end.exit_code, end.signal),
    }
}

/// The state of a job that ended without ever running (cancelled while it
/// waited in the engine's queue, or refused there): cancelled or requeued
/// (pending) if that is how it ended, else failed.
pub fn never_ran(state: JobState) -> JobState {
    match state {
        JobState::Cancelled | JobState::Pending => state,
        _ => JobState::Failed,
    }
}

/// What a job used: what the engine measured where it did, else what it held
/// from `start_ms` to `end_ms` by aisc's clock (both metered by `billing`).
pub fn usage(measured: Option<Measured>, held: &Resources, start_ms: i64, end_ms: i64) -> Usage {
    match measured {
        Some(m) => aisc_billing::meter_for(
            &Resources {
                gpus: m.gpus,
                cpus: m.cpus,
                mem_mb: 0,
            },
            m.elapsed_ms,
        ),
        None => aisc_billing::meter(held, start_ms, end_ms),
    }
}

/// The reason with what the end adds: how far past its limit and grace a
/// job ran where aisc enforces limits (it is charged at most its lien), and
/// the engine's note (where its usage came from).
pub fn reason(reason: String, overrun_ms: Option<i64>, note: Option<&str>) -> String {
    let reason = match overrun_ms {
        Some(ms) if ms > 1000 => format!(
            "{reason}; it ran {} s past its time limit and grace (charged at most its lien)",
            ms / 1000
        ),
        _ => reason,
    };
    match note {
        Some(note) => format!("{reason}; {note}"),
        None => reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisc_model::engine::Verdict;

    fn verdict(state: JobState, reason: &str, firm: bool) -> Option<Verdict> {
        Some(Verdict {
            state,
            reason: reason.into(),
            firm,
        })
    }

    #[test]
    fn a_firm_reading_then_aiscs_stop_then_the_engines_then_the_exit_status() {
        let cancel = Some((JobState::Cancelled, "cancelled by ann"));
        let timeout = End {
            verdict: verdict(JobState::TimedOut, "time limit reached (Slurm)", true),
            ..End::default()
        };
        assert_eq!(outcome(&timeout, cancel).0, JobState::TimedOut);
        let watchdog = End {
            verdict: verdict(
                JobState::TimedOut,
                "stopped by the job's own watchdog",
                false,
            ),
            exit_code: Some(143),
            ..End::default()
        };
        assert_eq!(
            outcome(&watchdog, cancel),
            (JobState::Cancelled, "cancelled by ann".into())
        );
        assert_eq!(outcome(&watchdog, None).0, JobState::TimedOut);
        let exited = End {
            exit_code: Some(0),
            ..End::default()
        };
        assert_eq!(outcome(&exited, None).0, JobState::Completed);
        assert_eq!(never_ran(JobState::Cancelled), JobState::Cancelled);
        assert_eq!(never_ran(JobState::Pending), JobState::Pending);
        assert_eq!(never_ran(JobState::Preempted), JobState::Failed);
    }

    #[test]
    fn usage_is_the_engines_measure_else_aiscs_clock() {
        let held = Resources {
            gpus: 2,
            cpus: 4,
            mem_mb: 1024,
        };
        let clock = usage(None, &held, 1_000, 11_000);
        assert_eq!((clock.wall_ms, clock.gpu_ms), (10_000, 20_000));
        let measured = Measured {
            elapsed_ms: 3_000,
            gpus: 1,
            cpus: 1,
        };
        assert_eq!(usage(Some(measured), &held, 1_000, 11_000).gpu_ms, 3_000);
        assert_eq!(
            reason("killed by signal 9".into(), Some(5_000), Some("note")),
            "killed by signal 9; it ran 5 s past its time limit and grace (charged at most its lien); note"
        );
        assert_eq!(reason("x".into(), Some(900), None), "x");
    }
}
