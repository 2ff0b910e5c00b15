//! `#SBATCH` directives in a batch script, read the way `sbatch` reads them:
//! from the lines that start with `#SBATCH` before the first command, each
//! line holding one or more options in short (`-J x`, `-Jx`) or long
//! (`--job-name=x`, `--job-name x`) form. Every option `sbatch` documents
//! is honoured or refused ([`known`]): a refusal, like a malformed value, is
//! an error naming the line and why. Options Slurm does not document are
//! warnings. The same options given on `aisc submit`'s command line are read
//! by [`parse_options`] and take precedence over the script's.

pub mod known;

use crate::units::{parse_mem_mb, parse_time_limit};
use known::{Takes, Treatment};
use thiserror::Error;

/// The directives of one script, already parsed and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SbatchOptions {
    /// `-J/--job-name`
    pub name: Option<String>,
    /// `-A/--account`: the project.
    pub account: Option<String>,
    /// `-t/--time`, in seconds.
    pub time_limit_s: Option<u64>,
    /// `-c/--cpus-per-task`
    pub cpus: Option<u32>,
    /// `-N/--nodes`: the least and the most nodes.
    pub nodes: Option<(u32, u32)>,
    /// `-n/--ntasks`
    pub ntasks: Option<u32>,
    /// `--ntasks-per-node`
    pub ntasks_per_node: Option<u32>,
    /// `--mem`, in MiB.
    pub mem_mb: Option<u64>,
    /// `-G/--gpus` or `--gres=gpu:N`
    pub gpus: Option<u32>,
    /// The GPU type from `--gpus=type:N` or `--gres=gpu:type:N`.
    pub gpu_type: Option<String>,
    /// `-o/--output`
    pub output: Option<String>,
    /// `-e/--error`
    pub error: Option<String>,
    /// `-D/--chdir`
    pub chdir: Option<String>,
    /// `-H/--hold`
    pub hold: bool,
    /// `-q/--qos`
    pub qos: Option<crate::Qos>,
    /// `--requeue` (true) or `--no-requeue` (false).
    pub requeue: Option<bool>,
    /// `--gpus-per-node`: GPU type and count.
    pub gpus_per_node: Option<(Option<String>, u32)>,
    /// `--gpus-per-task`: GPU type and count.
    pub gpus_per_task: Option<(Option<String>, u32)>,
    /// `--cpus-per-gpu`
    pub cpus_per_gpu: Option<u32>,
    /// `--mem-per-cpu`, in MiB.
    pub mem_per_cpu_mb: Option<u64>,
    /// `--mem-per-gpu`, in MiB.
    pub mem_per_gpu_mb: Option<u64>,
    /// `-p/--partition`
    pub partition: Option<String>,
    /// `--export`
    pub export: Option<Export>,
    /// `--comment`
    pub comment: Option<String>,
    /// `--mail-type`, as given (checked).
    pub mail_type: Option<String>,
    /// `--mail-user`
    pub mail_user: Option<String>,
    /// `-C/--constraint`: node features, as Slurm writes them.
    pub constraint: Option<String>,
    /// `--exclusive`: whole nodes, shared with no other job.
    pub exclusive: bool,
    /// `-w/--nodelist`: nodes the job must run on.
    pub nodelist: Option<Vec<String>>,
    /// `-x/--exclude`: nodes it must not run on.
    pub exclude: Option<Vec<String>>,
    /// `-a/--array`
    pub array: Option<crate::array::Array>,
    /// `-d/--dependency`
    pub dependency: Option<crate::dependency::Dependency>,
    /// `-b/--begin`
    pub begin: Option<crate::begin::Begin>,
    /// `--signal`
    pub signal: Option<crate::signal::Warning>,
    /// `--wrap` (command line only): the command to wrap in a `sh` script.
    pub wrap: Option<String>,
    /// `-W/--wait`: `aisc submit` waits for the job to end.
    pub wait: bool,
    /// `-Q/--quiet`: `aisc submit` prints no warnings.
    pub quiet: bool,
    /// Notes for the user, one line each, with its line number.
    pub warnings: Vec<String>,
}

