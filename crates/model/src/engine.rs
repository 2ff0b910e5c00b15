//! The vocabulary between the control loop and whatever runs jobs (the
//! `Engine` trait lives in `aisc_engine`): what to start, how to stop, and
//! what an engine reports. Plain data: no I/O, no clock.

use crate::{JobId, JobSpec, JobState};

/// How to stop or signal a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Ask it to end (SIGTERM; Slurm: cancel).
    Term,
    /// End it now (SIGKILL; Slurm: cancel).
    Kill,
    /// Send this signal number.
    Signal(i32),
    /// Send this signal number to the batch shell alone (`--signal=B:`),
    /// not to the steps it started.
    SignalBatch(i32),
}

/// Where a job was placed on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alloc {
    /// The node's name.
    pub node: String,
    /// GPU indices on it.
    pub gpu_ids: Vec<u32>,
    /// CPU cores.
    pub cpus: u32,
    /// Memory, MiB.
    pub mem_mb: u64,
}

/// A placed, admitted job, with what an engine needs to start it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartJob {
    /// The job.
    pub job: JobId,
    /// Its submitter's aisc name (`%u` in output paths).
    pub user: String,
    /// The Unix account it runs as, when the engine wants one ([`Accounts`]).
    pub unix_name: Option<String>,
    /// The project it is charged to (Slurm's account).
    pub account: Option<String>,
    /// The resource class of its grant.
    pub class: Option<String>,
    /// What it runs and asks for.
    pub spec: JobSpec,
    /// Where the scheduler placed it; empty when the engine places it itself.
    pub allocs: Vec<Alloc>,
    /// How many times it was requeued before this run (`SLURM_RESTART_COUNT`).
    pub restarts: u32,
}

/// Whether an engine runs jobs as their users' Unix accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accounts {
    /// It does not use them.
    Unused,
    /// It uses one where the user has one (else its own default).
    Optional,
    /// It cannot start a job without one.
    Required,
}

/// What a job's record says when it is admitted to an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The job's reason ("placed on n1 with GPUs 0,1", "handed to Slurm as ...").
    pub reason: String,
    /// The node, where known now.
    pub node: Option<String>,
    /// The GPUs, where known now.
    pub gpu_ids: Option<Vec<u32>>,
    /// Whether it is handed to an engine that may hold it across a restart
    /// (then it is looked for there before it is started again).
    pub handed_over: bool,
}

/// It runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The job.
    pub job: JobId,
    /// When it started, epoch ms.
    pub at_ms: i64,
    /// Where, when the engine placed it.
    pub node: Option<String>,
    /// Its GPUs there, when the engine placed it.
    pub gpu_ids: Option<Vec<u32>>,
    /// Its process group leader and that process's start time (local engine).
    pub pid: Option<(i64, u64)>,
    /// The engine's own id for it.
    pub engine_id: Option<i64>,
    /// Its output and error files, when they are on this host.
    pub logs: Option<(String, String)>,
    /// The job's reason from now on.
    pub reason: String,
}

/// The engine's own reading of how a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The state it ended in.
    pub state: JobState,
    /// Why.
    pub reason: String,
    /// Whether it holds even when aisc itself was stopping the job (else
    /// aisc's own reason for the stop wins).
    pub firm: bool,
}

/// What an engine measured of a job's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    /// How long it ran, ms.
    pub elapsed_ms: u64,
    /// GPUs it held.
    pub gpus: u32,
    /// CPUs it held.
    pub cpus: u32,
}

/// When and where a job ran, by the engine's own record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// When it started, epoch ms.
    pub at_ms: i64,
    /// Where.
    pub node: String,
    /// The reason recorded for its start.
    pub reason: String,
}

/// How a job ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct End {
    /// When, epoch ms (`None`: now).
    pub at_ms: Option<i64>,
    /// Its exit status, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// The engine's reading; without one the exit status decides.
    pub verdict: Option<Verdict>,
    /// What the engine measured; without it aisc meters from its own clock.
    pub measured: Option<Measured>,
    /// When and where it ran, for a job whose start was not reported
    /// (`None` with no start reported: it never ran).
    pub ran: Option<Ran>,
    /// A note for the job's reason (where its usage came from).
    pub note: Option<String>,
}

/// What an engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    /// It holds the job under its own id (just handed over, or found again).
    Accepted {
        /// The job.
        job: JobId,
        /// The engine's id for it.
        engine_id: i64,
    },
    /// It could not start the job. With `retry`, the engine is unavailable:
    /// the job waits and is tried again; otherwise it fails, charged nothing.
    NotStarted {
        /// The job.
        job: JobId,
        /// Why, for the job's reason.
        reason: String,
        /// Whether to try again later.
        retry: bool,
    },
    /// It waits in the engine's own queue.
    Waiting {
        /// The job.
        job: JobId,
        /// The engine's reason.
        reason: String,
    },
    /// It runs.
    Started(Started),
    /// It ended and holds nothing any more; its [`EngineEvent::Ended`] follows.
    Released {
        /// The job.
        job: JobId,
    },
    /// It ended.
    Ended {
        /// The job.
        job: JobId,
        /// How.
        end: End,
    },
    /// Whether the engine answers (sent when that changes).
    Reachable(bool),
}

