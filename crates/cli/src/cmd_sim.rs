//! `aisc sim`: replay a GPU-cluster trace through the production scheduler
//! (and reference policies), print a summary table, and with `--out DIR`
//! write `report.json`, `jobs.csv` and SVG charts. With `--scheme-pool`, rate
//! every simulated job and forecast the pool's burn. Runs offline: it needs no
//! server.

use crate::policy_args::PolicyArgs;
use aisc_billing::money::Cents;
use aisc_sim::budget::{BudgetOptions, parse_rate};
use aisc_sim::cluster::ClusterSpec;
use aisc_sim::metrics::Measure;
use aisc_sim::trace::{Format, Fractional, ReadOptions};
use aisc_sim::workload::WorkloadOptions;
use aisc_sim::{PolicyName, SimConfig, TraceInfo};
use anyhow::{Result, anyhow, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct SimArgs {
    /// The trace file.
    #[arg(long, value_name = "PATH")]
    trace: PathBuf,
    /// Its format: philly, muri, alibaba, generic (submit_time,duration,num_gpus,tenant[,gpu_class]) or sacct (sacct -P output).
    #[arg(long, value_name = "FORMAT")]
    format: Format,
    /// The machine: NODESxGPUS, or CLASS:NODESxGPUS,... for several pools.
    #[arg(long, default_value = "375x8", value_name = "SPEC")]
    cluster: ClusterSpec,
    /// Topology groups (leaf switches) per pool.
    #[arg(long, default_value_t = 1, value_name = "N")]
    groups: u32,
    /// Policies to run: fairshare (production), fifo, fifo-backfill, sjf, srtf, srsf, tiresias; a comma-separated list, or all.
    #[arg(long, default_value = "fairshare", value_name = "LIST")]
    policy: String,
    /// Scale arrival times so that offered GPU-time / capacity is this (e.g. 0.8).
    #[arg(long, value_name = "RHO")]
    load: Option<f64>,
    /// The first seed (drives --sample and --jitter).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs per policy, with seeds SEED, SEED+1, ...; figures are averaged.
    #[arg(long, default_value_t = 1, value_name = "N")]
    seeds: u32,
    /// Write report.json, jobs.csv and SVG charts here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Skip and count malformed rows instead of stopping at the first.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Jobs on a fraction of a GPU (Alibaba): round-up to a whole GPU, or skip.
    #[arg(long, default_value = "round-up", value_name = "HOW")]
    fractional: Fractional,
    /// Replay a random sample of N jobs (per seed).
    #[arg(long, value_name = "N")]
    sample: Option<usize>,
    /// Move each arrival by a random amount within +/- this many seconds (per seed).
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    jitter: f64,
    /// Which jobs are measured: central (submitted in the central 80 % of the window) or all.
    #[arg(long, default_value = "central", value_name = "WHICH")]
    measure: Measure,
    /// Reproduce another simulator's accounting: muri (see SIMULATION.md).
    #[arg(long, value_name = "SIM")]
    compat: Option<String>,
    /// Tiresias queue thresholds in GPU-seconds, comma-separated (default 18000; 3250,7200 with --compat muri).
    #[arg(long, value_name = "LIST")]
    las_thresholds: Option<String>,
    /// Seconds of work a preempted job redoes when it resumes.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    restart_cost: f64,
    /// Production policy: each job's time limit is its run time times this (users' estimates).
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    limit_factor: f64,
    /// Forecast a scheme: its pool in HK$.
    #[arg(long, value_name = "HKD")]
    scheme_pool: Option<String>,
    /// The scheme's subsidy rate: a fraction (0.7) or a percentage (70%).
    #[arg(long, default_value = "0.7", value_name = "RATE")]
    subsidy_rate: String,
    /// List price per GPU-hour of a class, HK$: CLASS=HKD (repeat, or comma-separate).
    #[arg(long, value_name = "CLASS=HKD")]
    price: Vec<String>,
    /// The date of the run's time 0 for the forecast (default: the trace's own first day, else 2026-01-01).
    #[arg(long, value_name = "YYYY-MM-DD")]
    start: Option<String>,
    /// Print report.json to standard output instead of the table.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    sched: PolicyArgs,
}

const MAX_SEEDS: u32 = 1_000;

fn policies(s: &str) -> Result<Vec<PolicyName>> {
    if s == "all" {
        return Ok(PolicyName::ALL.to_vec());
    }
    let mut out = Vec::new();
    for p in s.split(',') {
        let p: PolicyName = p.trim().parse().map_err(|e| anyhow!("--policy: {e}"))?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

fn thresholds(s: &str) -> Result<Vec<f64>> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            anyhow!("--las-thresholds: {s:?}: use GPU-seconds, e.g. 18000 or 3250,7200")
        })?;
    if v.is_empty() || v.len() > 16 || v.iter().any(|t| !t.is_finite() || *t <= 0.0) {
        bail!("--las-thresholds: {s:?}: 1 to 16 positive numbers");
    }
    if v.windows(2).any(|w| w[0] >= w[1]) {
        bail!("--las-thresholds: {s:?}: thresholds must rise");
    }
    Ok(v)
}

fn prices(list: &[String]) -> Result<BTreeMap<String, Cents>> {
    let mut out = BTreeMap::new();
    for item in list.iter().flat_map(|s| s.split(',')) {
        let (class, amount) = item
            .split_once('=')
            .ok_or_else(|| anyhow!("--price: {item:?}: use CLASS=HKD, e.g. h800=25"))?;
        let cents = Cents::parse_hkd(amount).map_err(|e| anyhow!("--price: {e}"))?;
        if cents.0 <= 0 {
            bail!("--price: {item:?}: a price must be above zero");
        }
        if out.insert(class.trim().to_string(), cents).is_some() {
            bail!("--price: class {class} is priced twice");
        }
    }
    Ok(out)
}

