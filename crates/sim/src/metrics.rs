//! What a run is judged by. Job completion time (JCT) is end − submit;
//! queueing delay is first start − submit; bounded slowdown is
//! `max(1, JCT / max(run time, 10 s))`. Percentiles are by nearest rank.
//! Only jobs submitted in the central 80 % of the arrival window are measured
//! (unless `Measure::All`), so that the empty machine at the start and the
//! drain at the end do not flatter or spoil the figures. Utilisation covers
//! the arrival window (first to last arrival), makespan the whole run.

use crate::engine::{Outcome, Phase};
use crate::workload::Workload;
use serde::Serialize;
use std::str::FromStr;

/// Which jobs are measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Jobs submitted in the central 80 % of the arrival window.
    #[default]
    Central,
    /// Every job (as the published tables do).
    All,
}

impl FromStr for Measure {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "central" => Ok(Measure::Central),
            "all" => Ok(Measure::All),
            _ => Err(format!("{s:?}: use central or all")),
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Jobs replayed.
    pub jobs: usize,
    /// Jobs measured.
    pub measured: usize,
    /// Jobs that never finished (could not be placed).
    pub unfinished: usize,
    /// Mean JCT, seconds.
    pub avg_jct_s: f64,
    /// Median JCT, seconds.
    pub median_jct_s: f64,
    /// 99th percentile JCT, seconds.
    pub p99_jct_s: f64,
    /// Mean queueing delay, seconds.
    pub avg_wait_s: f64,
    /// 99th percentile queueing delay, seconds.
    pub p99_wait_s: f64,
    /// Mean bounded slowdown.
    pub avg_bounded_slowdown: f64,
    /// GPU-time used over GPU-time available from the first arrival to the last
    /// (the whole run when all arrive at once).
    pub utilisation: f64,
    /// First arrival to last end, seconds.
    pub makespan_s: f64,
    /// Jain's index over tenants' mean bounded slowdown (1: all alike).
    pub fairness_jain: f64,
    /// The tenant with the worst mean bounded slowdown.
    pub worst_tenant: String,
    /// Its mean bounded slowdown.
    pub worst_tenant_slowdown: f64,
    /// Measured jobs that waited over 24 hours to start.
    pub waiting_over_24h: usize,
    /// Preemptions, all jobs.
    pub preemptions: u64,
    /// Events: arrivals and completions (same-time ones merged), each ending in a pass.
    pub events: u64,
    /// Passes that planned (the others could tell at once that nothing could start).
    pub passes: usize,
    /// Median wall time of a pass, microseconds.
    pub pass_p50_us: f64,
    /// 99th percentile wall time of a pass, microseconds.
    pub pass_p99_us: f64,
    /// Wall time of the run, seconds.
    pub wall_s: f64,
    /// Jobs simulated per second of wall time.
    pub jobs_per_s: f64,
}

/// One tenant's figures (measured jobs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantStats {
    /// Tenant.
    pub tenant: String,
    /// Measured jobs.
    pub jobs: usize,
    /// Mean JCT, seconds.
    pub avg_jct_s: f64,
    /// Mean queueing delay, seconds.
    pub avg_wait_s: f64,
    /// Mean bounded slowdown.
    pub avg_slowdown: f64,
    /// GPU-hours used (all its jobs).
    pub gpu_hours: f64,
}

/// The `p` percentile (0 to 1) of sorted values by nearest rank: the value at
/// index `⌊p·n⌋`, capped at the last. The published simulators' tables use
/// this definition.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p * sorted.len() as f64).floor() as usize).min(sorted.len() - 1);
    sorted[i]
}

/// Jain's fairness index of `x`: `(Σx)² / (n Σx²)`.
pub fn jain(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let s: f64 = x.iter().sum();
    let s2: f64 = x.iter().map(|v| v * v).sum();
    if s2 == 0.0 { 1.0 } else { s * s / (n * s2) }
}

/// Bounded slowdown of a job that ran `run` seconds and completed `jct` after submission.
pub fn bounded_slowdown(jct: f64, run: f64) -> f64 {
    (jct / run.max(10.0)).max(1.0)
}

