//! A cgroup per job: CPU, memory, pids and device limits, and a way to find
//! and kill every process of a job, even one that left its process group.
//!
//! cgroup v2 where the host has it (`/sys/fs/cgroup/cgroup.controllers`),
//! otherwise the v1 controllers `cpu`, `memory`, `pids` and `devices`. On v2
//! the device limit needs an eBPF program, which aisc does not load yet: there
//! a job's GPUs are chosen by `CUDA_VISIBLE_DEVICES` only (said at start).

use super::Limits;
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";
const V1_CONTROLLERS: &[&str] = &["cpu", "memory", "pids", "devices"];

/// Character devices every job may use (docker's defaults): null, zero,
/// full, random, urandom, tty, ptmx and the pseudo-terminals.
const V1_ALLOWED: &[&str] = &[
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

/// The host's cgroup file system, as far as aisc uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroups {
    /// The unified hierarchy.
    V2(PathBuf),
    /// The v1 controllers, each mounted under this directory.
    V1(PathBuf),
    /// None usable, and why.
    Unavailable(String),
}

impl Cgroups {
    /// What this host and process can use.
    pub fn detect() -> Self {
        Self::detect_at(Path::new(ROOT))
    }

    fn detect_at(root: &Path) -> Self {
        if !nix::unistd::geteuid().is_root() {
            return Cgroups::Unavailable("the server is not root".into());
        }
        if root.join("cgroup.controllers").exists() {
            Cgroups::V2(root.to_path_buf())
        } else if root.join("memory/cgroup.procs").exists() {
            Cgroups::V1(root.to_path_buf())
        } else {
            Cgroups::Unavailable(format!("no cgroup file system at {}", root.display()))
        }
    }

    /// One phrase for the start-up message.
    pub fn describe(&self) -> String {
        match self {
            Cgroups::V2(_) => "cgroup v2: CPU, memory and pids limits; GPUs by CUDA_VISIBLE_DEVICES only, no device filter".into(),
            Cgroups::V1(_) => "cgroup v1: CPU, memory, pids and device limits, only its GPUs' device files".into(),
            Cgroups::Unavailable(why) => format!("no cgroups: {why}"),
        }
    }

    fn dirs(&self, job: &str) -> Vec<(&'static str, PathBuf)> {
        let name = format!("aisc/{job}");
        match self {
            Cgroups::V2(root) => vec![("", root.join(name))],
            Cgroups::V1(root) => V1_CONTROLLERS
                .iter()
                .map(|c| (*c, root.join(c).join(&name)))
                .filter(|(c, _)| root.join(c).join("cgroup.procs").exists())
                .collect(),
            Cgroups::Unavailable(_) => Vec::new(),
        }
    }

    /// Makes the job's cgroup with its limits.
    pub fn create(&self, job: &str, limits: &Limits) -> std::io::Result<()> {
        let w = |dir: &Path, file: &str, value: &str| {
            fs::write(dir.join(file), value).map_err(|e| {
                std::io::Error::new(e.kind(), format!("{}: {e}", dir.join(file).display()))
            })
        };
        let quota = u64::from(limits.cpus) * 100_000;
        let memory = limits.mem_mb.saturating_mul(1024 * 1024);
        if let Cgroups::V2(root) = self {
            for dir in [root.clone(), root.join("aisc")] {
                fs::create_dir_all(&dir)?;
                // Controllers must be enabled on the way down; one already on is fine.
                let _ = fs::write(dir.join("cgroup.subtree_control"), "+cpu +memory +pids");
            }
        }
        for (controller, dir) in self.dirs(job) {
            fs::create_dir_all(&dir)?;
            match controller {
                "" => {
                    if memory > 0 {
                        w(&dir, "memory.max", &memory.to_string())?;
                    }
                    if quota > 0 {
                        w(&dir, "cpu.max", &format!("{quota} 100000"))?;
                    }
                    w(&dir, "pids.max", &limits.pids.to_string())?;
                }
                "memory" if memory > 0 => w(&dir, "memory.limit_in_bytes", &memory.to_string())?,
                "cpu" if quota > 0 => {
                    w(&dir, "cpu.cfs_period_us", "100000")?;
                    w(&dir, "cpu.cfs_quota_us", &quota.to_string())?;
                }
                "pids" => w(&dir, "pids.max", &limits.pids.to_string())?,
                "devices" => {
                    w(&dir, "devices.deny", "a")?;
                    for rule in V1_ALLOWED
                        .iter()
                        .map(|r| (*r).to_string())
                        .chain(gpu_rules(&limits.gpus))
                    {
                        w(&dir, "devices.allow", &rule)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Moves process `pid` (0: the caller) into the job's cgroup.
    pub fn join(&self, job: &str, pid: u32) -> std::io::Result<()> {
        for (_, dir) in self.dirs(job) {
            fs::write(dir.join("cgroup.procs"), pid.to_string())
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        }
        Ok(())
    }

    /// The processes in the job's cgroup.
    pub fn procs(&self, job: &str) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .dirs(job)
            .iter()
            .filter_map(|(_, d)| fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|t| {
                t.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Sends `sig` to every process in the job's cgroup; returns how many there were.
    pub fn signal(&self, job: &str, sig: nix::sys::signal::Signal) -> usize {
        let pids = self.procs(job);
        for pid in &pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), sig);
        }
        pids.len()
    }

    /// Kills what is left in the job's cgroup and removes it.
    pub fn remove(&self, job: &str) {
        for _ in 0..50 {
            if self.signal(job, nix::sys::signal::Signal::SIGKILL) == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for (_, dir) in self.dirs(job) {
            let _ = fs::remove_dir(&dir);
        }
    }
}

/// Device rules for the NVIDIA device files of `gpus`: each GPU's own
/// `/dev/nvidiaN`, and the control and UVM devices every CUDA program opens.
fn gpu_rules(gpus: &[u32]) -> Vec<String> {
    if gpus.is_empty() {
        return Vec::new();
    }
    let mut rules: Vec<String> = gpus.iter().map(|g| format!("c 195:{g} rwm")).collect();
    rules.push("c 195:254 rwm".into());
    rules.push("c 195:255 rwm".into());
    if let Some(major) = fs::read_to_string("/proc/devices").ok().and_then(|t| {
        t.lines().find_map(|l| {
            let (n, name) = l.trim().split_once(' ')?;
            (name == "nvidia-uvm").then(|| n.to_string())
        })
    }) {
        rules.push(format!("c {major}:* rwm"));
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_without_gpus_gets_no_gpu_device_and_one_with_gpus_only_its_own() {
        assert!(gpu_rules(&[]).is_empty());
        let r = gpu_rules(&[1, 3]);
        assert!(r.contains(&"c 195:1 rwm".to_string()));
        assert!(r.contains(&"c 195:3 rwm".to_string()));
        assert!(!r.contains(&"c 195:0 rwm".to_string()));
    }

    #[test]
    fn a_host_without_cgroups_says_why() {
        let dir = std::env::temp_dir().join("aisc-no-cgroups-here");
        match Cgroups::detect_at(&dir) {
            Cgroups::Unavailable(why) => assert!(!why.is_empty()),
            other => panic!("{other:?}"),
        }
    }
}
