//! Readers for job traces: the Philly CSV, the Muri traces, Alibaba openb pods,
//! a documented generic CSV, and `sacct -P` output. Each gives the same
//! [`Trace`]: jobs sorted by submission, times in seconds from the first one.
//!
//! A malformed row is an error naming its line and field, unless
//! `skip_bad_rows` is set: then it is skipped and counted. Rows that are
//! well formed but cannot be simulated (no GPU, a job step, a job that never
//! ran) are left out and counted under [`Trace::left_out`].

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// A trace file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Microsoft Philly: `timestamp,duration,num_gpus,gpu_time,cluster`; tenant = `cluster`.
    Philly,
    /// The Muri simulator's traces: `job_id,num_gpu,submit_time,iterations,model_name,…,duration,…,iteration_time`, times in ms.
    Muri,
    /// Alibaba openb pods: `name,…,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time`; tenant = `qos`.
    Alibaba,
    /// `submit_time,duration,num_gpus,tenant[,gpu_class]` with a header row.
    Generic,
    /// `sacct -P` output with a header row (see [`Format::Sacct`]'s columns in SIMULATION.md).
    Sacct,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "philly" => Ok(Format::Philly),
            "muri" => Ok(Format::Muri),
            "alibaba" | "openb" => Ok(Format::Alibaba),
            "generic" | "csv" => Ok(Format::Generic),
            "sacct" => Ok(Format::Sacct),
            _ => Err(format!(
                "{s:?} is not a trace format: use philly, muri, alibaba, generic or sacct"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Philly => "philly",
            Format::Muri => "muri",
            Format::Alibaba => "alibaba",
            Format::Generic => "generic",
            Format::Sacct => "sacct",
        })
    }
}

/// What to do with a job that asks for a fraction of one GPU (Alibaba `gpu_milli` < 1000).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fractional {
    /// Give it a whole GPU.
    #[default]
    RoundUp,
    /// Leave it out.
    Skip,
}

impl FromStr for Fractional {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "round-up" => Ok(Fractional::RoundUp),
            "skip" => Ok(Fractional::Skip),
            _ => Err(format!("{s:?}: use round-up or skip")),
        }
    }
}

/// How to read a trace.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Skip and count malformed rows instead of stopping at the first.
    pub skip_bad_rows: bool,
    /// Jobs on a fraction of a GPU.
    pub fractional: Fractional,
    /// Muri traces: run time is `iterations × iteration_time × 1.015`, as the
    /// Muri simulator computes it, instead of the `duration` column.
    pub muri_run_time: bool,
}

/// One job of a trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceJob {
    /// The trace's own name for it (job id, pod name), or its line number.
    pub name: String,
    /// Submission, seconds after the trace's first.
    pub submit: f64,
    /// Run time on its GPUs, seconds.
    pub duration: f64,
    /// GPUs, all at once.
    pub gpus: u32,
    /// Who submitted it (virtual cluster, account, QOS class).
    pub tenant: String,
    /// The resource class it asks for, if the trace says.
    pub class: Option<String>,
    /// Muri traces: the model it trains (its start-up overhead depends on it).
    pub model: Option<String>,
}

/// A trace, ready to replay.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Trace {
    /// Jobs in submission order (ties: trace order).
    pub jobs: Vec<TraceJob>,
    /// Epoch seconds of the first submission, when the trace has dates.
    pub origin: Option<i64>,
    /// Data rows read.
    pub rows: usize,
    /// Malformed rows skipped (`--skip-bad-rows`), with the first few errors.
    pub bad_rows: usize,
    /// The first malformed rows' errors.
    pub bad_examples: Vec<String>,
    /// Well-formed rows left out, by reason.
    pub left_out: BTreeMap<String, usize>,
    /// Jobs given a whole GPU for a fraction of one.
    pub rounded_up: usize,
}

/// Why a trace cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file cannot be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The header lacks a column the format needs.
    #[error("the {format} format needs a column {column:?}; the header has: {found}")]
    Column {
        /// The format.
        format: Format,
        /// The column.
        column: &'static str,
        /// The header's columns.
        found: String,
    },
    /// A malformed row.
    #[error("line {line}: {field}: {message} (use --skip-bad-rows to skip and count such rows)")]
    Row {
        /// 1-based line in the file.
        line: u64,
        /// The column.
        field: String,
        /// What is wrong, with the limit.
        message: String,
    },
    /// Nothing to simulate.
    #[error("the trace has no job to simulate ({0})")]
    Empty(String),
}

