//! A submission as a user sends it ([`JobRequest`]: flags, optionally a batch
//! script) and as the centre stores it ([`JobSpec`]: resolved and checked).
//!
//! Precedence, as with `sbatch`: explicit request fields, then the script's
//! `#SBATCH` directives, then defaults. Every refusal names the field and the
//! limit, so the caller can fix exactly what is wrong.

use crate::resources::Resources;
use crate::sbatch::{parse_gpu_spec, parse_script};
use crate::units::{parse_mem_mb, parse_time_limit};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// The most GPUs one job may ask for.
pub const MAX_GPUS: u32 = 4096;
/// The most CPU cores one job may ask for.
pub const MAX_CPUS: u32 = 65_536;
/// The longest job name.
pub const MAX_NAME_LEN: usize = 200;
/// The largest command line or script, in bytes.
pub const MAX_COMMAND_BYTES: usize = 1 << 20;
/// The most environment variables.
pub const MAX_ENV_VARS: usize = 4096;
/// The longest path (working directory, output files).
pub const MAX_PATH_LEN: usize = 4096;
/// Time limit when none is given: one hour.
pub const DEFAULT_TIME_LIMIT_S: u64 = 3600;
/// Memory per CPU when none is given: 1 GiB.
pub const DEFAULT_MEM_PER_CPU_MB: u64 = 1024;

/// A submission as received: everything optional but the command or script.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct JobRequest {
    /// Job name (`-J`).
    pub name: Option<String>,
    /// Project to charge (`-A`).
    pub account: Option<String>,
    /// Grant to charge (default: the project's first active grant).
    pub grant: Option<i64>,
    /// Time limit in any Slurm form or with a unit (`10m`).
    pub time: Option<String>,
    /// CPU cores (`-c`).
    pub cpus: Option<u32>,
    /// Memory, e.g. `4G` (`--mem`).
    pub mem: Option<String>,
    /// GPUs as `N` or `type:N` (`-G`).
    pub gpus: Option<String>,
    /// Standard output file (`-o`); `%j` is the job id, `%x` the name.
    pub output: Option<String>,
    /// Standard error file (`-e`); merged into the output when absent.
    pub error: Option<String>,
    /// Working directory (`-D`); absolute.
    pub chdir: Option<String>,
    /// Keep the job pending until released (`-H`).
    pub hold: bool,
    /// Quality of service (`-q`): `normal` (default), `high` (operator-granted) or `scavenger`.
    pub qos: Option<String>,
    /// Whether a preempted job is queued again (default) or ends `preempted` (`--no-requeue`).
    pub requeue: Option<bool>,
    /// The program and its arguments, when no script is given.
    pub command: Vec<String>,
    /// A batch script (starts with `#!`), when no command is given.
    pub script: Option<String>,
    /// The script's file name, used as the default job name.
    pub script_name: Option<String>,
    /// Environment variables for the job.
    pub env: BTreeMap<String, String>,
}

/// What a job runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobCommand {
    /// A program and its arguments.
    Argv(Vec<String>),
    /// A batch script, run through its `#!` interpreter.
    Script(String),
}

/// A resolved, checked submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Job name.
    pub name: String,
    /// Project to charge, if named.
    pub account: Option<String>,
    /// What it asks for.
    pub resources: Resources,
    /// A GPU model it insists on, if any.
    pub gpu_type: Option<String>,
    /// Seconds it may run.
    pub time_limit_s: u64,
    /// What it runs.
    pub command: JobCommand,
    /// Absolute working directory.
    pub workdir: String,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Output file pattern, if given.
    pub output: Option<String>,
    /// Error file pattern, if given.
    pub error: Option<String>,
    /// Submitted held.
    pub hold: bool,
    /// Quality of service.
    #[serde(default)]
    pub qos: crate::Qos,
    /// Queued again when preempted (otherwise it ends `preempted`).
    #[serde(default = "yes")]
    pub requeue: bool,
}

fn yes() -> bool {
    true
}

