//! A submission as a user sends it ([`JobRequest`]: flags, optionally a batch
//! script) and as the centre stores it ([`JobSpec`]: resolved and checked).
//!
//! Precedence, as with `sbatch`: explicit request fields, then the script's
//! `#SBATCH` directives, then defaults. Every refusal names the field and the
//! limit, so the caller can fix exactly what is wrong.

use crate::resources::Resources;
use crate::sbatch::{SbatchOptions, parse_gpu_spec, parse_options, parse_script};
use crate::units::{parse_mem_mb, parse_time_limit};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

mod geometry;
pub use geometry::{Geometry, GpusPer};
use geometry::{geometry_of, gpus_of};

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
    /// Further `sbatch` options, as words (`["-N", "1", "--gpus-per-node=2"]`):
    /// read as a script's `#SBATCH` lines are, and taking precedence over them.
    pub options: Vec<String>,
    /// Arguments for the script (`$1`, `$2`, ...).
    pub args: Vec<String>,
    /// Run the command interactively (`aisc run`, `aisc alloc`): its input and
    /// output go through the server to whoever attaches, on a pseudo-terminal
    /// when asked (`--pty`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interactive: Option<Interactive>,
}

/// How an interactive job talks to its user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Interactive {
    /// On a pseudo-terminal (`--pty`): a shell or full-screen program, with
    /// the user's window size and Ctrl-C; without it, plain input and output.
    #[serde(default)]
    pub pty: bool,
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
    /// Arguments for the script (`$1`, `$2`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// The partition asked for (`-p`): the resource class of its grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// `--comment`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `--mail-type` and `--mail-user`, stored (no mail is sent yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<Mail>,
    /// `-C/--constraint`: node features the job needs (Slurm engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
    /// `--exclusive`: whole nodes, shared with no other job (its resources
    /// are then all of each node's, as the server counts them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclusive: bool,
    /// `-w/--nodelist`: nodes it must run on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodelist: Vec<String>,
    /// `-x/--exclude`: nodes it must not run on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Nodes and tasks (one of each unless asked).
    #[serde(default, skip_serializing_if = "Geometry::is_single")]
    pub geometry: Geometry,
    /// `--array`: the tasks of an array (none for a single job or a task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<crate::array::Array>,
    /// The array this job is a task of, and which task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_of: Option<crate::array::TaskOf>,
    /// `--dependency`: the jobs it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency: Option<crate::dependency::Dependency>,
    /// `--begin`: not before then, epoch ms (placed in time at submission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begin_ms: Option<i64>,
    /// `--signal`: a signal that long before its time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<crate::signal::Warning>,
    /// Interactive (`aisc run`, `aisc alloc`): its command runs under the
    /// job agent, which relays it through the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<Interactive>,
}

/// Mail asked for about a job (`--mail-type`, `--mail-user`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    /// Which events (`END,FAIL`); none given means Slurm's default, `NONE`.
    pub types: Option<String>,
    /// To whom; none given means the submitter.
    pub user: Option<String>,
}

impl JobSpec {
    /// A job running `command` in `workdir` with `resources` for at most
    /// `time_limit_s`, with every other setting at its default (the normal
    /// QOS, requeued if preempted, no output paths, no environment).
    pub fn new(
        name: &str,
        command: JobCommand,
        workdir: &str,
        resources: Resources,
        time_limit_s: u64,
    ) -> JobSpec {
        JobSpec {
            name: name.to_string(),
            account: None,
            resources,
            gpu_type: None,
            time_limit_s,
            command,
            workdir: workdir.to_string(),
            env: BTreeMap::new(),
            output: None,
            error: None,
            hold: false,
            qos: crate::Qos::Normal,
            requeue: true,
            args: Vec::new(),
            partition: None,
            comment: None,
            mail: None,
            constraint: None,
            exclusive: false,
            nodelist: Vec::new(),
            exclude: Vec::new(),
            geometry: Geometry::default(),
            array: None,
            task_of: None,
            dependency: None,
            begin_ms: None,
            signal: None,
            interactive: None,
        }
    }
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
    /// `--begin` as written: the submission places it in time (`JobSpec::begin_ms`).
    pub begin: Option<crate::begin::Begin>,
}