/// The most nodes one job may ask for.
pub const MAX_NODES: u32 = 4096;
/// The most tasks one job may ask for.
pub const MAX_TASKS: u32 = 65_536;
/// `--export`: which variables of the submitted environment the job gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// All of them (`ALL`), or only those named.
    pub all: bool,
    /// Variables named (kept from the environment).
    pub names: Vec<String>,
    /// Variables set (`NAME=value`).
    pub set: Vec<(String, String)>,
}

impl Export {
    /// Reads `ALL`, `NONE`, or a comma-separated list of names and
    /// `NAME=value` pairs (with `ALL` among them, all the rest too).
    pub fn parse(value: &str) -> Result<Export, String> {
        let mut e = Export {
            all: false,
            names: Vec::new(),
            set: Vec::new(),
        };
        for item in value.split(',').map(str::trim) {
            match item {
                "ALL" => e.all = true,
                "NONE" => {}
                "" => return Err(format!("--export={value}: an empty item")),
                item => {
                    let (name, v) = match item.split_once('=') {
                        Some((n, v)) => (n, Some(v)),
                        None => (item, None),
                    };
                    let valid = !name.starts_with(|c: char| c.is_ascii_digit())
                        && !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                    if !valid {
                        return Err(format!("--export={value}: {name:?} is not a variable name"));
                    }
                    match v {
                        Some(v) => e.set.push((name.to_string(), v.to_string())),
                        None => e.names.push(name.to_string()),
                    }
                }
            }
        }
        Ok(e)
    }

    /// The job's environment from the one submitted.
    pub fn apply(
        &self,
        env: &std::collections::BTreeMap<String, String>,
    ) -> std::collections::BTreeMap<String, String> {
        let mut out: std::collections::BTreeMap<String, String> = env
            .iter()
            .filter(|(k, _)| self.all || self.names.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.extend(self.set.iter().cloned());
        out
    }
}

/// `--mail-type`'s values.
const MAIL_TYPES: &[&str] = &[
    "NONE",
    "BEGIN",
    "END",
    "FAIL",
    "REQUEUE",
    "ALL",
    "INVALID_DEPEND",
    "STAGE_OUT",
    "TIME_LIMIT",
    "TIME_LIMIT_90",
    "TIME_LIMIT_80",
    "TIME_LIMIT_50",
    "ARRAY_TASKS",
];

/// A directive that cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}{message}", where_(*line))]
pub struct SbatchError {
    /// 1-based line number in the script; 0 for an option given on the command line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn where_(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!("line {line}: ")
    }
}

/// Reads sbatch options given as words on a command line (`["-N", "1",
/// "--gpus-per-node=2"]`), as [`parse_script`] reads a script's: errors
/// have line 0.
pub fn parse_options(words: &[String]) -> Result<SbatchOptions, SbatchError> {
    let mut opts = SbatchOptions::default();
    apply_words(&mut opts, words, 0)?;
    Ok(opts)
}

/// Reads the `#SBATCH` directives of `script`.
pub fn parse_script(script: &str) -> Result<SbatchOptions, SbatchError> {
    let mut opts = SbatchOptions::default();
    let mut lines = script.lines().enumerate();
    match lines.next() {
        Some((_, first)) if first.starts_with("#!") => {}
        _ => {
            return Err(SbatchError {
                line: 1,
                message: "a batch script must start with #! and the path of an interpreter (e.g. #!/bin/bash)".into(),
            });
        }
    }
    for (idx, raw) in lines {
        let line = idx + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        let Some(rest) = trimmed.strip_prefix("#SBATCH") else {
            if trimmed.starts_with('#') {
                continue;
            }
            break; // sbatch stops at the first command
        };
        if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
            continue; // e.g. "#SBATCHX": a comment, as sbatch treats it
        }
        let words = split_words(rest).map_err(|message| SbatchError { line, message })?;
        apply_words(&mut opts, &words, line)?;
    }
    Ok(opts)
}

