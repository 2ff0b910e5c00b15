//! The simulator: replays GPU-cluster traces through the production
//! scheduler ([`aisc_sched::plan`]) and billing ([`aisc_billing`]), as a
//! discrete-event simulation far faster than real time, beside reference
//! policies (FIFO, backfill, SJF, SRTF, SRSF, Tiresias) for comparison.
//!
//! - [`trace`]: readers for Philly, Muri, Alibaba openb, a generic CSV and `sacct -P`;
//! - [`workload`]: jobs to pools, sampling, jitter and load scaling;
//! - [`engine`]: the event loop; [`production`] and [`reference`]: the policies;
//! - [`metrics`]: JCT, queueing delay, slowdown, utilisation, fairness, pass times;
//! - [`budget`]: monthly burn and when the pool runs out;
//! - [`report`]: `report.json`, `jobs.csv`, SVG charts and the summary table.
//!
//! This crate depends on `sched`, `billing` and `model` only: never on the
//! store, the engine or the server.

pub mod budget;
pub mod calibration;
pub mod cluster;
pub mod compat;
pub mod engine;
pub mod metrics;
pub mod production;
pub mod reference;
pub mod report;
pub mod trace;
pub mod workload;

use crate::budget::{BudgetOptions, Forecast};
use crate::cluster::ClusterSpec;
use crate::engine::{EngineOptions, Outcome, Progress, Scheduler};
use crate::metrics::{Measure, Summary, TenantStats};
use crate::reference::{Kind, Reference};
use crate::trace::Trace;
use crate::workload::{Workload, WorkloadOptions};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A policy to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyName {
    /// The production policy: `aisc_sched::plan` (fair share by grant, backfill).
    Fairshare,
    /// First come, first served.
    Fifo,
    /// First come, first served with EASY backfill.
    FifoBackfill,
    /// Shortest job first (oracle run times).
    Sjf,
    /// Shortest remaining time first, preemptive (oracle).
    Srtf,
    /// Shortest remaining service first, preemptive (oracle).
    Srsf,
    /// 2D-LAS, preemptive, blind to run times.
    Tiresias,
}

impl PolicyName {
    /// Every policy, production first.
    pub const ALL: [PolicyName; 7] = [
        PolicyName::Fairshare,
        PolicyName::Fifo,
        PolicyName::FifoBackfill,
        PolicyName::Sjf,
        PolicyName::Srtf,
        PolicyName::Srsf,
        PolicyName::Tiresias,
    ];
}

impl FromStr for PolicyName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PolicyName::ALL
            .into_iter()
            .find(|p| p.to_string() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a policy: use fairshare, fifo, fifo-backfill, sjf, srtf, srsf \
                     or tiresias (or a comma-separated list, or all)"
                )
            })
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyName::Fairshare => "fairshare",
            PolicyName::Fifo => "fifo",
            PolicyName::FifoBackfill => "fifo-backfill",
            PolicyName::Sjf => "sjf",
            PolicyName::Srtf => "srtf",
            PolicyName::Srsf => "srsf",
            PolicyName::Tiresias => "tiresias",
        })
    }
}

/// Tiresias' default: two queues split at 18,000 GPU-seconds.
pub const DEFAULT_LAS_THRESHOLDS: [f64; 1] = [18_000.0];

/// Everything one `aisc sim` does.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Policies to compare.
    pub policies: Vec<PolicyName>,
    /// Weights and switches of the production policy.
    pub sched_policy: aisc_sched::Policy,
    /// The machine.
    pub cluster: ClusterSpec,
    /// Load, sampling, jitter.
    pub workload: WorkloadOptions,
    /// The first seed.
    pub seed: u64,
    /// Runs per policy (seeds `seed`, `seed + 1`, …), averaged.
    pub seeds: u32,
    /// Which jobs are measured.
    pub measure: Measure,
    /// Production policy: each job's time limit is its run time × this.
    pub limit_factor: f64,
    /// Seconds a preempted job redoes when it resumes.
    pub restart_cost: f64,
    /// Reproduce the Muri simulator's accounting (see [`compat`]).
    pub compat_muri: bool,
    /// Tiresias' queue thresholds, GPU-seconds.
    pub las_thresholds: Vec<f64>,
    /// Forecast a scheme's budget (time 0 is `start_s`).
    pub budget: Option<BudgetOptions>,
}

/// One policy's results.
#[derive(Debug, Serialize)]
pub struct PolicyRun {
    /// The policy.
    pub policy: PolicyName,
    /// Mean over seeds.
    pub summary: Summary,
    /// Each seed's.
    pub per_seed: Vec<Summary>,
    /// Per tenant, first seed.
    pub tenants: Vec<TenantStats>,
    /// The budget forecast, first seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Forecast>,
    /// The first seed's workload and outcome, for per-job results and charts.
    #[serde(skip)]
    pub first: Option<(Workload, Outcome)>,
}

/// What a simulation produced.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The trace as read.
    pub trace: TraceInfo,
    /// The machine.
    pub cluster: ClusterSpec,
    /// GPUs in all.
    pub gpus: u64,
    /// Offered load before scaling (first seed), and after.
    pub offered_load: f64,
    /// `--load`, if given.
    pub target_load: Option<f64>,
    /// Factor applied to arrival times.
    pub time_scale: f64,
    /// Which jobs were measured.
    pub measure: Measure,
    /// Seeds run.
    pub seeds: Vec<u64>,
    /// Settings that shape the numbers.
    pub settings: Settings,
    /// One entry per policy.
    pub runs: Vec<PolicyRun>,
}