/// A row's error before its line is known.
struct Bad {
    field: String,
    message: String,
}

fn bad(field: &str, message: impl Into<String>) -> Bad {
    Bad {
        field: field.to_string(),
        message: message.into(),
    }
}

/// What one row gives.
enum Row {
    Job(RawJob),
    LeftOut(&'static str),
}

struct RawJob {
    name: String,
    /// Seconds (epoch seconds for dated traces).
    submit: f64,
    duration: f64,
    gpus: u32,
    tenant: String,
    class: Option<String>,
    model: Option<String>,
    rounded_up: bool,
    /// Its submission is a date (epoch seconds), not an offset.
    dated: bool,
}

/// Reads `path` as `format`.
pub fn read(path: &Path, format: Format, opts: ReadOptions) -> Result<Trace, TraceError> {
    let file = std::fs::File::open(path).map_err(|e| TraceError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    read_from(file, &path.display().to_string(), format, opts)
}

/// Reads a trace from any reader (`name` is used in errors).
pub fn read_from(
    input: impl std::io::Read,
    name: &str,
    format: Format,
    opts: ReadOptions,
) -> Result<Trace, TraceError> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(if format == Format::Sacct { b'|' } else { b',' })
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let io = |e: csv::Error| TraceError::Io {
        path: name.to_string(),
        message: e.to_string(),
    };
    let header = rdr.headers().map_err(io)?.clone();
    let cols = Columns::new(format, &header)?;
    let mut trace = Trace::default();
    let mut raw: Vec<RawJob> = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = match rdr.read_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let b = bad("row", e.to_string());
                skip_or_fail(&mut trace, opts, line, b)?;
                continue;
            }
        };
        if !more {
            break;
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        trace.rows += 1;
        let line = record.position().map_or(0, |p| p.line());
        match cols.row(&record, opts) {
            Ok(Row::Job(j)) => {
                trace.rounded_up += usize::from(j.rounded_up);
                raw.push(j);
            }
            Ok(Row::LeftOut(why)) => *trace.left_out.entry(why.to_string()).or_default() += 1,
            Err(b) => skip_or_fail(&mut trace, opts, line, b)?,
        }
    }
    if raw.is_empty() {
        return Err(TraceError::Empty(format!(
            "{} rows read, {} malformed, {} left out",
            trace.rows,
            trace.bad_rows,
            trace.left_out.values().sum::<usize>()
        )));
    }
    // Stable: equal submission times keep the trace's order.
    raw.sort_by(|a, b| a.submit.total_cmp(&b.submit));
    let first = raw[0].submit;
    let dated = raw.iter().all(|j| j.dated);
    let base = if dated { first.floor() } else { first };
    if dated {
        trace.origin = Some(base as i64);
    }
    trace.jobs = raw
        .into_iter()
        .map(|j| TraceJob {
            name: j.name,
            submit: j.submit - base,
            duration: j.duration,
            gpus: j.gpus,
            tenant: j.tenant,
            class: j.class,
            model: j.model,
        })
        .collect();
    Ok(trace)
}

fn skip_or_fail(trace: &mut Trace, opts: ReadOptions, line: u64, b: Bad) -> Result<(), TraceError> {
    if !opts.skip_bad_rows {
        return Err(TraceError::Row {
            line,
            field: b.field,
            message: b.message,
        });
    }
    trace.bad_rows += 1;
    if trace.bad_examples.len() < 5 {
        trace
            .bad_examples
            .push(format!("line {line}: {}: {}", b.field, b.message));
    }
    Ok(())
}

/// Column positions of one format, found by name in the header.
struct Columns {
    format: Format,
    ix: BTreeMap<&'static str, usize>,
}