/// Splits a directive line into words: whitespace separates, quotes group, `#` starts a comment.
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c == '#' && !in_word => break,
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unclosed {q} quote"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn apply_words(opts: &mut SbatchOptions, words: &[String], line: usize) -> Result<(), SbatchError> {
    let err = |message: String| SbatchError { line, message };
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        let (key, inline): (String, Option<String>) = if let Some(long) = word.strip_prefix("--") {
            match long.split_once('=') {
                Some((k, v)) => (format!("--{k}"), Some(v.to_string())),
                None => (word.clone(), None),
            }
        } else if let Some((short, rest)) = word
            .strip_prefix('-')
            .and_then(|w| Some((w.chars().next()?, &w[w.chars().next()?.len_utf8()..])))
        {
            // `-t30` is `-t 30`; split after the option's one character (which may be any
            // character, so never at a byte that is not a character's boundary).
            (
                format!("-{short}"),
                (!rest.is_empty()).then(|| rest.to_string()),
            )
        } else {
            return Err(err(format!(
                "{word:?} is not an option (options start with - or --)"
            )));
        };
        let Some(k) = known::lookup(&key) else {
            // Not an option Slurm documents: skip a value that follows, say so.
            if inline.is_none() && words.get(i).is_some_and(|v| !v.starts_with('-')) {
                i += 1;
            }
            opts.warnings
                .push(format!("{}unknown directive {key} ignored", where_(line)));
            continue;
        };
        let value = match (k.takes, inline) {
            (Takes::Nothing, Some(_)) => return Err(err(format!("{key} takes no value"))),
            (Takes::Nothing, None) => None,
            (Takes::Optional, v) => v,
            (Takes::Value, Some(v)) => Some(v),
            (Takes::Value, None) => match words.get(i) {
                Some(v) if !v.starts_with('-') || v.parse::<i64>().is_ok() => {
                    i += 1;
                    Some(v.clone())
                }
                _ => return Err(err(format!("{key} needs a value"))),
            },
        };
        if k.takes == Takes::Value && value.as_deref() == Some("") {
            return Err(err(format!("{key} needs a value")));
        }
        if let Treatment::Refused(why) = k.treatment {
            let given = match &value {
                Some(v) => shown(&key, v),
                None => key.clone(),
            };
            return Err(err(format!("{given}: {why}")));
        }
        apply_option(opts, &key, value.unwrap_or_default(), line).map_err(err)?;
    }
    Ok(())
}

