//! The local engine: jobs as process groups on this host.

use crate::EngineError;
use crate::confine::{Confinement, LAUNCH_FAILED, Limits, Plan, Target, names};
use crate::procfs;
use aisc_model::{JobCommand, JobId};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::mpsc;

/// Variables passed from the server's environment to every job, before the job's own.
const INHERITED: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SHELL",
];

/// Everything needed to start one job.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The job.
    pub job: JobId,
    /// Its name.
    pub name: String,
    /// What to run.
    pub command: JobCommand,
    /// A script's arguments.
    pub args: Vec<String>,
    /// Where to run it.
    pub workdir: PathBuf,
    /// Its own environment variables.
    pub env: BTreeMap<String, String>,
    /// GPU indices given to it.
    pub gpu_ids: Vec<u32>,
    /// Whether those GPUs are fake.
    pub fake_gpus: bool,
    /// CPU cores given to it.
    pub cpus: u32,
    /// The node it runs on (this host's name in the inventory).
    pub node: String,
    /// Its tasks (`-n`): what `srun` runs a step as.
    pub tasks: u32,
    /// GPUs for each task (`--gpus-per-task`), if it asked per task.
    pub gpus_per_task: Option<u32>,
    /// The job's private directory (script, pid and exit files).
    pub job_dir: PathBuf,
    /// Standard output file.
    pub stdout: PathBuf,
    /// Standard error file; `None` merges it into standard output.
    pub stderr: Option<PathBuf>,
    /// Its time limit, ms (the watchdog's deadline is this plus a margin).
    pub time_limit_ms: u64,
    /// Between SIGTERM and SIGKILL, ms.
    pub grace_ms: u64,
    /// Memory, MiB (the cgroup's limit).
    pub mem_mb: u64,
    /// The Unix account it runs as when the server is root.
    pub run_as: Option<String>,
}

/// A started job's process identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launched {
    /// Process (and process group) id.
    pub pid: i64,
    /// Its start time in clock ticks since boot.
    pub pid_start: u64,
}

/// How a job's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with this status (128+N when its command was killed by signal N).
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
    /// It is gone and left no exit status (killed while aisc was down).
    Lost,
}

/// What the engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalEvent {
    /// The launcher could not start the job (its output file was refused,
    /// its user has no account, its working directory is missing, ...).
    NotStarted {
        /// The job.
        job: JobId,
        /// Why, for the job's reason.
        reason: String,
    },
    /// A job's group leader ended (other processes of its group may remain;
    /// see [`LocalEngine::group_alive`]).
    Ended {
        /// The job.
        job: JobId,
        /// How.
        outcome: Outcome,
    },
}

/// What became of a job's process while the server was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Still running; now watched again.
    Alive(Launched),
    /// It ended.
    Ended(Outcome),
    /// There is no sign it was ever started.
    NeverStarted,
}

/// Runs jobs as local process groups, each through the launcher.
#[derive(Debug, Clone)]
pub struct LocalEngine {
    events: mpsc::UnboundedSender<LocalEvent>,
    poll: Duration,
    confinement: Arc<Confinement>,
}

impl LocalEngine {
    /// An engine that reports on `events` and confines jobs as `confinement` says.
    pub fn new(events: mpsc::UnboundedSender<LocalEvent>, confinement: Confinement) -> Self {
        LocalEngine {
            events,
            poll: Duration::from_millis(200),
            confinement: Arc::new(confinement),
        }
    }

    /// How jobs are confined.
    pub fn confinement(&self) -> &Confinement {
        &self.confinement
    }