/// A job the last server left admitted or running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverJob {
    /// The job.
    pub job: JobId,
    /// Whether it was recorded running (else admitted).
    pub running: bool,
    /// The engine's id for it, if recorded.
    pub engine_id: Option<i64>,
    /// Its process and that process's start time, if recorded.
    pub pid: Option<(i64, u64)>,
    /// Its time limit, ms.
    pub time_limit_ms: u64,
    /// How many times it was requeued (which run of it this is).
    pub restarts: u32,
}

/// What became of a job while no server watched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// It runs, and is watched again.
    Running {
        /// Its process, when the engine knows it.
        pid: Option<(i64, u64)>,
    },
    /// The engine holds it and has not started it yet; it is followed again.
    Waiting,
    /// It ended.
    Ended(End),
    /// There is no sign it was ever started.
    NeverStarted,
    /// It may or may not be in the engine: it goes back to the queue and is
    /// looked for there before it is started again.
    Resubmit {
        /// The job's reason meanwhile.
        reason: String,
    },
}

/// What distributed training reads to find its peers, from aisc's job id
/// and the job's tasks: `MASTER_PORT` (a port derived from the job id, so
/// that jobs sharing a first node differ) and `WORLD_SIZE` (its tasks).
/// `MASTER_ADDR`, the first node, is the engine's to say once the job is
/// placed.
pub fn distributed_vars(job: JobId, tasks: u32) -> [(&'static str, String); 2] {
    let port = MASTER_PORT_BASE + (job.0.unsigned_abs() % MASTER_PORT_SPAN) as u16;
    [
        ("MASTER_PORT", port.to_string()),
        ("WORLD_SIZE", tasks.to_string()),
    ]
}

/// `MASTER_PORT` is this plus the job id modulo [`MASTER_PORT_SPAN`].
const MASTER_PORT_BASE: u16 = 15_000;
const MASTER_PORT_SPAN: u64 = 20_000;

/// The reading of an exit status or signal, for engines that give no verdict.
pub fn verdict_of(exit_code: Option<i32>, signal: Option<i32>) -> (JobState, String) {
    match (exit_code, signal) {
        (Some(0), _) => (JobState::Completed, "exited with status 0".to_string()),
        (Some(code), _) if (129..=192).contains(&code) => (
            JobState::Failed,
            format!(
                "exited with status {code} (its command was killed by signal {})",
                code - 128
            ),
        ),
        (Some(code), _) => (JobState::Failed, format!("exited with status {code}")),
        (None, Some(sig)) => (JobState::Failed, format!("killed by signal {sig}")),
        (None, None) => (JobState::Failed, "lost on server restart".to_string()),
    }
}

/// Expands `%j` (job id), `%x` (name), `%u` (user) and `%%` as `sbatch -o` does.
pub fn expand_pattern(pattern: &str, id: JobId, name: &str, user: &str) -> String {
    expand_with(pattern, |c| match c {
        'j' | 'A' => Some(id.to_string()),
        'x' => Some(name.to_string()),
        'u' => Some(user.to_string()),
        '%' => Some("%".to_string()),
        _ => None,
    })
}

/// `pattern` with each `%c` that `with(c)` answers replaced by the answer;
/// every other `%` sequence, and a `%` at the end, kept as written.
pub fn expand_with(pattern: &str, with: impl Fn(char) -> Option<String>) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(k) => match with(k) {
                Some(v) => out.push_str(&v),
                None => {
                    out.push('%');
                    out.push(k);
                }
            },
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_patterns_expand_like_sbatch() {
        assert_eq!(
            expand_pattern("slurm-%j.out", JobId(42), "n", "u"),
            "slurm-42.out"
        );
        assert_eq!(
            expand_pattern("%x-%u-%j-%%-%q", JobId(1), "train", "ann"),
            "train-ann-1-%-%q"
        );
        assert_eq!(expand_pattern("end%", JobId(1), "n", "u"), "end%");
    }

    #[test]
    fn exit_statuses_read_as_slurm_reads_them() {
        assert_eq!(verdict_of(Some(0), None).0, JobState::Completed);
        assert_eq!(
            verdict_of(Some(137), None).1,
            "exited with status 137 (its command was killed by signal 9)"
        );
        assert_eq!(verdict_of(Some(2), None).1, "exited with status 2");
        assert_eq!(verdict_of(None, Some(15)).1, "killed by signal 15");
        assert_eq!(verdict_of(None, None).0, JobState::Failed);
    }
}