/// A refused submission: which field, what is wrong, and the limit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    /// The request field at fault (`gpus`, `time`, `script`, ...).
    pub field: &'static str,
    /// What is wrong, in words.
    pub message: String,
    /// The limit that was crossed, where there is one.
    pub limit: Option<String>,
}

impl SpecError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        SpecError {
            field,
            message: message.into(),
            limit: None,
        }
    }

    fn limit(field: &'static str, message: impl Into<String>, limit: impl Into<String>) -> Self {
        SpecError {
            field,
            message: message.into(),
            limit: Some(limit.into()),
        }
    }
}

/// The result of resolving a request: the spec and any warnings for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The checked spec.
    pub spec: JobSpec,
    /// Directives that were ignored, and similar notes.
    pub warnings: Vec<String>,
}

impl JobRequest {
    /// Merges flags, script directives and defaults into a checked [`JobSpec`].
    pub fn resolve(&self) -> Result<Resolved, SpecError> {
        let (command, directives) = match (&self.script, self.command.is_empty()) {
            (Some(_), false) => {
                return Err(SpecError::new(
                    "command",
                    "give either a command or a script, not both",
                ));
            }
            (None, true) => {
                return Err(SpecError::new(
                    "command",
                    "empty command: give a program to run or a script",
                ));
            }
            (Some(script), true) => {
                if script.len() > MAX_COMMAND_BYTES {
                    return Err(SpecError::limit(
                        "script",
                        "script too large",
                        format!("{MAX_COMMAND_BYTES} bytes"),
                    ));
                }
                let d =
                    parse_script(script).map_err(|e| SpecError::new("script", e.to_string()))?;
                (JobCommand::Script(script.clone()), d)
            }
            (None, false) => {
                check_argv(&self.command)?;
                (JobCommand::Argv(self.command.clone()), Default::default())
            }
        };

        let name = match (&self.name, &directives.name) {
            (Some(n), _) | (None, Some(n)) => n.clone(),
            (None, None) => default_name(&command, self.script_name.as_deref()),
        };
        check_name(&name)?;

        let time_limit_s = match &self.time {
            Some(t) => parse_time_limit(t)
                .map_err(|e| SpecError::limit("time", e.to_string(), "1s to 365 days"))?,
            None => directives.time_limit_s.unwrap_or(DEFAULT_TIME_LIMIT_S),
        };
        let cpus = self.cpus.or(directives.cpus).unwrap_or(1);
        if cpus == 0 || cpus > MAX_CPUS {
            return Err(SpecError::limit(
                "cpus",
                format!("{cpus} CPUs is out of range"),
                format!("1 to {MAX_CPUS}"),
            ));
        }
        let mem_mb = match &self.mem {
            Some(m) => {
                parse_mem_mb(m).map_err(|e| SpecError::limit("mem", e.to_string(), "1M to 64T"))?
            }
            None => directives
                .mem_mb
                .unwrap_or(DEFAULT_MEM_PER_CPU_MB * u64::from(cpus)),
        };
        let (gpu_type, gpus) = match &self.gpus {
            Some(g) => parse_gpu_spec(g).map_err(|e| SpecError::new("gpus", e))?,
            None => (directives.gpu_type.clone(), directives.gpus.unwrap_or(0)),
        };
        if gpus > MAX_GPUS {
            return Err(SpecError::limit(
                "gpus",
                format!("{gpus} GPUs is out of range"),
                format!("0 to {MAX_GPUS}"),
            ));
        }
        let workdir = self
            .chdir
            .clone()
            .or(directives.chdir.clone())
            .ok_or_else(|| SpecError::new("chdir", "a working directory is required"))?;
        check_path("chdir", &workdir)?;
        if !workdir.starts_with('/') {
            return Err(SpecError::new(
                "chdir",
                format!("{workdir:?} must be an absolute path"),
            ));
        }
        let output = self.output.clone().or(directives.output.clone());
        let error = self.error.clone().or(directives.error.clone());
        for (field, p) in [("output", &output), ("error", &error)] {
            if let Some(p) = p {
                check_path(field, p)?;
            }
        }
        check_env(&self.env)?;
        let qos = match &self.qos {
            Some(q) => q.parse().map_err(|e: crate::qos::UnknownQos| {
                SpecError::limit("qos", e.to_string(), "high, normal or scavenger")
            })?,
            None => directives.qos.unwrap_or_default(),
        };

        Ok(Resolved {
            spec: JobSpec {
                name,
                account: self.account.clone().or(directives.account.clone()),
                resources: Resources { gpus, cpus, mem_mb },
                gpu_type,
                time_limit_s,
                command,
                workdir,
                env: self.env.clone(),
                output,
                error,
                hold: self.hold || directives.hold,
                qos,
                requeue: self.requeue.or(directives.requeue).unwrap_or(true),
            },
            warnings: directives.warnings,
        })
    }
}

