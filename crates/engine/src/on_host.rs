//! [`Local`]: the [`Engine`] that runs jobs as process groups on this host,
//! through [`LocalEngine`] and its launcher.
//!
//! A job ends with its script, as on Slurm: when the group leader ends, the
//! processes it left behind are killed at once, unless the job is being
//! stopped (cancel, time limit), when they get the rest of the grace period;
//! the job's end is reported once the group is empty or killed.

use crate::engine::{
    Accounts, Admission, Alloc, End, Engine, EngineEvent, Events, How, RecoverJob, Recovered,
    StartJob, Started, Verdict, expand_pattern, now_ms,
};
use crate::{LaunchSpec, LocalEngine, LocalEvent, Outcome, Recovery};
use aisc_model::request::GpusPer;
use aisc_model::units::format_duration;
use aisc_model::{JobId, JobState};
use nix::sys::signal::Signal;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// A job this engine started or re-adopted.
#[derive(Debug)]
struct Proc {
    /// Its process group's leader (0 when unknown).
    pid: i64,
    time_limit_ms: u64,
    /// A stop was asked for: whether SIGKILL has been sent.
    stopping: Option<bool>,
    /// How the leader ended, while the rest of the group has its grace period.
    leader: Option<Outcome>,
}

/// Jobs as process groups on this host.
#[derive(Debug)]
pub struct Local {
    engine: LocalEngine,
    events: mpsc::UnboundedReceiver<LocalEvent>,
    /// This host's node name.
    node: String,
    data_dir: PathBuf,
    fake_gpus: bool,
    grace_ms: u64,
    jobs: HashMap<JobId, Proc>,
}