/// The trace's figures, for the report.
#[derive(Debug, Serialize)]
pub struct TraceInfo {
    /// Path.
    pub path: String,
    /// Format.
    pub format: trace::Format,
    /// Data rows.
    pub rows: usize,
    /// Jobs read.
    pub jobs: usize,
    /// Malformed rows skipped.
    pub bad_rows: usize,
    /// Their first errors.
    pub bad_examples: Vec<String>,
    /// Rows left out by the reader, and jobs left out for the cluster, by reason.
    pub left_out: std::collections::BTreeMap<String, usize>,
    /// Jobs given a whole GPU for a fraction of one (`--fractional round-up`).
    pub fractional_rounded_up: usize,
    /// `--fractional`.
    pub fractional: trace::Fractional,
    /// The trace's first day, if dated.
    pub first_day: Option<String>,
}

impl TraceInfo {
    /// What the report says of `trace`, read from `path` as `format`.
    pub fn new(
        trace: &Trace,
        path: &str,
        format: trace::Format,
        fractional: trace::Fractional,
    ) -> Self {
        TraceInfo {
            path: path.to_string(),
            format,
            rows: trace.rows,
            jobs: trace.jobs.len(),
            bad_rows: trace.bad_rows,
            bad_examples: trace.bad_examples.clone(),
            left_out: trace.left_out.clone(),
            fractional_rounded_up: trace.rounded_up,
            fractional,
            first_day: trace.origin.map(budget::date),
        }
    }
}

/// Settings that shape the numbers.
#[derive(Debug, Serialize)]
pub struct Settings {
    /// The production policy's weights and switches.
    pub sched_policy: aisc_sched::Policy,
    /// Time limit = run time × this (production policy).
    pub limit_factor: f64,
    /// Restart cost, seconds.
    pub restart_cost: f64,
    /// `--compat muri`.
    pub compat_muri: bool,
    /// Tiresias thresholds.
    pub las_thresholds: Vec<f64>,
    /// `--sample`.
    pub sample: Option<usize>,
    /// `--jitter`, seconds.
    pub jitter_s: f64,
}

fn scheduler(name: PolicyName, cfg: &SimConfig, w: &Workload) -> Box<dyn Scheduler> {
    let n = w.jobs.len();
    let kind = match name {
        PolicyName::Fairshare => {
            return Box::new(production::Production::new(
                cfg.sched_policy,
                &cfg.cluster,
                n,
                w.tenants.len(),
                cfg.limit_factor,
            ));
        }
        PolicyName::Fifo => Kind::Fifo,
        PolicyName::FifoBackfill => Kind::FifoBackfill,
        PolicyName::Sjf => Kind::Sjf,
        PolicyName::Srtf => Kind::Srtf,
        PolicyName::Srsf => Kind::Srsf,
        PolicyName::Tiresias => Kind::Tiresias {
            thresholds: cfg.las_thresholds.clone(),
            count_only: cfg.compat_muri,
        },
    };
    Box::new(Reference::new(kind, n))
}

/// Runs every policy of `cfg` on `trace`, `cfg.seeds` times each.
pub fn simulate(
    trace: &Trace,
    trace_info: TraceInfo,
    cfg: &SimConfig,
    progress: &mut dyn FnMut(PolicyName, Progress),
) -> Result<Report, String> {
    let seeds: Vec<u64> = (0..u64::from(cfg.seeds.max(1)))
        .map(|k| cfg.seed.wrapping_add(k))
        .collect();
    let workloads: Vec<Workload> = seeds
        .iter()
        .map(|&s| workload::prepare(trace, &cfg.cluster, &cfg.workload, s))
        .collect::<Result<_, _>>()?;
    let gpus = cfg.cluster.total_gpus();
    let engine = EngineOptions {
        restart_cost: cfg.restart_cost,
        per_event_overhead: cfg.compat_muri,
    };
    let classes = cfg.cluster.classes();
    let mut runs = Vec::new();
    for &name in &cfg.policies {
        let mut per_seed = Vec::new();
        let mut first = None;
        let mut tenants = Vec::new();
        let mut budget = None;
        for w in &workloads {
            let mut sched = scheduler(name, cfg, w);
            let o = engine::run(&w.jobs, &cfg.cluster, sched.as_mut(), engine, &mut |p| {
                progress(name, p)
            });
            let (s, t) = metrics::summarize(w, &o, gpus, cfg.measure);
            per_seed.push(s);
            if first.is_none() {
                tenants = t;
                if let Some(b) = &cfg.budget {
                    budget = Some(budget::forecast(w, &o, &classes, b)?);
                }
                first = Some((w.clone(), o));
            }
        }
        runs.push(PolicyRun {
            policy: name,
            summary: metrics::mean(&per_seed),
            per_seed,
            tenants,
            budget,
            first,
        });
    }
    let w0 = &workloads[0];
    let mut info = trace_info;
    for (k, v) in &w0.left_out {
        *info.left_out.entry(k.clone()).or_default() += v;
    }
    Ok(Report {
        trace: info,
        cluster: cfg.cluster.clone(),
        gpus,
        offered_load: w0.offered_load,
        target_load: cfg.workload.load,
        time_scale: w0.time_scale,
        measure: cfg.measure,
        seeds,
        settings: Settings {
            sched_policy: cfg.sched_policy,
            limit_factor: cfg.limit_factor,
            restart_cost: cfg.restart_cost,
            compat_muri: cfg.compat_muri,
            las_thresholds: cfg.las_thresholds.clone(),
            sample: cfg.workload.sample,
            jitter_s: cfg.workload.jitter_s,
        },
        runs,
    })
}