fn apply_option(
    opts: &mut SbatchOptions,
    key: &str,
    value: String,
    line: usize,
) -> Result<(), String> {
    let at = where_(line);
    match key {
        "-J" | "--job-name" => opts.name = Some(value),
        "-A" | "--account" => opts.account = Some(value),
        "-t" | "--time" => {
            opts.time_limit_s = Some(parse_time_limit(&value).map_err(|e| format!("{key}: {e}"))?)
        }
        "-c" | "--cpus-per-task" => opts.cpus = Some(parse_count(key, &value)?),
        "--mem" => opts.mem_mb = Some(parse_mem_mb(&value).map_err(|e| format!("{key}: {e}"))?),
        "--mem-per-cpu" => {
            opts.mem_per_cpu_mb = Some(parse_mem_mb(&value).map_err(|e| format!("{key}: {e}"))?)
        }
        "--mem-per-gpu" => {
            opts.mem_per_gpu_mb = Some(parse_mem_mb(&value).map_err(|e| format!("{key}: {e}"))?)
        }
        "-G" | "--gpus" => {
            let (ty, n) = parse_gpu_spec(&value).map_err(|e| format!("{key}: {e}"))?;
            opts.gpus = Some(n);
            opts.gpu_type = ty;
        }
        "--gpus-per-node" => {
            opts.gpus_per_node = Some(parse_gpu_spec(&value).map_err(|e| format!("{key}: {e}"))?)
        }
        "--gpus-per-task" => {
            opts.gpus_per_task = Some(parse_gpu_spec(&value).map_err(|e| format!("{key}: {e}"))?)
        }
        "--cpus-per-gpu" => opts.cpus_per_gpu = Some(parse_positive(key, &value)?),
        "--gres" => apply_gres(opts, &value)?,
        "-N" | "--nodes" => {
            let (min, max) = parse_range(key, &value)?;
            if min == 0 {
                return Err(format!("{}: a job needs a node", shown(key, &value)));
            }
            if max > MAX_NODES {
                return Err(format!("{}: at most {MAX_NODES} nodes", shown(key, &value)));
            }
            opts.nodes = Some((min, max));
        }
        "-n" | "--ntasks" => opts.ntasks = Some(parse_positive(key, &value)?),
        "--ntasks-per-node" => opts.ntasks_per_node = Some(parse_positive(key, &value)?),
        "-o" | "--output" => opts.output = Some(value),
        "-e" | "--error" => opts.error = Some(value),
        "-D" | "--chdir" => opts.chdir = Some(value),
        "-q" | "--qos" => opts.qos = Some(value.parse().map_err(|e| format!("{key}: {e}"))?),
        "-H" | "--hold" => opts.hold = true,
        "--requeue" | "--no-requeue" => opts.requeue = Some(key == "--requeue"),
        "-p" | "--partition" => {
            if value.contains(',') {
                return Err(format!(
                    "{}: name one partition (a job is charged to one grant, of one resource class)",
                    shown(key, &value)
                ));
            }
            opts.partition = Some(value);
        }
        "--export" => opts.export = Some(Export::parse(&value)?),
        "--comment" => opts.comment = Some(value),
        "--signal" => {
            opts.signal = Some(
                crate::signal::Warning::parse(&value)
                    .map_err(|e| format!("{}: {e}", shown(key, &value)))?,
            )
        }
        "-b" | "--begin" => {
            opts.begin = Some(
                crate::begin::Begin::parse(&value)
                    .map_err(|e| format!("{}: {e}", shown(key, &value)))?,
            )
        }
        "-w" | "--nodelist" | "-x" | "--exclude" => {
            let names = crate::hostlist::expand(&value)
                .map_err(|e| format!("{}: {e}", shown(key, &value)))?;
            if matches!(key, "-w" | "--nodelist") {
                opts.nodelist = Some(names);
            } else {
                opts.exclude = Some(names);
            }
        }
        "--exclusive" if value.is_empty() => opts.exclusive = true,
        "--exclusive" => {
            return Err(format!(
                "{}: aisc gives an exclusive job whole nodes shared with no other job; sharing them with the same user or MCS label is not offered (use --exclusive alone)",
                shown(key, &value)
            ));
        }
        "-C" | "--constraint" => {
            let ok = |c: char| c.is_ascii_alphanumeric() || "&|,*[]():!_-.".contains(c);
            if value.is_empty() || value.len() > 256 || !value.chars().all(ok) {
                return Err(format!(
                    "{}: node features are names joined by & | , with [ ] ( ) * and counts (at most 256 characters)",
                    shown(key, &value)
                ));
            }
            opts.constraint = Some(value);
        }
        "-a" | "--array" => {
            opts.array = Some(
                crate::array::Array::parse(&value, crate::array::HARD_MAX_ARRAY_SIZE)
                    .map_err(|e| format!("{}: {e}", shown(key, &value)))?,
            )
        }
        "-d" | "--dependency" => {
            opts.dependency = Some(
                crate::dependency::Dependency::parse(&value)
                    .map_err(|e| format!("{}: {e}", shown(key, &value)))?,
            )
        }
        "--mail-type" => {
            for t in value.split(',') {
                if !MAIL_TYPES.contains(&t.trim()) {
                    return Err(format!(
                        "{}: {t:?} is not a mail type ({})",
                        shown(key, &value),
                        MAIL_TYPES.join(", ")
                    ));
                }
            }
            opts.mail_type = Some(value);
            opts.warnings.push(format!(
                "{at}{key}: stored with the job; this centre sends no mail yet"
            ));
        }
        "--mail-user" => {
            opts.mail_user = Some(value);
            opts.warnings.push(format!(
                "{at}{key}: stored with the job; this centre sends no mail yet"
            ));
        }
        "--wrap" if line > 0 => {
            return Err(format!(
                "{key}: a script cannot wrap a command; give --wrap on the command line"
            ));
        }
        "--wrap" => opts.wrap = Some(value),
        "-W" | "--wait" => opts.wait = true,
        "-Q" | "--quiet" => opts.quiet = true,
        // What sbatch --parsable prints (the bare id) is what aisc submit prints;
        // #PBS lines are never read.
        "--parsable" | "--ignore-pbs" => {}
        k => return Err(format!("{k}: documented but not handled (a bug in aisc)")),
    }
    Ok(())
}