    /// Starts a job's launcher, which opens its files, confines it and runs
    /// it (see [`crate::confine`]). Touches no path the user chose: only the
    /// job's own directory. Must be called inside a tokio runtime; its end
    /// (or why it could not start) is reported on the events channel.
    pub fn launch(&self, spec: &LaunchSpec) -> Result<Launched, EngineError> {
        let io = |what: &'static str, path: &Path| {
            let path = path.display().to_string();
            move |source| EngineError::Io { what, path, source }
        };
        fs::create_dir_all(&spec.job_dir)
            .map_err(io("cannot create job directory", &spec.job_dir))?;
        fs::set_permissions(&spec.job_dir, fs::Permissions::from_mode(0o700))
            .map_err(io("cannot protect job directory", &spec.job_dir))?;
        for stale in [
            names::LAUNCH_ERROR,
            names::OUTPUTS,
            names::WATCHDOG,
            "exit",
            "pid",
        ] {
            let _ = fs::remove_file(spec.job_dir.join(stale));
        }
        let bin = spec.job_dir.join("bin");
        fs::create_dir_all(&bin).map_err(io("cannot create", &bin))?;
        let srun = bin.join("srun");
        write_private(&srun, SRUN.as_bytes(), 0o700).map_err(io("cannot write", &srun))?;
        let argv: Vec<String> = match &spec.command {
            JobCommand::Argv(argv) => argv.clone(),
            JobCommand::Script(text) => {
                let path = spec.job_dir.join("script");
                write_private(&path, text.as_bytes(), 0o700)
                    .map_err(io("cannot write script", &path))?;
                std::iter::once(path.display().to_string())
                    .chain(spec.args.iter().cloned())
                    .collect()
            }
        };
        let c = &self.confinement;
        let target = |p: &PathBuf| {
            if p.starts_with(&spec.job_dir) {
                Target::Captured(p.clone())
            } else {
                Target::File(p.clone())
            }
        };
        let plan = Plan {
            job: spec.job.0,
            argv,
            workdir: spec.workdir.clone(),
            job_dir: spec.job_dir.clone(),
            stdout: target(&spec.stdout),
            stderr: spec.stderr.as_ref().map(target),
            mode: c.mode,
            run_as: spec.run_as.clone(),
            min_uid: c.min_uid,
            hidden: c.hidden.clone(),
            roots: c.roots.clone(),
            limits: Limits {
                cpus: spec.cpus,
                mem_mb: spec.mem_mb,
                pids: c.max_pids,
                gpus: if spec.fake_gpus {
                    Vec::new()
                } else {
                    spec.gpu_ids.clone()
                },
            },
            watchdog_ms: if spec.time_limit_ms == 0 {
                0
            } else {
                spec.time_limit_ms.saturating_add(c.watchdog_margin_ms)
            },
            grace_ms: spec.grace_ms,
            cgroup: crate::confine::cgroup_name(spec.job.0, &spec.job_dir),
        };
        let plan_path = spec.job_dir.join(names::PLAN);
        let json =
            serde_json::to_vec(&plan).map_err(|e| EngineError::Spawn(std::io::Error::other(e)))?;
        write_private(&plan_path, &json, 0o600)
            .map_err(io("cannot write launch plan", &plan_path))?;