/// Which jobs are measured: arrivals in the central 80 % of the window, or all.
pub fn measured(w: &Workload, m: Measure) -> Vec<bool> {
    let (Some(first), Some(last)) = (w.jobs.first(), w.jobs.last()) else {
        return Vec::new();
    };
    let span = last.submit - first.submit;
    let (lo, hi) = (first.submit + 0.1 * span, first.submit + 0.9 * span);
    w.jobs
        .iter()
        .map(|j| m == Measure::All || span <= 0.0 || (j.submit >= lo && j.submit <= hi))
        .collect()
}

/// The summary and per-tenant figures of one run.
pub fn summarize(
    w: &Workload,
    o: &Outcome,
    capacity_gpus: u64,
    m: Measure,
) -> (Summary, Vec<TenantStats>) {
    let take = measured(w, m);
    let mut jct = Vec::new();
    let mut wait = Vec::new();
    let mut bsld_sum = 0.0;
    let mut over_day = 0;
    let tenants = w.tenants.len();
    let mut per: Vec<(usize, f64, f64, f64, f64)> = vec![(0, 0.0, 0.0, 0.0, 0.0); tenants];
    for ((job, s), t) in w.jobs.iter().zip(&o.state).zip(&take) {
        per[job.tenant as usize].4 += s.gpu_seconds / 3600.0;
        if !*t || s.phase != Phase::Done {
            continue;
        }
        let c = s.end - job.submit;
        let q = s.first_start - job.submit;
        let b = bounded_slowdown(c, job.duration);
        jct.push(c);
        wait.push(q);
        bsld_sum += b;
        over_day += usize::from(q > 86_400.0);
        let p = &mut per[job.tenant as usize];
        p.0 += 1;
        p.1 += c;
        p.2 += q;
        p.3 += b;
    }
    jct.sort_by(f64::total_cmp);
    wait.sort_by(f64::total_cmp);
    let n = jct.len().max(1) as f64;
    let stats: Vec<TenantStats> = per
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let k = p.0.max(1) as f64;
            TenantStats {
                tenant: w.tenants[i].clone(),
                jobs: p.0,
                avg_jct_s: p.1 / k,
                avg_wait_s: p.2 / k,
                avg_slowdown: p.3 / k,
                gpu_hours: p.4,
            }
        })
        .collect();
    let slowdowns: Vec<f64> = stats
        .iter()
        .filter(|t| t.jobs > 0)
        .map(|t| t.avg_slowdown)
        .collect();
    let worst = stats
        .iter()
        .filter(|t| t.jobs > 0)
        .max_by(|a, b| a.avg_slowdown.total_cmp(&b.avg_slowdown));
    let first = w.jobs.first().map_or(0.0, |j| j.submit);
    let last_end = o
        .state
        .iter()
        .filter(|s| s.phase == Phase::Done)
        .map(|s| s.end)
        .fold(first, f64::max);
    let makespan = last_end - first;
    let used: f64 = o.state.iter().map(|s| s.gpu_seconds).sum();
    let mut ns = o.pass_ns.clone();
    ns.sort_unstable();
    let ns: Vec<f64> = ns.into_iter().map(|v| v as f64 / 1000.0).collect();
    let wall = o.wall.as_secs_f64();
    let summary = Summary {
        jobs: w.jobs.len(),
        measured: jct.len(),
        unfinished: o.stuck,
        avg_jct_s: jct.iter().sum::<f64>() / n,
        median_jct_s: percentile(&jct, 0.5),
        p99_jct_s: percentile(&jct, 0.99),
        avg_wait_s: wait.iter().sum::<f64>() / n,
        p99_wait_s: percentile(&wait, 0.99),
        avg_bounded_slowdown: bsld_sum / n,
        utilisation: utilisation(w, o, capacity_gpus, used, makespan),
        makespan_s: makespan,
        fairness_jain: jain(&slowdowns),
        worst_tenant: worst.map(|t| t.tenant.clone()).unwrap_or_default(),
        worst_tenant_slowdown: worst.map_or(0.0, |t| t.avg_slowdown),
        waiting_over_24h: over_day,
        preemptions: o.state.iter().map(|s| u64::from(s.preemptions)).sum(),
        events: o.events,
        passes: o.pass_ns.len(),
        pass_p50_us: percentile(&ns, 0.5),
        pass_p99_us: percentile(&ns, 0.99),
        wall_s: wall,
        jobs_per_s: if wall > 0.0 {
            w.jobs.len() as f64 / wall
        } else {
            0.0
        },
    };
    (summary, stats)
}