/// An option with its value as a user writes it: `--nodes=2`, `-N 2`.
fn shown(key: &str, value: &str) -> String {
    if key.starts_with("--") {
        format!("{key}={value}")
    } else {
        format!("{key} {value}")
    }
}

/// `N` or `MIN-MAX`.
fn parse_range(key: &str, value: &str) -> Result<(u32, u32), String> {
    let (a, b) = value.split_once('-').unwrap_or((value, value));
    let min = parse_count(key, a)?;
    let max = parse_count(key, b)?;
    if max < min {
        return Err(format!(
            "{}: the maximum is below the minimum",
            shown(key, value)
        ));
    }
    Ok((min, max))
}

fn parse_positive(key: &str, value: &str) -> Result<u32, String> {
    match parse_count(key, value)? {
        0 => Err(format!("{}: must be at least 1", shown(key, value))),
        n => Ok(n),
    }
}

fn parse_count(key: &str, value: &str) -> Result<u32, String> {
    value
        .trim()
        .parse::<u32>()
        .map_err(|_| format!("{key}: {value:?} is not a whole number"))
}

/// Reads `[type:]N` (the form of `--gpus`).
pub fn parse_gpu_spec(value: &str) -> Result<(Option<String>, u32), String> {
    let (ty, n) = match value.rsplit_once(':') {
        Some((ty, n)) => (Some(ty), n),
        None => (None, value),
    };
    let n = n
        .trim()
        .parse::<u32>()
        .map_err(|_| format!("{value:?} is not a GPU count: use N or type:N"))?;
    match ty {
        Some(t) if t.is_empty() || t.contains(':') => {
            Err(format!("{value:?} is not a GPU count: use N or type:N"))
        }
        t => Ok((t.map(str::to_string), n)),
    }
}

/// Reads one `--gres` item: `gpu[:type][:N]` gives the GPU type and count;
/// any other resource (`nvme:1`) gives `None`.
pub fn parse_gres_item(item: &str) -> Result<Option<(Option<String>, u32)>, String> {
    let mut parts = item.split(':');
    if parts.next() != Some("gpu") {
        return Ok(None);
    }
    let rest: Vec<&str> = parts.collect();
    let (ty, n) = match rest.as_slice() {
        [] => (None, "1"),
        [n] if n.parse::<u32>().is_ok() => (None, *n),
        [ty] => (Some(*ty), "1"),
        [ty, n] => (Some(*ty), *n),
        _ => return Err(format!("--gres {item:?}: use gpu[:type]:N")),
    };
    let n = n
        .parse::<u32>()
        .map_err(|_| format!("--gres {item:?}: {n:?} is not a whole number"))?;
    if ty.is_some_and(str::is_empty) {
        return Err(format!("--gres {item:?}: empty GPU type"));
    }
    Ok(Some((ty.map(str::to_string), n)))
}

/// `--gres=gpu[:type]:N[,other...]`
fn apply_gres(opts: &mut SbatchOptions, value: &str) -> Result<(), String> {
    for item in value.split(',') {
        match parse_gres_item(item)? {
            Some((ty, n)) => {
                opts.gpus = Some(n);
                opts.gpu_type = ty;
            }
            None => {
                return Err(format!(
                    "--gres={value}: {item:?} is not a GPU; this centre allocates GPUs, CPUs and memory only"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