impl Columns {
    fn new(format: Format, header: &csv::StringRecord) -> Result<Self, TraceError> {
        let (required, optional): (&[&'static str], &[&'static str]) = match format {
            Format::Philly => (&["timestamp", "duration", "num_gpus", "cluster"], &[]),
            Format::Muri => (
                &["job_id", "num_gpu", "submit_time", "duration"],
                &["iterations", "iteration_time", "model_name"],
            ),
            Format::Alibaba => (
                &[
                    "name",
                    "num_gpu",
                    "gpu_milli",
                    "creation_time",
                    "deletion_time",
                ],
                &["scheduled_time", "qos", "gpu_spec"],
            ),
            Format::Generic => (
                &["submit_time", "duration", "num_gpus", "tenant"],
                &["gpu_class"],
            ),
            Format::Sacct => (
                &["JobID", "Submit"],
                &[
                    "Account",
                    "User",
                    "Elapsed",
                    "Start",
                    "End",
                    "AllocTRES",
                    "ReqTRES",
                    "State",
                    "Partition",
                ],
            ),
        };
        let find = |c: &str| header.iter().position(|h| h.eq_ignore_ascii_case(c));
        let mut ix = BTreeMap::new();
        for c in required {
            let i = find(c).ok_or_else(|| TraceError::Column {
                format,
                column: c,
                found: header.iter().collect::<Vec<_>>().join(","),
            })?;
            ix.insert(*c, i);
        }
        for c in optional {
            if let Some(i) = find(c) {
                ix.insert(*c, i);
            }
        }
        let need = |c: &'static str| -> Result<(), TraceError> {
            if ix.contains_key(c) {
                Ok(())
            } else {
                Err(TraceError::Column {
                    format,
                    column: c,
                    found: header.iter().collect::<Vec<_>>().join(","),
                })
            }
        };
        if format == Format::Sacct {
            if !ix.contains_key("Elapsed") {
                need("Start")?;
                need("End")?;
            }
            if !ix.contains_key("AllocTRES") {
                need("ReqTRES")?;
            }
            if !ix.contains_key("Account") {
                need("User")?;
            }
        }
        Ok(Columns { format, ix })
    }

    fn get<'r>(&self, r: &'r csv::StringRecord, c: &str) -> Option<&'r str> {
        self.ix.get(c).and_then(|i| r.get(*i))
    }

    fn req<'r>(&self, r: &'r csv::StringRecord, c: &str) -> Result<&'r str, Bad> {
        match self.get(r, c) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(bad(c, "missing")),
        }
    }

    fn row(&self, r: &csv::StringRecord, opts: ReadOptions) -> Result<Row, Bad> {
        match self.format {
            Format::Philly => {
                let submit =
                    datetime(self.req(r, "timestamp")?).map_err(|m| bad("timestamp", m))?;
                let duration = seconds(self.req(r, "duration")?, "duration")?;
                let gpus = count(self.req(r, "num_gpus")?, "num_gpus")?;
                if gpus == 0 {
                    return Ok(Row::LeftOut("no GPU"));
                }
                Ok(Row::Job(RawJob {
                    name: format!("line{}", r.position().map_or(0, |p| p.line())),
                    submit: submit as f64,
                    duration,
                    gpus,
                    tenant: self.req(r, "cluster")?.to_string(),
                    class: None,
                    model: None,
                    rounded_up: false,
                    dated: true,
                }))
            }
            Format::Muri => {
                let gpus = count(self.req(r, "num_gpu")?, "num_gpu")?;
                let submit = seconds(self.req(r, "submit_time")?, "submit_time")? / 1000.0;
                let duration = if opts.muri_run_time {
                    let it = seconds(self.req(r, "iterations")?, "iterations")?;
                    let t = seconds(self.req(r, "iteration_time")?, "iteration_time")?;
                    it * (t * crate::compat::MURI_ITERATION_FACTOR / 1000.0)
                } else {
                    seconds(self.req(r, "duration")?, "duration")? / 1000.0
                };
                if gpus == 0 {
                    return Ok(Row::LeftOut("no GPU"));
                }
                Ok(Row::Job(RawJob {
                    name: self.req(r, "job_id")?.to_string(),
                    submit,
                    duration,
                    gpus,
                    tenant: "trace".into(),
                    class: None,
                    model: self.get(r, "model_name").map(str::to_string),
                    rounded_up: false,
                    dated: false,
                }))
            }
            Format::Alibaba => {
                let gpus = count(self.req(r, "num_gpu")?, "num_gpu")?;
                let milli = count(self.req(r, "gpu_milli")?, "gpu_milli")?;
                if milli > 1000 {
                    return Err(bad("gpu_milli", format!("{milli} is above 1000")));
                }
                let created = seconds(self.req(r, "creation_time")?, "creation_time")?;
                let deleted = seconds(self.req(r, "deletion_time")?, "deletion_time")?;
                let scheduled = match self.get(r, "scheduled_time") {
                    Some(s) if !s.is_empty() => seconds(s, "scheduled_time")?,
                    _ => created,
                };
                if deleted < scheduled.max(created) {
                    return Err(bad(
                        "deletion_time",
                        format!("{deleted} is before the pod was created or scheduled"),
                    ));
                }
                if gpus == 0 {
                    return Ok(Row::LeftOut("no GPU (CPU-only pod)"));
                }
                let fractional = gpus == 1 && milli < 1000;
                if fractional && opts.fractional == Fractional::Skip {
                    return Ok(Row::LeftOut("a fraction of a GPU (--fractional skip)"));
                }
                Ok(Row::Job(RawJob {
                    name: self.req(r, "name")?.to_string(),
                    submit: created,
                    // The pod holds its GPUs from when it is scheduled until it is deleted.
                    duration: deleted - scheduled.max(created),
                    gpus,
                    tenant: self
                        .get(r, "qos")
                        .filter(|q| !q.is_empty())
                        .unwrap_or("default")
                        .to_string(),
                    class: None,
                    model: None,
                    rounded_up: fractional,
                    dated: false,
                }))
            }
            Format::Generic => {
                let submit_s = self.req(r, "submit_time")?;
                let (submit, dated) = match submit_s.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => (v, false),
                    Ok(_) => return Err(bad("submit_time", "must be 0 or more seconds")),
                    Err(_) => (
                        datetime(submit_s).map_err(|m| bad("submit_time", m))? as f64,
                        true,
                    ),
                };
                let gpus = count(self.req(r, "num_gpus")?, "num_gpus")?;
                if gpus == 0 {
                    return Ok(Row::LeftOut("no GPU"));
                }
                Ok(Row::Job(RawJob {
                    name: format!("line{}", r.position().map_or(0, |p| p.line())),
                    submit,
                    duration: seconds(self.req(r, "duration")?, "duration")?,
                    gpus,
                    tenant: self.req(r, "tenant")?.to_string(),
                    class: self
                        .get(r, "gpu_class")
                        .filter(|c| !c.is_empty())
                        .map(str::to_string),
                    model: None,
                    rounded_up: false,
                    dated,
                }))
            }
            Format::Sacct => self.sacct_row(r),
        }
    }

    fn sacct_row(&self, r: &csv::StringRecord) -> Result<Row, Bad> {
        let id = self.req(r, "JobID")?;
        if id.contains('.') {
            return Ok(Row::LeftOut("a job step (JobID with a dot)"));
        }
        let submit = datetime(self.req(r, "Submit")?).map_err(|m| bad("Submit", m))?;
        let never = |v: Option<&str>| {
            v.is_none_or(|s| s.is_empty() || s.eq_ignore_ascii_case("unknown") || s == "None")
        };
        if self.ix.contains_key("Start") && never(self.get(r, "Start")) {
            return Ok(Row::LeftOut("never started"));
        }
        let duration = match self.get(r, "Elapsed") {
            Some(e) if !e.is_empty() => elapsed(e).map_err(|m| bad("Elapsed", m))?,
            _ => {
                if never(self.get(r, "End")) {
                    return Ok(Row::LeftOut("still running (no End)"));
                }
                let start = datetime(self.req(r, "Start")?).map_err(|m| bad("Start", m))?;
                let end = datetime(self.req(r, "End")?).map_err(|m| bad("End", m))?;
                if end < start {
                    return Err(bad("End", "is before Start"));
                }
                (end - start) as f64
            }
        };
        let tres = self
            .get(r, "AllocTRES")
            .filter(|t| !t.is_empty())
            .or_else(|| self.get(r, "ReqTRES"))
            .unwrap_or("");
        let (gpus, class) = gpus_of_tres(tres).map_err(|m| bad("AllocTRES", m))?;
        if gpus == 0 {
            return Ok(Row::LeftOut("no GPU"));
        }
        let tenant = self
            .get(r, "Account")
            .filter(|a| !a.is_empty())
            .or_else(|| self.get(r, "User"))
            .unwrap_or("default");
        Ok(Row::Job(RawJob {
            name: id.to_string(),
            submit: submit as f64,
            duration,
            gpus,
            tenant: tenant.to_string(),
            class,
            model: None,
            rounded_up: false,
            dated: true,
        }))
    }
}