fn default_name(command: &JobCommand, script_name: Option<&str>) -> String {
    let raw = match command {
        JobCommand::Argv(argv) => argv.first().map(String::as_str).unwrap_or("job"),
        JobCommand::Script(_) => script_name.unwrap_or("script"),
    };
    let base = raw.rsplit('/').next().unwrap_or(raw);
    base.chars().take(MAX_NAME_LEN).collect()
}

fn check_argv(argv: &[String]) -> Result<(), SpecError> {
    if argv[0].trim().is_empty() {
        return Err(SpecError::new(
            "command",
            "empty command: the program name is blank",
        ));
    }
    let bytes: usize = argv.iter().map(|a| a.len() + 1).sum();
    if bytes > MAX_COMMAND_BYTES {
        return Err(SpecError::limit(
            "command",
            "command line too long",
            format!("{MAX_COMMAND_BYTES} bytes"),
        ));
    }
    if argv.iter().any(|a| a.contains('\0')) {
        return Err(SpecError::new(
            "command",
            "arguments cannot contain NUL bytes",
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), SpecError> {
    if name.trim().is_empty() {
        return Err(SpecError::new("name", "job name is blank"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(SpecError::limit(
            "name",
            "job name too long",
            format!("{MAX_NAME_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(SpecError::new(
            "name",
            "job name cannot contain control characters",
        ));
    }
    Ok(())
}

fn check_path(field: &'static str, p: &str) -> Result<(), SpecError> {
    if p.is_empty() {
        return Err(SpecError::new(field, "path is empty"));
    }
    if p.len() > MAX_PATH_LEN {
        return Err(SpecError::limit(
            field,
            "path too long",
            format!("{MAX_PATH_LEN} bytes"),
        ));
    }
    if p.contains('\0') {
        return Err(SpecError::new(field, "path cannot contain NUL bytes"));
    }
    Ok(())
}

fn check_env(env: &BTreeMap<String, String>) -> Result<(), SpecError> {
    if env.len() > MAX_ENV_VARS {
        return Err(SpecError::limit(
            "env",
            "too many environment variables",
            MAX_ENV_VARS.to_string(),
        ));
    }
    let total: usize = env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    if total > MAX_COMMAND_BYTES {
        return Err(SpecError::limit(
            "env",
            "environment too large",
            format!("{MAX_COMMAND_BYTES} bytes"),
        ));
    }
    for (k, v) in env {
        let valid = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(SpecError::new(
                "env",
                format!("{k:?} is not a valid variable name"),
            ));
        }
        if v.contains('\0') {
            return Err(SpecError::new(
                "env",
                format!("{k}: value cannot contain NUL bytes"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(cmd: &[&str]) -> JobRequest {
        JobRequest {
            command: cmd.iter().map(|s| s.to_string()).collect(),
            chdir: Some("/tmp".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_for_a_plain_command() {
        let r = argv(&["/usr/bin/python3", "-c", "print(42)"])
            .resolve()
            .unwrap();
        assert_eq!(r.spec.name, "python3");
        assert_eq!(
            r.spec.resources,
            Resources {
                gpus: 0,
                cpus: 1,
                mem_mb: 1024
            }
        );
        assert_eq!(r.spec.time_limit_s, DEFAULT_TIME_LIMIT_S);
    }

    #[test]
    fn flags_override_the_script() {
        let req = JobRequest {
            script: Some("#!/bin/sh\n#SBATCH -J fromscript\n#SBATCH -c 4\n#SBATCH -t 5\n#SBATCH --gres=gpu:2\necho\n".into()),
            cpus: Some(2),
            gpus: Some("h100:1".into()),
            chdir: Some("/tmp".into()),
            ..Default::default()
        };
        let s = req.resolve().unwrap().spec;
        assert_eq!(s.name, "fromscript");
        assert_eq!(s.resources.cpus, 2);
        assert_eq!(s.resources.gpus, 1);
        assert_eq!(s.gpu_type.as_deref(), Some("h100"));
        assert_eq!(s.time_limit_s, 300);
        assert_eq!(s.resources.mem_mb, 2048, "default memory follows the CPUs");
    }

    #[test]
    fn script_chdir_is_used_when_no_flag() {
        let req = JobRequest {
            script: Some("#!/bin/sh\n#SBATCH -D /var/tmp\ntrue\n".into()),
            ..Default::default()
        };
        assert_eq!(req.resolve().unwrap().spec.workdir, "/var/tmp");
    }

    #[test]
    fn refusals_name_the_field() {
        let cases: Vec<(JobRequest, &str)> = vec![
            (argv(&[]), "command"),
            (argv(&["  "]), "command"),
            (
                JobRequest {
                    cpus: Some(0),
                    ..argv(&["x"])
                },
                "cpus",
            ),
            (
                JobRequest {
                    cpus: Some(MAX_CPUS + 1),
                    ..argv(&["x"])
                },
                "cpus",
            ),
            (
                JobRequest {
                    gpus: Some("999999".into()),
                    ..argv(&["x"])
                },
                "gpus",
            ),
            (
                JobRequest {
                    gpus: Some("-1".into()),
                    ..argv(&["x"])
                },
                "gpus",
            ),
            (
                JobRequest {
                    time: Some("0".into()),
                    ..argv(&["x"])
                },
                "time",
            ),
            (
                JobRequest {
                    time: Some("soon".into()),
                    ..argv(&["x"])
                },
                "time",
            ),
            (
                JobRequest {
                    mem: Some("0".into()),
                    ..argv(&["x"])
                },
                "mem",
            ),
            (
                JobRequest {
                    name: Some("x".repeat(201)),
                    ..argv(&["x"])
                },
                "name",
            ),
            (
                JobRequest {
                    chdir: Some("relative".into()),
                    ..argv(&["x"])
                },
                "chdir",
            ),
            (
                JobRequest {
                    chdir: None,
                    ..argv(&["x"])
                },
                "chdir",
            ),
            (
                JobRequest {
                    script: Some("#!/bin/sh\n".into()),
                    ..argv(&["x"])
                },
                "command",
            ),
            (
                JobRequest {
                    script: Some("no shebang".into()),
                    ..argv(&[])
                },
                "script",
            ),
            (
                JobRequest {
                    env: [("1BAD".to_string(), "v".to_string())].into(),
                    ..argv(&["x"])
                },
                "env",
            ),
        ];
        for (req, field) in cases {
            let e = req.resolve().unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
    }

    #[test]
    fn limits_are_reported() {
        let e = JobRequest {
            cpus: Some(0),
            ..argv(&["x"])
        }
        .resolve()
        .unwrap_err();
        assert_eq!(e.limit.as_deref(), Some("1 to 65536"));
    }

    #[test]
    fn script_errors_keep_the_line_number() {
        let req = JobRequest {
            script: Some("#!/bin/sh\n#SBATCH -J ok\n#SBATCH --time=later\n".into()),
            chdir: Some("/tmp".into()),
            ..Default::default()
        };
        let e = req.resolve().unwrap_err();
        assert_eq!(e.field, "script");
        assert!(e.message.starts_with("line 3:"), "{e}");
    }
}
