//! How a local job is kept away from the server and from other tenants.
//!
//! The server never starts a job's command itself: it starts the *launcher*
//! (`aisc __launch JOB_DIR`, or the `aisc-launch` binary), a small process
//! that reads the plan the server wrote in the job's directory and then:
//! - opens the job's output files: the captured log in the job directory
//!   with its own identity, any path the user chose *as the job's user*,
//!   refusing anything but a regular file (no FIFO, device, socket or
//!   symlink) and anything outside the job's working directory and the
//!   centre's configured roots, and records which file it opened (device
//!   and inode) so that the logs endpoint serves that file and no other;
//! - forks the job into a private mount namespace in which the server's data
//!   directory, its key files and other jobs' directories are empty, into
//!   its own cgroup (CPU, memory, pids and device limits from the request),
//!   as the job's user's Unix account when the server is root (never uid 0
//!   or a system account), or under Landlock when it is not;
//! - stays behind as the job's watchdog: at the time limit (plus a margin
//!   that lets the control loop act first) it sends SIGTERM to the job's
//!   process group and cgroup, SIGKILL after the grace period, whether or
//!   not the control loop is responsive; then it records the exit status.

pub mod cgroup;
pub mod files;
mod hide;
pub mod launcher;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How jobs are confined, decided once when the server starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The server is root: each job runs as its user's Unix account, in a
    /// private mount namespace and a cgroup of its own.
    Accounts,
    /// The server is an ordinary user: every job runs as that user, confined
    /// by Landlock (and, where the kernel allows unprivileged user
    /// namespaces, a private mount namespace).
    Landlock,
}

/// The server's confinement settings for the local engine.
#[derive(Debug, Clone)]
pub struct Confinement {
    /// The launcher program and the arguments before the job directory.
    pub launcher: Vec<PathBuf>,
    /// Which mode is in force.
    pub mode: Mode,
    /// Paths a job must not reach: the data directory, key files, the config file.
    pub hidden: Vec<PathBuf>,
    /// Directories besides a job's working directory where its output files may be.
    pub roots: Vec<PathBuf>,
    /// The lowest uid a job may run as (`--min-job-uid`); uid 0 never.
    pub min_uid: u32,
    /// Unix account for users who have none of their own (`--default-unix-name`).
    pub default_unix_name: Option<String>,
    /// Most processes a job may have (cgroup pids limit).
    pub max_pids: u32,
    /// How long after its time limit the launcher itself stops a job that
    /// the control loop has not stopped.
    pub watchdog_margin_ms: u64,
}

impl Confinement {
    /// The mode this process's privileges call for: accounts as root, Landlock otherwise.
    pub fn mode_for_this_process() -> Mode {
        if nix::unistd::geteuid().is_root() {
            Mode::Accounts
        } else {
            Mode::Landlock
        }
    }

    /// Settings for `mode` with the launcher at `launcher` (program, then leading arguments).
    pub fn new(launcher: Vec<PathBuf>, mode: Mode, hidden: Vec<PathBuf>) -> Self {
        Confinement {
            launcher,
            mode,
            hidden,
            roots: Vec::new(),
            min_uid: 1000,
            default_unix_name: None,
            max_pids: 4096,
            watchdog_margin_ms: 5_000,
        }
    }

    /// One line for the start-up message: how jobs are confined here.
    pub fn describe(&self) -> String {
        match self.mode {
            Mode::Accounts => format!(
                "jobs run as their users' Unix accounts (uid >= {}, never root), each in a private mount namespace without the data directory or key files, in a cgroup of its own ({}), watched by a per-job watchdog",
                self.min_uid,
                cgroup::Cgroups::detect().describe()
            ),
            Mode::Landlock => format!(
                "jobs run as this server's user ({}), confined by {} away from the data directory and key files, watched by a per-job watchdog; no cgroups (run as root for Unix accounts and resource limits)",
                nix::unistd::User::from_uid(nix::unistd::geteuid())
                    .ok()
                    .flatten()
                    .map_or_else(|| nix::unistd::geteuid().to_string(), |u| u.name),
                hide::landlock_status()
            ),
        }
    }
}

/// Where a job's output stream goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A file in the job's own directory, which the server reads back.
    Captured(PathBuf),
    /// A file the user chose, opened as the job's user.
    File(PathBuf),
}

/// Limits the job's cgroup gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU cores (a CFS quota of this many CPUs).
    pub cpus: u32,
    /// Memory, MiB.
    pub mem_mb: u64,
    /// Processes.
    pub pids: u32,
    /// Indices of the GPUs whose device files it may open.
    pub gpus: Vec<u32>,
}

/// What the server asks the launcher to do, written as `launch.json` in the
/// job's directory (which only the server's user can write).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The job's id.
    pub job: i64,
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Working directory.
    pub workdir: PathBuf,
    /// The job's directory (script, pid and exit files, captured log).
    pub job_dir: PathBuf,
    /// Standard output.
    pub stdout: Target,
    /// Standard error; `None` merges it into standard output.
    pub stderr: Option<Target>,
    /// How it is confined.
    pub mode: Mode,
    /// The Unix account it runs as ([`Mode::Accounts`]).
    pub run_as: Option<String>,
    /// The lowest uid allowed.
    pub min_uid: u32,
    /// Paths the job must not reach.
    pub hidden: Vec<PathBuf>,
    /// Directories besides the working directory where output files may be.
    pub roots: Vec<PathBuf>,
    /// cgroup limits.
    pub limits: Limits,
    /// The job's cgroup's name (unique to this job of this installation).
    pub cgroup: String,
    /// When the watchdog sends SIGTERM, ms after the launch (0: never).
    pub watchdog_ms: u64,
    /// Between the watchdog's SIGTERM and its SIGKILL, ms.
    pub grace_ms: u64,
}

/// Names of the files the launcher keeps in a job's directory.
pub mod names {
    /// The server's plan (removed once read).
    pub const PLAN: &str = "launch.json";
    /// Why the job could not be started.
    pub const LAUNCH_ERROR: &str = "launch-error";
    /// The files the launcher opened for the job (see [`super::files::Opened`]).
    pub const OUTPUTS: &str = "outputs.json";
    /// Written by the watchdog when it stopped the job at its time limit.
    pub const WATCHDOG: &str = "watchdog";
}

/// The launcher's exit status when the job could not be started (its reason
/// is in [`names::LAUNCH_ERROR`]).
pub const LAUNCH_FAILED: i32 = 125;

/// The name of a job's cgroup: its id and a digest of its directory, so
/// that two installations on one host (or tests) never share one.
pub fn cgroup_name(job: i64, job_dir: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(job_dir.as_os_str().as_encoded_bytes());
    let tag: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("job-{job}-{tag}")
}