/// GPUs in a TRES string: `cpu=4,gres/gpu=2,mem=8G` or `gres/gpu:h100=2`.
fn gpus_of_tres(tres: &str) -> Result<(u32, Option<String>), String> {
    let mut total = 0u32;
    let mut class = None;
    for item in tres.split(',') {
        let Some((key, value)) = item.split_once('=') else {
            continue;
        };
        let Some(rest) = key.strip_prefix("gres/gpu") else {
            continue;
        };
        let n: u32 = value
            .parse()
            .map_err(|_| format!("{item:?}: the GPU count must be a whole number"))?;
        match rest.strip_prefix(':') {
            Some(t) if !t.is_empty() => {
                class = Some(t.to_string());
                total = total.max(n);
            }
            _ => total = total.max(n),
        }
    }
    Ok((total, class))
}

const MAX_GPUS: u32 = 100_000;

fn count(s: &str, field: &str) -> Result<u32, Bad> {
    // Some traces write counts as floats ("8.0").
    let v: f64 = s
        .parse()
        .map_err(|_| bad(field, format!("{s:?} is not a number")))?;
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > f64::from(MAX_GPUS) {
        return Err(bad(
            field,
            format!("{s:?} must be a whole number from 0 to {MAX_GPUS}"),
        ));
    }
    Ok(v as u32)
}

