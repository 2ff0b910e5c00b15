//! The Slurm engine: jobs aisc has admitted run on a Slurm cluster, reached
//! through slurmrestd.
//!
//! - [`SlurmEngine::submit`] submits a job as its user's Unix name with its
//!   aisc id in Slurm's comment (`aisc:<instance>:<id>`, the instance telling
//!   one aisc installation's jobs from another's on a shared cluster); when the job may already be in
//!   Slurm (an earlier attempt whose answer was lost, or a restart), Slurm's
//!   jobs are searched for that comment first, so a job is never submitted twice;
//! - a poller follows Slurm's job list cheaply (`update_time`: 304 while
//!   nothing changed) and reports each tracked job's changes, once each, on
//!   the events channel; a job's end is reported with the usage read back
//!   from Slurm's accounting (slurmdbd), so the charge is what Slurm measured;
//! - every call that fails for want of slurmrestd or slurmctld comes back as
//!   [`SlurmError::Unavailable`]; nothing is dropped, the caller retries.

mod accounting;
pub mod accounts;
mod client;
mod run;

pub use run::{Slurm, SlurmSettings};

pub use client::{
    CtldJob, DbJob, JobDesc, SlurmClient, SlurmConfig, SlurmNode, Submission, mint_token,
};

use aisc_model::JobId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// What can go wrong talking to Slurm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlurmError {
    /// slurmrestd, slurmctld or slurmdbd cannot be reached (or timed out): try again later.
    #[error("Slurm is unavailable: {0}")]
    Unavailable(String),
    /// Slurm answered no (e.g. an invalid account).
    #[error("Slurm refused: {0}")]
    Refused(String),
    /// An answer aisc cannot read.
    #[error("unexpected answer from Slurm: {0}")]
    Protocol(String),
}

/// How a job ended on Slurm, with what Slurm measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmEnd {
    /// Slurm's final state (COMPLETED, FAILED, CANCELLED, TIMEOUT, ...).
    pub state: String,
    /// Exit status, when it exited.
    pub exit_code: Option<i32>,
    /// Signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Epoch seconds it started (0 if it never ran).
    pub start_s: i64,
    /// Epoch seconds it ended.
    pub end_s: i64,
    /// Seconds it ran, as accounted.
    pub elapsed_s: i64,
    /// GPUs allocated, as accounted.
    pub gpus: i64,
    /// CPUs allocated, as accounted.
    pub cpus: i64,
    /// Whether the figures are slurmdbd's (false: slurmctld's, accounting did not answer).
    pub accounted: bool,
    /// Nodes it ran on.
    pub nodes: String,
}

/// What the engine reports about the jobs it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlurmEvent {
    /// Slurm holds the job under this id (just submitted, or found again).
    Submitted {
        /// aisc's id.
        job: JobId,
        /// Slurm's id.
        slurm_id: u32,
        /// True when it was found in Slurm rather than submitted now.
        adopted: bool,
    },
    /// The submission did not happen.
    SubmitFailed {
        /// aisc's id.
        job: JobId,
        /// Why.
        error: SlurmError,
    },
    /// It waits in Slurm's queue.
    Waiting {
        /// aisc's id.
        job: JobId,
        /// Slurm's id.
        slurm_id: u32,
        /// Slurm's reason (Priority, Resources, AssocGrpGRESMinutes, ...).
        reason: String,
    },
    /// It runs.
    Started {
        /// aisc's id.
        job: JobId,
        /// Slurm's id.
        slurm_id: u32,
        /// Epoch seconds.
        start_s: i64,
        /// Its nodes.
        nodes: String,
        /// The GPU indices it holds there (Slurm's `gres_detail`).
        gpu_ids: Vec<u32>,
    },
    /// It ended; [`SlurmEvent::Ended`] follows with what Slurm accounted.
    Finished {
        /// aisc's id.
        job: JobId,
    },
    /// It ended, with Slurm's figures.
    Ended {
        /// aisc's id.
        job: JobId,
        /// Slurm's id.
        slurm_id: u32,
        /// How, with Slurm's figures.
        end: SlurmEnd,
    },
    /// Whether Slurm answers the poller (sent when that changes).
    Reachable(bool),
}

/// Slurm's job states as aisc groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting in Slurm's queue.
    Waiting,
    /// Running (or suspended, or completing).
    Running,
    /// Over.
    Ended,
}

/// The phase of a Slurm job state.
pub fn phase(state: &str) -> Phase {
    match state {
        "PENDING" | "REQUEUED" | "REQUEUE_FED" | "REQUEUE_HOLD" | "RESV_DEL_HOLD" => Phase::Waiting,
        "RUNNING" | "SUSPENDED" | "CONFIGURING" | "COMPLETING" | "RESIZING" | "SIGNALING"
        | "STAGE_OUT" | "STOPPED" => Phase::Running,
        _ => Phase::Ended,
    }
}

/// The jobs reported on, by aisc id: which run of each, and its Slurm id once known.
type Tracked = HashMap<i64, (u32, Option<u32>)>;