        let (program, leading) = c
            .launcher
            .split_first()
            .ok_or_else(|| EngineError::Spawn(std::io::Error::other("no launcher configured")))?;
        let mut cmd = Command::new(program);
        cmd.args(leading).arg(&spec.job_dir);
        // The launcher starts in the job's directory: never in a path the user chose.
        cmd.current_dir(&spec.job_dir).env_clear();
        for key in INHERITED {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        cmd.envs(&spec.env).envs(job_vars(spec));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(false);

        let mut child = cmd.spawn().map_err(EngineError::Spawn)?;
        let pid = child
            .id()
            .map(i64::from)
            .ok_or_else(|| EngineError::Spawn(std::io::Error::other("no pid")))?;
        // Our child cannot be reaped before we wait on it, so its stat is there.
        let pid_start = procfs::stat(pid).map_or(0, |s| s.start_ticks);
        // At once, before the launcher gets to it: if this server dies before it
        // records the pid, the next one finds the launcher by this file.
        // Whole or not at all (a reader never sees it empty): written beside
        // it, then renamed over it, as the launcher writes it.
        let pid_file = spec.job_dir.join("pid");
        let tmp = spec.job_dir.join("pid.server");
        let written = write_private(&tmp, format!("{pid}\n").as_bytes(), 0o600)
            .and_then(|()| fs::rename(&tmp, &pid_file));
        if let Err(e) = written {
            // The launcher writes it too: the job goes on.
            tracing::warn!(job = %spec.job, error = %e, "could not write the job's pid file");
        }
        let events = self.events.clone();
        let job = spec.job;
        let job_dir = spec.job_dir.clone();
        tokio::spawn(async move {
            let outcome = match child.wait().await {
                Ok(status) => match (status.code(), status.signal()) {
                    (Some(code), _) => Outcome::Exited(code),
                    (None, Some(sig)) => Outcome::Signaled(sig),
                    (None, None) => Outcome::Lost,
                },
                Err(e) => {
                    tracing::error!(%job, error = %e, "waiting for job failed");
                    Outcome::Lost
                }
            };
            let ev = match (outcome, launch_error(&job_dir).await) {
                (Outcome::Exited(LAUNCH_FAILED), Some(reason)) => {
                    LocalEvent::NotStarted { job, reason }
                }
                _ => LocalEvent::Ended { job, outcome },
            };
            let _ = events.send(ev);
        });
        Ok(Launched { pid, pid_start })
    }

    /// Kills whatever of a job is left in its cgroup (processes that left its
    /// process group) and removes the cgroup. Blocks briefly: call it off the loop.
    pub fn release(&self, job: JobId, job_dir: &Path) {
        if self.confinement.mode == crate::confine::Mode::Accounts {
            crate::confine::cgroup::Cgroups::detect()
                .remove(&crate::confine::cgroup_name(job.0, job_dir));
        }
    }

    /// Whether the watchdog stopped the job at its time limit.
    pub fn stopped_by_watchdog(job_dir: &Path) -> bool {
        job_dir.join(names::WATCHDOG).exists()
    }

    /// Finds out what became of a job started by an earlier server process.
    /// `known` is the pid and start time recorded when it started, if that
    /// was recorded; otherwise the pid file the wrapper wrote is trusted only
    /// if that process carries the job's id in its environment.
    pub fn recover(&self, job: JobId, job_dir: &Path, known: Option<(i64, u64)>) -> Recovery {
        let identity = known.or_else(|| {
            let pid: i64 = fs::read_to_string(job_dir.join("pid"))
                .ok()?
                .trim()
                .parse()
                .ok()?;
            let stat = procfs::stat(pid)?;
            procfs::has_env(pid, "AISC_JOB_ID", &job.to_string()).then_some((pid, stat.start_ticks))
        });
        match identity {
            Some((pid, pid_start)) if procfs::alive(pid, pid_start) => {
                self.watch(job, pid, pid_start, job_dir.to_path_buf());
                Recovery::Alive(Launched { pid, pid_start })
            }
            _ => match read_exit(job_dir) {
                Some(code) => Recovery::Ended(Outcome::Exited(code)),
                None if identity.is_some() || job_dir.join("pid").exists() => {
                    Recovery::Ended(Outcome::Lost)
                }
                None => Recovery::NeverStarted,
            },
        }
    }

    /// Polls a process that is not our child until it ends.
    fn watch(&self, job: JobId, pid: i64, pid_start: u64, job_dir: PathBuf) {
        let events = self.events.clone();
        let poll = self.poll;
        tokio::spawn(async move {
            while procfs::alive(pid, pid_start) {
                tokio::time::sleep(poll).await;
            }
            let outcome = read_exit(&job_dir).map_or(Outcome::Lost, Outcome::Exited);
            let _ = events.send(LocalEvent::Ended { job, outcome });
        });
    }

    /// Sends `sig` to the job's whole process group. False if it is already gone.
    pub fn signal(&self, pid: i64, sig: Signal) -> bool {
        match i32::try_from(pid) {
            Ok(pid) if pid > 1 => killpg(Pid::from_raw(pid), sig).is_ok(),
            _ => false,
        }
    }