/// Ten years: longer is a typo.
const MAX_SECONDS: f64 = 10.0 * 365.0 * 86_400.0 * 1000.0;

fn seconds(s: &str, field: &str) -> Result<f64, Bad> {
    let v: f64 = s
        .parse()
        .map_err(|_| bad(field, format!("{s:?} is not a number")))?;
    if !v.is_finite() || !(0.0..=MAX_SECONDS).contains(&v) {
        return Err(bad(
            field,
            format!("{s:?} must be from 0 to {MAX_SECONDS:.0}"),
        ));
    }
    Ok(v)
}

/// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS` (UTC, or with `Z`) → epoch seconds.
fn datetime(s: &str) -> Result<i64, String> {
    let msg = || format!("{s:?} is not a date-time: use YYYY-MM-DD HH:MM:SS");
    let t = s.trim().trim_end_matches('Z');
    let (date, clock) = t.split_once(['T', ' ']).ok_or_else(msg)?;
    let d: Vec<&str> = date.split('-').collect();
    let c: Vec<&str> = clock.split(':').collect();
    if d.len() != 3 || c.len() != 3 {
        return Err(msg());
    }
    let num = |x: &str| x.parse::<u32>().map_err(|_| msg());
    let month =
        time::Month::try_from(u8::try_from(num(d[1])?).map_err(|_| msg())?).map_err(|_| msg())?;
    let year: i32 = d[0].parse().map_err(|_| msg())?;
    let day = u8::try_from(num(d[2])?).map_err(|_| msg())?;
    let date = time::Date::from_calendar_date(year, month, day).map_err(|_| msg())?;
    let secs: f64 = c[2].parse().map_err(|_| msg())?;
    let tm = time::Time::from_hms(
        u8::try_from(num(c[0])?).map_err(|_| msg())?,
        u8::try_from(num(c[1])?).map_err(|_| msg())?,
        secs as u8,
    )
    .map_err(|_| msg())?;
    Ok(date.with_time(tm).assume_utc().unix_timestamp())
}

/// Slurm's elapsed time: `[D-]HH:MM:SS`, `MM:SS`.
fn elapsed(s: &str) -> Result<f64, String> {
    let msg = || format!("{s:?} is not an elapsed time: use [D-]HH:MM:SS");
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (d.parse::<u64>().map_err(|_| msg())?, r),
        None => (0, s),
    };
    let parts: Vec<u64> = rest
        .split(':')
        .map(|p| p.parse::<u64>().map_err(|_| msg()))
        .collect::<Result<_, _>>()?;
    let (h, m, sec) = match parts[..] {
        [h, m, s] => (h, m, s),
        [m, s] => (0, m, s),
        _ => return Err(msg()),
    };
    if m >= 60 || sec >= 60 {
        return Err(msg());
    }
    Ok((days * 86_400 + h * 3_600 + m * 60 + sec) as f64)
}

#[cfg(test)]
mod tests;