pub fn run(a: SimArgs) -> Result<ExitCode> {
    let policies = policies(&a.policy)?;
    if !(1..=MAX_SEEDS).contains(&a.seeds) {
        bail!("--seeds: {} must be from 1 to {MAX_SEEDS}", a.seeds);
    }
    if a.sample == Some(0) {
        bail!("--sample: must be at least 1");
    }
    if !(a.jitter.is_finite() && (0.0..=1e9).contains(&a.jitter)) {
        bail!("--jitter: {} must be from 0 to 1e9 seconds", a.jitter);
    }
    if !(a.restart_cost.is_finite() && (0.0..=86_400.0).contains(&a.restart_cost)) {
        bail!(
            "--restart-cost: {} must be from 0 to 86400 seconds",
            a.restart_cost
        );
    }
    if !(a.limit_factor.is_finite() && (1.0..=100.0).contains(&a.limit_factor)) {
        bail!("--limit-factor: {} must be from 1 to 100", a.limit_factor);
    }
    let compat_muri = match a.compat.as_deref() {
        None => false,
        Some("muri") => true,
        Some(other) => bail!("--compat: {other:?}: the only one is muri"),
    };
    let mut cluster = a.cluster.clone();
    let smallest = cluster.pools.iter().map(|p| p.nodes).min().unwrap_or(1);
    if a.groups == 0 || a.groups > smallest {
        bail!(
            "--groups: {} must be from 1 to {smallest} (the nodes of the smallest pool)",
            a.groups
        );
    }
    cluster.groups = a.groups;
    let las_thresholds = match &a.las_thresholds {
        Some(s) => thresholds(s)?,
        None if compat_muri => aisc_sim::compat::MURI_LAS_THRESHOLDS.to_vec(),
        None => aisc_sim::DEFAULT_LAS_THRESHOLDS.to_vec(),
    };
    let prices = prices(&a.price)?;
    if a.scheme_pool.is_none() && !prices.is_empty() {
        bail!("--price is for the budget forecast: give --scheme-pool too");
    }
    let read = ReadOptions {
        skip_bad_rows: a.skip_bad_rows,
        fractional: a.fractional,
        muri_run_time: compat_muri,
    };
    if compat_muri && a.format != Format::Muri {
        bail!("--compat muri needs a Muri trace (--format muri)");
    }
    let trace = aisc_sim::trace::read(&a.trace, a.format, read)?;
    let budget = match &a.scheme_pool {
        None => None,
        Some(pool) => {
            let pool = Cents::parse_hkd(pool).map_err(|e| anyhow!("--scheme-pool: {e}"))?;
            if pool.0 <= 0 || pool.0 > aisc_model::scheme::MAX_POOL_CENTS {
                bail!("--scheme-pool: must be above zero and at most HK$100,000,000,000");
            }
            let rate = parse_rate(&a.subsidy_rate).map_err(|e| anyhow!("--subsidy-rate: {e}"))?;
            if prices.is_empty() {
                bail!("--scheme-pool needs a list price: --price CLASS=HKD (e.g. --price h800=25)");
            }
            if prices.len() == 1
                && cluster.pools.len() == 1
                && let Some(name) = prices.keys().next()
            {
                cluster.name_unnamed(name);
            }
            for class in cluster.classes() {
                if !prices.contains_key(&class) {
                    bail!("--price: no price for class {class} of --cluster");
                }
            }
            let start_s = match &a.start {
                Some(d) => {
                    aisc_model::calendar::parse_date(d).map_err(|e| anyhow!("--start: {e}"))? / 1000
                }
                None => match trace.origin {
                    Some(o) => o,
                    None => {
                        aisc_model::calendar::parse_date("2026-01-01")
                            .map_err(|e| anyhow!("{e}"))?
                            / 1000
                    }
                },
            };
            Some(BudgetOptions {
                pool,
                rate,
                prices,
                start_s,
            })
        }
    };
    let cfg = SimConfig {
        policies,
        sched_policy: a.sched.policy()?,
        cluster,
        workload: WorkloadOptions {
            load: a.load,
            sample: a.sample,
            jitter_s: a.jitter,
            muri_overheads: compat_muri,
        },
        seed: a.seed,
        seeds: a.seeds,
        measure: a.measure,
        limit_factor: a.limit_factor,
        restart_cost: a.restart_cost,
        compat_muri,
        las_thresholds,
        budget,
    };
    let info = TraceInfo::new(
        &trace,
        &a.trace.display().to_string(),
        a.format,
        a.fractional,
    );
    let bar = if a.no_progress {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(trace.jobs.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:>28} [{bar:30}] {pos}/{len} jobs done")
            .map_err(|e| anyhow!("{e}"))?
            .progress_chars("=> "),
    );
    let report = aisc_sim::simulate(&trace, info, &cfg, &mut |policy, p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        bar.set_message(format!("{policy} day {:.1}", p.now / 86_400.0));
    })
    .map_err(|e| anyhow!("{e}"))?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", aisc_sim::report::table(&report));
    }
    if let Some(dir) = &a.out {
        let files = aisc_sim::report::write_all(&report, dir).map_err(|e| anyhow!("{e}"))?;
        if !a.json {
            println!("\nwrote:");
            for f in files {
                println!("  {}", f.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