impl Local {
    /// The engine for node `node`, its jobs' directories under `data_dir`
    /// (`jobs/<id>`), `grace_ms` between SIGTERM and SIGKILL.
    pub fn new(confinement: crate::confine::Confinement, node: String, data_dir: PathBuf) -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        Local {
            engine: LocalEngine::new(tx, confinement),
            events,
            node,
            data_dir,
            fake_gpus: false,
            grace_ms: 0,
            jobs: HashMap::new(),
        }
    }

    /// Whether the host's GPUs are fake (said in reasons and the job's environment).
    pub fn fake_gpus(mut self, fake: bool) -> Self {
        self.fake_gpus = fake;
        self
    }

    /// Between SIGTERM and SIGKILL, ms (the launcher's watchdog uses it too).
    pub fn grace_ms(mut self, ms: u64) -> Self {
        self.grace_ms = ms;
        self
    }

    /// The directory holding a job's script, pid and exit files and default log.
    pub fn job_dir(data_dir: &Path, id: JobId) -> PathBuf {
        data_dir.join("jobs").join(id.to_string())
    }

    fn dir(&self, id: JobId) -> PathBuf {
        Self::job_dir(&self.data_dir, id)
    }

    fn alloc(&self, job: &StartJob) -> Alloc {
        job.allocs.first().cloned().unwrap_or(Alloc {
            node: self.node.clone(),
            gpu_ids: Vec::new(),
            cpus: job.spec.resources.cpus,
            mem_mb: job.spec.resources.mem_mb,
        })
    }

    fn launch(&mut self, job: StartJob) -> EngineEvent {
        let alloc = self.alloc(&job);
        let job_dir = self.dir(job.job);
        let spec = job.spec;
        let workdir = PathBuf::from(&spec.workdir);
        let expand = |p: &String| {
            let p = expand_pattern(p, job.job, &spec.name, &job.user);
            let p = Path::new(&p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                workdir.join(p)
            }
        };
        let stdout = spec
            .output
            .as_ref()
            .map_or_else(|| job_dir.join("output.log"), expand);
        let stderr = spec.error.as_ref().map(expand);
        let time_limit_ms = spec.time_limit_s.saturating_mul(1000);
        let mut env = spec.env;
        if job.restarts > 0 {
            env.insert("SLURM_RESTART_COUNT".into(), job.restarts.to_string());
        }
        let run_as = if self.accounts() == Accounts::Optional {
            job.unix_name
                .or_else(|| self.engine.confinement().default_unix_name.clone())
        } else {
            None
        };
        let launch = LaunchSpec {
            time_limit_ms,
            grace_ms: self.grace_ms,
            mem_mb: alloc.mem_mb,
            run_as,
            job: job.job,
            name: spec.name,
            command: spec.command,
            args: spec.args,
            workdir,
            env,
            gpu_ids: alloc.gpu_ids,
            fake_gpus: self.fake_gpus,
            cpus: alloc.cpus,
            node: alloc.node,
            tasks: spec.geometry.tasks,
            gpus_per_task: (spec.geometry.gpus_per == GpusPer::Task && spec.geometry.tasks > 0)
                .then(|| spec.resources.gpus / spec.geometry.tasks),
            job_dir,
            stdout: stdout.clone(),
            stderr: stderr.clone(),
        };
        let at_ms = now_ms();
        match self.engine.launch(&launch) {
            Ok(l) => {
                self.jobs.insert(
                    job.job,
                    Proc {
                        pid: l.pid,
                        time_limit_ms,
                        stopping: None,
                        leader: None,
                    },
                );
                let stderr = stderr.as_ref().unwrap_or(&stdout);
                EngineEvent::Started(Started {
                    job: job.job,
                    at_ms,
                    node: None,
                    gpu_ids: None,
                    pid: Some((l.pid, l.pid_start)),
                    engine_id: None,
                    logs: Some((stdout.display().to_string(), stderr.display().to_string())),
                    reason: "started".into(),
                })
            }
            Err(e) => EngineEvent::NotStarted {
                job: job.job,
                reason: format!("could not start: {e}"),
                retry: false,
            },
        }
    }

    /// How a job whose leader ended as `outcome` ended, by this engine's reading.
    fn end(&self, job: JobId, outcome: Outcome, at_ms: Option<i64>) -> End {
        let (exit_code, signal) = match outcome {
            Outcome::Exited(c) => (Some(c), None),
            Outcome::Signaled(s) => (None, Some(s)),
            Outcome::Lost => (None, None),
        };
        let limit_ms = self.jobs.get(&job).map_or(0, |p| p.time_limit_ms);
        let verdict = if LocalEngine::stopped_by_watchdog(&self.dir(job)) {
            Some(Verdict {
                state: JobState::TimedOut,
                reason: format!(
                    "time limit of {} reached; stopped by the job's own watchdog",
                    format_duration(limit_ms / 1000)
                ),
                firm: false,
            })
        } else if outcome == Outcome::Lost {
            Some(Verdict {
                state: JobState::Failed,
                reason: "lost on server restart".into(),
                firm: false,
            })
        } else {
            None
        };
        End {
            at_ms,
            exit_code,
            signal,
            verdict,
            ..End::default()
        }
    }

    fn on_local(&mut self, ev: LocalEvent, out: &mut Vec<EngineEvent>) {
        match ev {
            LocalEvent::NotStarted { job, reason } => out.push(EngineEvent::NotStarted {
                job,
                reason: format!("could not start: {}", reason.trim()),
                retry: false,
            }),
            LocalEvent::Ended { job, outcome } => {
                if let Some(p) = self.jobs.get_mut(&job) {
                    if p.stopping == Some(false) && self.engine.group_alive(p.pid) {
                        p.leader = Some(outcome);
                        return;
                    }
                    self.engine.signal(p.pid, Signal::SIGKILL);
                }
                let end = self.end(job, outcome, None);
                self.jobs.remove(&job);
                out.push(EngineEvent::Ended { job, end });
            }
        }
    }
}