/// Busy GPU-time over available GPU-time while jobs arrive.
fn utilisation(w: &Workload, o: &Outcome, capacity: u64, used: f64, makespan: f64) -> f64 {
    let cap = capacity.max(1) as f64;
    let (a0, a1) = match (w.jobs.first(), w.jobs.last()) {
        (Some(f), Some(l)) => (f.submit, l.submit),
        _ => return 0.0,
    };
    if a1 <= a0 {
        return if makespan > 0.0 {
            used / (cap * makespan)
        } else {
            0.0
        };
    }
    // The series is a step function: each sample holds until the next.
    let mut area = 0.0;
    for (i, s) in o.series.iter().enumerate() {
        let until = o.series.get(i + 1).map_or(a1, |n| n.t);
        let (from, to) = (s.t.max(a0), until.min(a1));
        if to > from {
            area += s.busy as f64 * (to - from);
        }
    }
    area / (cap * (a1 - a0))
}

/// The mean of several runs' summaries (numbers averaged; the worst tenant of the first run).
pub fn mean(runs: &[Summary]) -> Summary {
    let Some(first) = runs.first() else {
        return Summary::default();
    };
    let k = runs.len() as f64;
    let avg = |f: fn(&Summary) -> f64| runs.iter().map(f).sum::<f64>() / k;
    let avg_n =
        |f: fn(&Summary) -> usize| (runs.iter().map(f).sum::<usize>() as f64 / k).round() as usize;
    Summary {
        jobs: avg_n(|s| s.jobs),
        measured: avg_n(|s| s.measured),
        unfinished: avg_n(|s| s.unfinished),
        avg_jct_s: avg(|s| s.avg_jct_s),
        median_jct_s: avg(|s| s.median_jct_s),
        p99_jct_s: avg(|s| s.p99_jct_s),
        avg_wait_s: avg(|s| s.avg_wait_s),
        p99_wait_s: avg(|s| s.p99_wait_s),
        avg_bounded_slowdown: avg(|s| s.avg_bounded_slowdown),
        utilisation: avg(|s| s.utilisation),
        makespan_s: avg(|s| s.makespan_s),
        fairness_jain: avg(|s| s.fairness_jain),
        worst_tenant: first.worst_tenant.clone(),
        worst_tenant_slowdown: avg(|s| s.worst_tenant_slowdown),
        waiting_over_24h: avg_n(|s| s.waiting_over_24h),
        preemptions: (runs.iter().map(|s| s.preemptions).sum::<u64>() as f64 / k).round() as u64,
        events: (runs.iter().map(|s| s.events).sum::<u64>() as f64 / k).round() as u64,
        passes: avg_n(|s| s.passes),
        pass_p50_us: avg(|s| s.pass_p50_us),
        pass_p99_us: avg(|s| s.pass_p99_us),
        wall_s: avg(|s| s.wall_s),
        jobs_per_s: avg(|s| s.jobs_per_s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_and_jain_is_one_when_equal() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert_eq!(percentile(&v, 0.99), 5.0);
        assert_eq!(percentile(&v, 0.2), 2.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        assert_eq!(jain(&[2.0, 2.0, 2.0]), 1.0);
        assert!((jain(&[1.0, 0.0]) - 0.5).abs() < 1e-12);
        assert_eq!(bounded_slowdown(5.0, 1.0), 1.0);
        assert_eq!(bounded_slowdown(100.0, 20.0), 5.0);
    }
}