impl JobRequest {
    /// Merges flags, `sbatch` options, script directives and defaults into a
    /// checked [`JobSpec`].
    pub fn resolve(&self) -> Result<Resolved, SpecError> {
        check_words("options", &self.options)?;
        let given =
            parse_options(&self.options).map_err(|e| SpecError::new("options", e.to_string()))?;
        let wrapped = given
            .wrap
            .as_ref()
            .map(|w| format!("#!/bin/sh\n# aisc submit --wrap\n{w}\n"));
        let script = match (&self.script, &wrapped) {
            (Some(_), Some(_)) => {
                return Err(SpecError::new(
                    "options",
                    "--wrap: give a script or --wrap, not both",
                ));
            }
            (s, w) => s.as_ref().or(w.as_ref()),
        };
        let (command, in_script) = match (script, self.command.is_empty()) {
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
        if !self.args.is_empty() {
            if !matches!(command, JobCommand::Script(_)) || wrapped.is_some() {
                return Err(SpecError::new(
                    "args",
                    "arguments go to a script; a command takes its own after --",
                ));
            }
            check_words("args", &self.args)?;
        }
        let directives = precedence(given, in_script);

        let name = match (&self.name, &directives.name) {
            (Some(n), _) | (None, Some(n)) => n.clone(),
            (None, None) if wrapped.is_some() => "wrap".into(),
            (None, None) => default_name(&command, self.script_name.as_deref()),
        };
        check_name(&name)?;

        let time_limit_s = match &self.time {
            Some(t) => parse_time_limit(t)
                .map_err(|e| SpecError::limit("time", e.to_string(), "1s to 365 days"))?,
            None => directives.time_limit_s.unwrap_or(DEFAULT_TIME_LIMIT_S),
        };
        let mut geometry = geometry_of(&directives)?;
        let (gpu_type, gpus) = match &self.gpus {
            Some(g) => parse_gpu_spec(g).map_err(|e| SpecError::new("gpus", e))?,
            None => {
                let (t, n, per) = gpus_of(&directives)?;
                geometry.gpus_per = per;
                let times = match per {
                    GpusPer::Job => 1,
                    GpusPer::Node => geometry.nodes_max,
                    GpusPer::Task => geometry.tasks,
                };
                let total = n.checked_mul(times).ok_or_else(|| {
                    SpecError::limit("gpus", "too many GPUs", format!("0 to {MAX_GPUS}"))
                })?;
                (t, total)
            }
        };
        if gpus > MAX_GPUS {
            return Err(SpecError::limit(
                "gpus",
                format!("{gpus} GPUs is out of range"),
                format!("0 to {MAX_GPUS}"),
            ));
        }
        // -c is per task: the job holds it for each (and at least a CPU a task).
        let cpus = match self.cpus {
            Some(c) => c.saturating_mul(geometry.tasks),
            None => {
                let c = cpus_of(&directives, gpus)?;
                if directives.cpus.is_some() {
                    c.saturating_mul(geometry.tasks)
                } else {
                    c.max(geometry.tasks)
                }
            }
        };
        if cpus == 0 || cpus > MAX_CPUS {
            return Err(SpecError::limit(
                "cpus",
                format!("{cpus} CPUs is out of range"),
                format!("1 to {MAX_CPUS}"),
            ));
        }
        // --mem is per node: the job holds it on each.
        let per_node = |mb: u64| mb.saturating_mul(u64::from(geometry.nodes_max));
        let mem_mb = match &self.mem {
            Some(m) => per_node(
                parse_mem_mb(m).map_err(|e| SpecError::limit("mem", e.to_string(), "1M to 64T"))?,
            ),
            None if directives.mem_mb.is_some()
                && directives.mem_per_cpu_mb.is_none()
                && directives.mem_per_gpu_mb.is_none() =>
            {
                per_node(mem_of(&directives, cpus, gpus)?)
            }
            None => mem_of(&directives, cpus, gpus)?,
        };
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
        let env = match &directives.export {
            Some(e) => e.apply(&self.env),
            None => self.env.clone(),
        };
        check_env(&env)?;
        let qos = match &self.qos {
            Some(q) => q.parse().map_err(|e: crate::qos::UnknownQos| {
                SpecError::limit("qos", e.to_string(), "high, normal or scavenger")
            })?,
            None => directives.qos.unwrap_or_default(),
        };
        let mail =
            (directives.mail_type.is_some() || directives.mail_user.is_some()).then(|| Mail {
                types: directives.mail_type.clone(),
                user: directives.mail_user.clone(),
            });
        for (field, text) in [
            ("comment", &directives.comment),
            ("partition", &directives.partition),
            ("mail_user", &directives.mail_user),
        ] {
            if let Some(t) = text
                && (t.len() > MAX_NAME_LEN || t.chars().any(char::is_control))
            {
                return Err(SpecError::limit(
                    field,
                    format!("{field} too long or with control characters"),
                    format!("{MAX_NAME_LEN} printable characters"),
                ));
            }
        }

        if self.interactive.is_some() {
            check_interactive(&command, &directives, &output, &error)?;
        }
        Ok(Resolved {
            spec: JobSpec {
                name,
                account: self.account.clone().or(directives.account.clone()),
                resources: Resources { gpus, cpus, mem_mb },
                gpu_type,
                time_limit_s,
                command,
                workdir,
                env,
                output,
                error,
                hold: self.hold || directives.hold,
                qos,
                requeue: self.requeue.or(directives.requeue).unwrap_or(true),
                args: self.args.clone(),
                partition: directives.partition.clone(),
                comment: directives.comment.clone(),
                mail,
                constraint: directives.constraint.clone(),
                exclusive: directives.exclusive,
                nodelist: directives.nodelist.clone().unwrap_or_default(),
                exclude: directives.exclude.clone().unwrap_or_default(),
                geometry,
                array: directives.array.clone(),
                task_of: None,
                dependency: directives.dependency.clone(),
                begin_ms: None,
                signal: directives.signal,
                interactive: self.interactive,
            },
            begin: directives.begin,
            warnings: directives.warnings,
        })
    }
}

/// Options given with the submission over the script's directives, as
/// `sbatch` takes them: option by option, and for GPUs, CPUs and memory the
/// whole family (`--mem-per-cpu` given replaces the script's `--mem`).
fn precedence(given: SbatchOptions, script: SbatchOptions) -> SbatchOptions {
    let gpus =
        given.gpus.is_some() || given.gpus_per_node.is_some() || given.gpus_per_task.is_some();
    let cpus = given.cpus.is_some() || given.cpus_per_gpu.is_some();
    let mem =
        given.mem_mb.is_some() || given.mem_per_cpu_mb.is_some() || given.mem_per_gpu_mb.is_some();
    let (g, s) = (given, script);
    let pick_gpus = if gpus { &g } else { &s };
    let pick_cpus = if cpus { &g } else { &s };
    let pick_mem = if mem { &g } else { &s };
    SbatchOptions {
        gpus: pick_gpus.gpus,
        gpu_type: pick_gpus.gpu_type.clone(),
        gpus_per_node: pick_gpus.gpus_per_node.clone(),
        gpus_per_task: pick_gpus.gpus_per_task.clone(),
        cpus: pick_cpus.cpus,
        cpus_per_gpu: pick_cpus.cpus_per_gpu,
        mem_mb: pick_mem.mem_mb,
        mem_per_cpu_mb: pick_mem.mem_per_cpu_mb,
        mem_per_gpu_mb: pick_mem.mem_per_gpu_mb,
        name: g.name.or(s.name),
        account: g.account.or(s.account),
        time_limit_s: g.time_limit_s.or(s.time_limit_s),
        output: g.output.or(s.output),
        error: g.error.or(s.error),
        chdir: g.chdir.or(s.chdir),
        hold: g.hold || s.hold,
        qos: g.qos.or(s.qos),
        requeue: g.requeue.or(s.requeue),
        partition: g.partition.or(s.partition),
        export: g.export.or(s.export),
        comment: g.comment.or(s.comment),
        mail_type: g.mail_type.or(s.mail_type),
        mail_user: g.mail_user.or(s.mail_user),
        array: g.array.or(s.array),
        constraint: g.constraint.or(s.constraint),
        exclusive: g.exclusive || s.exclusive,
        nodelist: g.nodelist.or(s.nodelist),
        exclude: g.exclude.or(s.exclude),
        nodes: g.nodes.or(s.nodes),
        ntasks: g.ntasks.or(s.ntasks),
        ntasks_per_node: g.ntasks_per_node.or(s.ntasks_per_node),
        dependency: g.dependency.or(s.dependency),
        begin: g.begin.or(s.begin),
        signal: g.signal.or(s.signal),
        wrap: g.wrap,
        wait: g.wait || s.wait,
        quiet: g.quiet || s.quiet,
        warnings: s.warnings.into_iter().chain(g.warnings).collect(),
    }
}

/// A job's CPUs from `-c` or `--cpus-per-gpu` (Slurm refuses both).
fn cpus_of(d: &SbatchOptions, gpus: u32) -> Result<u32, SpecError> {
    match (d.cpus, d.cpus_per_gpu) {
        (Some(_), Some(_)) => Err(SpecError::new(
            "cpus",
            "--cpus-per-task and --cpus-per-gpu: give one of them",
        )),
        (Some(c), None) => Ok(c),
        (None, Some(_)) if gpus == 0 => Err(SpecError::new(
            "cpus",
            "--cpus-per-gpu needs GPUs (--gpus, --gpus-per-node or --gpus-per-task)",
        )),
        (None, Some(per)) => per
            .checked_mul(gpus)
            .ok_or_else(|| SpecError::limit("cpus", "too many CPUs", format!("1 to {MAX_CPUS}"))),
        (None, None) => Ok(1),
    }
}

/// A job's memory from `--mem`, `--mem-per-cpu` or `--mem-per-gpu` (Slurm
/// refuses more than one), else 1 GiB per CPU.
fn mem_of(d: &SbatchOptions, cpus: u32, gpus: u32) -> Result<u64, SpecError> {
    let per = |mb: u64, n: u32| mb.checked_mul(u64::from(n));
    let too_much = || SpecError::limit("mem", "too much memory", "1M to 64T");
    match (d.mem_mb, d.mem_per_cpu_mb, d.mem_per_gpu_mb) {
        (None, None, None) => per(DEFAULT_MEM_PER_CPU_MB, cpus).ok_or_else(too_much),
        (Some(m), None, None) => Ok(m),
        (None, Some(m), None) => per(m, cpus).ok_or_else(too_much),
        (None, None, Some(_)) if gpus == 0 => Err(SpecError::new(
            "mem",
            "--mem-per-gpu needs GPUs (--gpus, --gpus-per-node or --gpus-per-task)",
        )),
        (None, None, Some(m)) => per(m, gpus).ok_or_else(too_much),
        _ => Err(SpecError::new(
            "mem",
            "--mem, --mem-per-cpu and --mem-per-gpu: give one of them",
        )),
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

/// Words (options, a script's arguments): within the size of a command line, no NUL.
fn check_words(field: &'static str, words: &[String]) -> Result<(), SpecError> {
    let bytes: usize = words.iter().map(|a| a.len() + 1).sum();
    if bytes > MAX_COMMAND_BYTES {
        return Err(SpecError::limit(
            field,
            "too long",
            format!("{MAX_COMMAND_BYTES} bytes"),
        ));
    }
    if words.iter().any(|a| a.contains('\0')) {
        return Err(SpecError::new(field, "words cannot contain NUL bytes"));
    }
    Ok(())
}

/// What `aisc update` changes of a waiting job (`PATCH /api/v1/jobs/{id}`);
/// what is not given stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct JobChanges {
    /// A new time limit, as `-t` takes it (`30`, `1:00:00`, `2-00:00:00`).
    pub time: Option<String>,
    /// A new name.
    pub name: Option<String>,
    /// A new QOS (`normal`, `high`, `scavenger`).
    pub qos: Option<String>,
}

impl JobChanges {
    /// Whether nothing is asked to change.
    pub fn is_empty(&self) -> bool {
        self.time.is_none() && self.name.is_none() && self.qos.is_none()
    }

    /// `spec` with these changes, each checked as at submission.
    pub fn apply(&self, spec: &JobSpec) -> Result<JobSpec, SpecError> {
        if self.is_empty() {
            return Err(SpecError::new(
                "changes",
                "nothing to change: give a time limit, a name or a QOS",
            ));
        }
        let mut out = spec.clone();
        if let Some(t) = &self.time {
            out.time_limit_s = parse_time_limit(t)
                .map_err(|e| SpecError::limit("time", e.to_string(), "1s to 365 days"))?;
        }
        if let Some(n) = &self.name {
            check_name(n)?;
            out.name = n.clone();
        }
        if let Some(q) = &self.qos {
            out.qos = q
                .parse()
                .map_err(|e: crate::qos::UnknownQos| SpecError::new("qos", e.to_string()))?;
        }
        Ok(out)
    }
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
mod tests;

/// What an interactive job may not be: its user is at its terminal.
fn check_interactive(
    command: &JobCommand,
    directives: &SbatchOptions,
    output: &Option<String>,
    error: &Option<String>,
) -> Result<(), SpecError> {
    if matches!(command, JobCommand::Script(_)) {
        return Err(SpecError::new(
            "interactive",
            "an interactive job runs a command (aisc run -- CMD), not a batch script or --wrap",
        ));
    }
    if directives.array.is_some() {
        return Err(SpecError::new(
            "interactive",
            "an interactive job cannot be an array: one terminal is one job",
        ));
    }
    if output.is_some() || error.is_some() {
        return Err(SpecError::new(
            if output.is_some() { "output" } else { "error" },
            "an interactive job's output goes to its terminal, not to a file (-o/-e)",
        ));
    }
    Ok(())
}