impl Engine for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn accounts(&self) -> Accounts {
        if self.engine.confinement().mode == crate::confine::Mode::Accounts {
            Accounts::Optional
        } else {
            Accounts::Unused
        }
    }

    fn admission(&self, job: &StartJob) -> Admission {
        let alloc = self.alloc(job);
        let gpus = if alloc.gpu_ids.is_empty() {
            "no GPUs".to_string()
        } else {
            let fake = if self.fake_gpus { " (fake)" } else { "" };
            let ids: Vec<String> = alloc.gpu_ids.iter().map(u32::to_string).collect();
            format!("GPUs {}{fake}", ids.join(","))
        };
        Admission {
            reason: format!("placed on {} with {gpus}", alloc.node),
            node: Some(alloc.node),
            gpu_ids: Some(alloc.gpu_ids),
            handed_over: false,
        }
    }

    fn start(&mut self, jobs: Vec<StartJob>) -> Vec<EngineEvent> {
        jobs.into_iter().map(|j| self.launch(j)).collect()
    }

    fn signal(&mut self, job: JobId, how: How) {
        let Some(p) = self.jobs.get_mut(&job) else {
            return;
        };
        let sig = match how {
            How::Term => {
                p.stopping.get_or_insert(false);
                Signal::SIGTERM
            }
            How::Kill => {
                p.stopping = Some(true);
                if p.leader.is_some() {
                    // The leader is gone and SIGKILL takes the stragglers: the job has ended.
                    p.leader = Some(Outcome::Signaled(9));
                }
                Signal::SIGKILL
            }
            How::Signal(n) => match Signal::try_from(n) {
                Ok(s) => s,
                Err(_) => return,
            },
            How::SignalBatch(n) => {
                // The batch shell is the launcher's one child (the launcher leads the group).
                if let Ok(s) = Signal::try_from(n) {
                    for child in crate::procfs::children(p.pid) {
                        self.engine.signal_one(child, s);
                    }
                }
                return;
            }
        };
        self.engine.signal(p.pid, sig);
    }

    fn next_events(&mut self) -> Events<'_> {
        Box::pin(async move {
            let mut raw = Vec::new();
            if self.events.recv_many(&mut raw, 4096).await == 0 {
                return None;
            }
            let mut out = Vec::with_capacity(raw.len());
            for ev in raw {
                self.on_local(ev, &mut out);
            }
            Some(out)
        })
    }

    fn poll(&mut self, _now_ms: i64) -> Vec<EngineEvent> {
        let done: Vec<(JobId, Outcome)> = self
            .jobs
            .iter()
            .filter_map(|(id, p)| {
                let outcome = p.leader?;
                (p.stopping == Some(true) || !self.engine.group_alive(p.pid))
                    .then_some((*id, outcome))
            })
            .collect();
        done.into_iter()
            .map(|(job, outcome)| {
                let end = self.end(job, outcome, None);
                self.jobs.remove(&job);
                EngineEvent::Ended { job, end }
            })
            .collect()
    }

    fn poll_at(&self, now_ms: i64) -> Option<i64> {
        // A leader is gone: look for the rest of its group to leave.
        self.jobs
            .values()
            .any(|p| p.leader.is_some())
            .then_some(now_ms + 100)
    }

    fn limits_by_aisc(&self) -> bool {
        true
    }

    fn recover(&mut self, job: &RecoverJob) -> Recovered {
        let dir = self.dir(job.job);
        let known = if job.running { job.pid } else { None };
        let proc = |pid| Proc {
            pid,
            time_limit_ms: job.time_limit_ms,
            stopping: None,
            leader: None,
        };
        match self.engine.recover(job.job, &dir, known) {
            Recovery::Alive(l) => {
                self.jobs.insert(job.job, proc(l.pid));
                Recovered::Running {
                    pid: Some((l.pid, l.pid_start)),
                }
            }
            Recovery::Ended(outcome) => {
                self.jobs.insert(job.job, proc(0));
                let end = self.end(job.job, outcome, exit_time_ms(&dir));
                self.jobs.remove(&job.job);
                Recovered::Ended(end)
            }
            Recovery::NeverStarted => Recovered::NeverStarted,
        }
    }

    fn release(&mut self, job: JobId) {
        self.jobs.remove(&job);
        let engine = self.engine.clone();
        let dir = self.dir(job);
        tokio::task::spawn_blocking(move || engine.release(job, &dir));
    }
}

/// When the job's exit status was written, epoch ms.
fn exit_time_ms(job_dir: &Path) -> Option<i64> {
    let modified = std::fs::metadata(job_dir.join("exit"))
        .ok()?
        .modified()
        .ok()?;
    let d = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}