/// The engine: a client, a poller and a bounded pool of submissions.
#[derive(Debug, Clone)]
pub struct SlurmEngine {
    client: SlurmClient,
    events: mpsc::UnboundedSender<SlurmEvent>,
    /// Jobs the poller reports on, with their Slurm ids once known.
    tracked: Arc<Mutex<Tracked>>,
    submits: Arc<Semaphore>,
    instance: Arc<str>,
}

/// At most this many submissions in flight (slurmrestd serves them in parallel).
const SUBMITS_IN_FLIGHT: usize = 8;

impl SlurmEngine {
    /// An engine reporting on `events`; its poller looks every `poll`.
    pub fn start(
        client: SlurmClient,
        events: mpsc::UnboundedSender<SlurmEvent>,
        poll: Duration,
        instance: &str,
    ) -> Self {
        let engine = SlurmEngine {
            client,
            events,
            tracked: Arc::new(Mutex::new(HashMap::new())),
            submits: Arc::new(Semaphore::new(SUBMITS_IN_FLIGHT)),
            instance: Arc::from(instance),
        };
        tokio::spawn(poller(engine.clone(), poll));
        engine
    }

    /// The client.
    pub fn client(&self) -> &SlurmClient {
        &self.client
    }

    /// The comment that marks run `run` of aisc's job `job` in Slurm
    /// (`aisc:<instance>:<id>`, then `<id>.<run>` for a requeued job's later
    /// runs, each a Slurm job of its own).
    pub fn comment(&self, job: JobId, run: u32) -> String {
        match run {
            0 => format!("aisc:{}:{}", self.instance, job.0),
            r => format!("aisc:{}:{}.{r}", self.instance, job.0),
        }
    }

    fn tracked(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.tracked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reports on run `run` of `job` from now on (its Slurm id, if known).
    pub fn track(&self, job: JobId, run: u32, slurm_id: Option<u32>) {
        self.tracked().insert(job.0, (run, slurm_id));
    }

    /// Stops reporting on `job`.
    pub fn untrack(&self, job: JobId) {
        self.tracked().remove(&job.0);
    }

    /// Submits `job` as `user` in the background; the outcome comes as an
    /// event. With `look_first`, Slurm's jobs are searched for it first.
    pub fn submit(&self, job: JobId, run: u32, user: String, sub: Submission, look_first: bool) {
        self.track(job, run, None);
        let engine = self.clone();
        tokio::spawn(async move {
            let Ok(_permit) = engine.submits.clone().acquire_owned().await else {
                return;
            };
            let ev = match engine.submit_now(job, run, &user, &sub, look_first).await {
                Ok((slurm_id, adopted)) => {
                    engine.track(job, run, Some(slurm_id));
                    SlurmEvent::Submitted {
                        job,
                        slurm_id,
                        adopted,
                    }
                }
                Err(error) => SlurmEvent::SubmitFailed { job, error },
            };
            let _ = engine.events.send(ev);
        });
    }

    async fn submit_now(
        &self,
        job: JobId,
        run: u32,
        user: &str,
        sub: &Submission,
        look_first: bool,
    ) -> Result<(u32, bool), SlurmError> {
        if look_first && let Some(found) = self.find(job, run).await? {
            return Ok((found, true));
        }
        self.client.submit(user, sub).await.map(|id| (id, false))
    }

    /// The Slurm id of run `run` of aisc's job `job`, if slurmctld holds it.
    pub async fn find(&self, job: JobId, run: u32) -> Result<Option<u32>, SlurmError> {
        let jobs = self.client.jobs(None).await?.unwrap_or_default();
        Ok(jobs
            .iter()
            .find(|j| j.aisc_run(&self.instance) == Some((job.0, run)))
            .map(|j| j.job_id))
    }

    /// Cancels a Slurm job in the background, retrying while Slurm is unavailable.
    pub fn cancel(&self, slurm_id: u32) {
        let client = self.client.clone();
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(500);
            loop {
                match client.cancel(slurm_id).await {
                    Err(SlurmError::Unavailable(e)) => {
                        tracing::warn!(slurm_id, error = %e, "cancel: Slurm unavailable; retrying");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(30));
                    }
                    Err(e) => {
                        tracing::error!(slurm_id, error = %e, "cancel refused");
                        return;
                    }
                    Ok(()) => return,
                }
            }
        });
    }
}

/// Exit status and signal from a wait status.
fn wait_status(raw: i64) -> (Option<i32>, Option<i32>) {
    let sig = i32::try_from(raw & 0x7f).unwrap_or(0);
    let code = i32::try_from((raw >> 8) & 0xff).unwrap_or(0);
    if sig != 0 {
        (None, Some(sig))
    } else {
        (Some(code), None)
    }
}