    /// Sends `sig` to one process of a job (its batch shell). False if it is gone.
    pub fn signal_one(&self, pid: i64, sig: Signal) -> bool {
        match i32::try_from(pid) {
            Ok(pid) if pid > 1 => nix::sys::signal::kill(Pid::from_raw(pid), sig).is_ok(),
            _ => false,
        }
    }

    /// Whether any live process of the job's process group is still there.
    pub fn group_alive(&self, pid: i64) -> bool {
        pid > 1 && procfs::group_has_live_members(pid)
    }
}

/// The `srun` a job finds first on its `PATH`: it runs a step as the job's
/// tasks on this host (see the script for what it honours and refuses).
pub const SRUN: &str = include_str!("srun.sh");

fn job_vars(spec: &LaunchSpec) -> Vec<(&'static str, String)> {
    let id = spec.job.to_string();
    let gpus = spec
        .gpu_ids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let tasks = spec.tasks.max(1);
    // The job's own directory holds its `srun`; it comes before the PATH it would have had.
    let path = spec
        .env
        .get("PATH")
        .cloned()
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut vars = vec![
        ("AISC_JOB_ID", id.clone()),
        ("AISC_JOB_NAME", spec.name.clone()),
        ("SLURM_JOB_ID", id.clone()),
        ("SLURM_JOBID", id),
        ("SLURM_JOB_NAME", spec.name.clone()),
        (
            "SLURM_CPUS_PER_TASK",
            (spec.cpus / tasks).max(1).to_string(),
        ),
        ("SLURM_CPUS_ON_NODE", spec.cpus.to_string()),
        ("SLURM_JOB_CPUS_PER_NODE", spec.cpus.to_string()),
        ("SLURM_SUBMIT_DIR", spec.workdir.display().to_string()),
        ("SLURM_NNODES", "1".into()),
        ("SLURM_JOB_NUM_NODES", "1".into()),
        ("SLURM_JOB_NODELIST", spec.node.clone()),
        ("SLURM_NODELIST", spec.node.clone()),
        ("SLURMD_NODENAME", spec.node.clone()),
        ("SLURM_NTASKS", tasks.to_string()),
        ("SLURM_NPROCS", tasks.to_string()),
        ("SLURM_TASKS_PER_NODE", tasks.to_string()),
        ("SLURM_NODEID", "0".into()),
        ("SLURM_PROCID", "0".into()),
        ("SLURM_LOCALID", "0".into()),
        ("SLURM_GPUS_ON_NODE", spec.gpu_ids.len().to_string()),
        ("CUDA_DEVICE_ORDER", "PCI_BUS_ID".into()),
        ("CUDA_VISIBLE_DEVICES", gpus),
        (
            "PATH",
            format!("{}:{path}", spec.job_dir.join("bin").display()),
        ),
    ];
    if let Some(g) = spec.gpus_per_task {
        vars.push(("SLURM_GPUS_PER_TASK", g.to_string()));
    }
    if tasks > 1 {
        let [port, world] = aisc_model::engine::distributed_vars(spec.job, tasks);
        for (k, v) in [("MASTER_ADDR", "127.0.0.1".to_string()), port, world] {
            if !spec.env.contains_key(k) {
                vars.push((k, v));
            }
        }
    }
    if spec.fake_gpus && !spec.gpu_ids.is_empty() {
        vars.push(("AISC_FAKE_GPUS", "1".into()));
    }
    vars
}

fn read_exit(job_dir: &Path) -> Option<i32> {
    fs::read_to_string(job_dir.join("exit"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Why the launcher could not start the job, if it said.
async fn launch_error(job_dir: &Path) -> Option<String> {
    let text = tokio::fs::read_to_string(job_dir.join(names::LAUNCH_ERROR))
        .await
        .ok()?;
    Some(text.chars().take(1000).collect())
}

fn write_private(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    fs::write(path, bytes)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}
