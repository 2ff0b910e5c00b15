//! The local engine: jobs as process groups on this host.

use crate::EngineError;
use crate::procfs;
use aisc_model::{JobCommand, JobId};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::mpsc;

/// Runs the job, recording the group leader's pid before and the exit status after.
const WRAPPER: &str = r#"d=$1; shift
echo $$ > "$d/pid.tmp" && mv -f "$d/pid.tmp" "$d/pid"
"$@"
c=$?
echo $c > "$d/exit.tmp" && mv -f "$d/exit.tmp" "$d/exit"
exit $c"#;

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
    /// The job's private directory (script, pid and exit files).
    pub job_dir: PathBuf,
    /// Standard output file.
    pub stdout: PathBuf,
    /// Standard error file; `None` merges it into standard output.
    pub stderr: Option<PathBuf>,
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
pub enum EngineEvent {
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

/// Runs jobs as local process groups.
#[derive(Debug, Clone)]
pub struct LocalEngine {
    events: mpsc::UnboundedSender<EngineEvent>,
    poll: Duration,
}

impl LocalEngine {
    /// An engine that reports on `events`.
    pub fn new(events: mpsc::UnboundedSender<EngineEvent>) -> Self {
        LocalEngine {
            events,
            poll: Duration::from_millis(200),
        }
    }

    /// Starts a job. Must be called inside a tokio runtime; its end is reported on the events channel.
    pub fn launch(&self, spec: &LaunchSpec) -> Result<Launched, EngineError> {
        let io = |what: &'static str, path: &Path| {
            let path = path.display().to_string();
            move |source| EngineError::Io { what, path, source }
        };
        fs::create_dir_all(&spec.job_dir)
            .map_err(io("cannot create job directory", &spec.job_dir))?;
        fs::set_permissions(&spec.job_dir, fs::Permissions::from_mode(0o700))
            .map_err(io("cannot protect job directory", &spec.job_dir))?;
        if !spec.workdir.is_dir() {
            return Err(EngineError::Io {
                what: "working directory is missing",
                path: spec.workdir.display().to_string(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let argv: Vec<String> = match &spec.command {
            JobCommand::Argv(argv) => argv.clone(),
            JobCommand::Script(text) => {
                let path = spec.job_dir.join("script");
                write_private(&path, text.as_bytes(), 0o700)
                    .map_err(io("cannot write script", &path))?;
                vec![path.display().to_string()]
            }
        };
        let stdout = open_log(&spec.stdout).map_err(io("cannot open output file", &spec.stdout))?;
        let stderr = match &spec.stderr {
            Some(p) => open_log(p).map_err(io("cannot open error file", p))?,
            None => stdout
                .try_clone()
                .map_err(io("cannot share output file", &spec.stdout))?,
        };

        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(WRAPPER)
            .arg("aisc-job")
            .arg(&spec.job_dir)
            .args(&argv);
        cmd.current_dir(&spec.workdir).env_clear();
        for key in INHERITED {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        cmd.envs(&spec.env).envs(job_vars(spec));
        cmd.stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(false);

        let mut child = cmd.spawn().map_err(EngineError::Spawn)?;
        let pid = child
            .id()
            .map(i64::from)
            .ok_or_else(|| EngineError::Spawn(std::io::Error::other("no pid")))?;
        // Our child cannot be reaped before we wait on it, so its stat is there.
        let pid_start = procfs::stat(pid).map_or(0, |s| s.start_ticks);
        let events = self.events.clone();
        let job = spec.job;
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
            let _ = events.send(EngineEvent::Ended { job, outcome });
        });
        Ok(Launched { pid, pid_start })
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
            let _ = events.send(EngineEvent::Ended { job, outcome });
        });
    }

    /// Sends `sig` to the job's whole process group. False if it is already gone.
    pub fn signal(&self, pid: i64, sig: Signal) -> bool {
        match i32::try_from(pid) {
            Ok(pid) if pid > 1 => killpg(Pid::from_raw(pid), sig).is_ok(),
            _ => false,
        }
    }

    /// Whether any live process of the job's process group is still there.
    pub fn group_alive(&self, pid: i64) -> bool {
        pid > 1 && procfs::group_has_live_members(pid)
    }
}

fn job_vars(spec: &LaunchSpec) -> Vec<(&'static str, String)> {
    let id = spec.job.to_string();
    let gpus = spec
        .gpu_ids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut vars = vec![
        ("AISC_JOB_ID", id.clone()),
        ("AISC_JOB_NAME", spec.name.clone()),
        ("SLURM_JOB_ID", id),
        ("SLURM_JOB_NAME", spec.name.clone()),
        ("SLURM_CPUS_PER_TASK", spec.cpus.to_string()),
        ("SLURM_SUBMIT_DIR", spec.workdir.display().to_string()),
        ("CUDA_DEVICE_ORDER", "PCI_BUS_ID".into()),
        ("CUDA_VISIBLE_DEVICES", gpus),
    ];
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

fn open_log(path: &Path) -> std::io::Result<fs::File> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

fn write_private(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    fs::write(path, bytes)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}