/// One count from a TRES string such as `cpu=2,mem=1G,gres/gpu=1`: `tres(s, "gres/gpu")`.
pub fn tres(s: &str, key: &str) -> Option<i64> {
    s.split(',')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// How a job ended as slurmctld reports it (before accounting confirms it).
pub(crate) fn ctld_end(j: &CtldJob) -> SlurmEnd {
    let (exit_code, signal) = wait_status(j.exit_code);
    let tres = |key: &str| tres(&j.tres_alloc_str, key).unwrap_or(0);
    SlurmEnd {
        state: j.job_state.clone(),
        exit_code,
        signal,
        start_s: j.start_time,
        end_s: j.end_time,
        elapsed_s: if j.start_time > 0 {
            (j.end_time - j.start_time).max(0)
        } else {
            0
        },
        gpus: tres("gres/gpu"),
        cpus: tres("cpu"),
        accounted: false,
        nodes: j.nodes.clone(),
    }
}

async fn poller(engine: SlurmEngine, every: Duration) {
    let (ended, to_account) = mpsc::unbounded_channel();
    tokio::spawn(accounting::accountant(
        engine.client.clone(),
        to_account,
        engine.events.clone(),
    ));
    // What was last reported for each job: phase and reason.
    let mut seen: HashMap<i64, (Phase, String)> = HashMap::new();
    let mut since: Option<i64> = None;
    let mut reachable: Option<bool> = None;
    let mut wait = every;
    loop {
        tokio::time::sleep(wait).await;
        if engine.events.is_closed() {
            return;
        }
        if engine.tracked().is_empty() && reachable == Some(true) {
            continue;
        }
        let asked_at = chrono_now_s();
        let began = std::time::Instant::now();
        let jobs = match engine.client.jobs(since).await {
            Ok(j) => j,
            Err(e) => {
                if reachable != Some(false) {
                    tracing::warn!(error = %e, "Slurm unavailable");
                    let _ = engine.events.send(SlurmEvent::Reachable(false));
                    reachable = Some(false);
                }
                wait = (wait * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        // A long list is costly for slurmctld too: look at most a third of the time.
        wait = every.max(began.elapsed() * 2);
        if reachable != Some(true) {
            let _ = engine.events.send(SlurmEvent::Reachable(true));
            reachable = Some(true);
        }
        let Some(jobs) = jobs else { continue };
        // The next question: anything changed since a second before this one was asked.
        since = Some(asked_at - 1);
        let tracked: Tracked = engine.tracked().clone();
        seen.retain(|id, _| tracked.contains_key(id));
        for j in jobs {
            let Some((id, run)) = j.aisc_run(&engine.instance) else {
                continue;
            };
            match tracked.get(&id) {
                None => continue,
                // Another run of a requeued job: not this one.
                Some((r, _)) if *r != run => continue,
                // Known under another Slurm id: not this one.
                Some((_, Some(known))) if *known != j.job_id => continue,
                Some(_) => {}
            }
            let job = JobId(id);
            let ph = phase(&j.job_state);
            let key = (ph, j.state_reason.clone());
            if seen.get(&id) == Some(&key) {
                continue;
            }
            let first_time_ended =
                ph == Phase::Ended && seen.get(&id).map(|s| s.0) != Some(Phase::Ended);
            seen.insert(id, key);
            engine.tracked().insert(id, (run, Some(j.job_id)));
            match ph {
                Phase::Waiting => {
                    let _ = engine.events.send(SlurmEvent::Waiting {
                        job,
                        slurm_id: j.job_id,
                        reason: j.state_reason.clone(),
                    });
                }
                Phase::Running => {
                    let _ = engine.events.send(SlurmEvent::Started {
                        job,
                        slurm_id: j.job_id,
                        start_s: j.start_time,
                        nodes: j.nodes.clone(),
                        gpu_ids: j.gpu_ids(),
                    });
                }
                Phase::Ended if first_time_ended => {
                    // Its resources are free now; the usage follows once accounting has it.
                    let _ = engine.events.send(SlurmEvent::Finished { job });
                    let _ = ended.send(accounting::Ended::new(job, &j));
                }
                Phase::Ended => {}
            }
        }
    }
}

fn chrono_now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_states_group_into_phases() {
        assert_eq!(phase("PENDING"), Phase::Waiting);
        assert_eq!(phase("RUNNING"), Phase::Running);
        assert_eq!(phase("COMPLETING"), Phase::Running);
        for s in [
            "COMPLETED",
            "FAILED",
            "CANCELLED",
            "TIMEOUT",
            "NODE_FAIL",
            "OUT_OF_MEMORY",
            "PREEMPTED",
        ] {
            assert_eq!(phase(s), Phase::Ended, "{s}");
        }
    }

    #[test]
    fn tres_strings_give_counts_by_key() {
        let s = "cpu=10,mem=1G,gres/gpu=120";
        assert_eq!(tres(s, "gres/gpu"), Some(120));
        assert_eq!(tres(s, "cpu"), Some(10));
        assert_eq!(tres("gres/gpu=0", "gres/gpu"), Some(0));
        // A key is matched whole: gres/gpu is not gres/gpu:h100.
        assert_eq!(tres("gres/gpu:h100=4", "gres/gpu"), None);
        assert_eq!(tres("", "cpu"), None);
    }

    #[test]
    fn wait_statuses_split_into_exit_code_and_signal() {
        assert_eq!(wait_status(0), (Some(0), None));
        assert_eq!(wait_status(3 << 8), (Some(3), None));
        assert_eq!(wait_status(9), (None, Some(9)));
    }
}
