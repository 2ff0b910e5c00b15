//! From a trace to the jobs one run replays: each job in a pool, jobs that
//! cannot run on the machine left out (and counted), an optional random
//! sample and jitter (the seed's only effects), and arrival times scaled so
//! that the offered load is `--load`.

use crate::cluster::ClusterSpec;
use crate::trace::Trace;
use serde::Serialize;
use std::collections::BTreeMap;

/// One job as the engine replays it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimJob {
    /// The trace's name for it.
    pub name: String,
    /// Arrival, seconds from the start of the run.
    pub submit: f64,
    /// Run time, seconds.
    pub duration: f64,
    /// GPUs.
    pub gpus: u32,
    /// Index into [`Workload::tenants`].
    pub tenant: u32,
    /// Index into the cluster's pools.
    pub pool: u32,
    /// Muri's per-event overhead for it, seconds (0 unless `--compat muri`).
    pub overhead: f64,
}

/// How to turn a trace into a workload.
#[derive(Debug, Clone, Default)]
pub struct WorkloadOptions {
    /// Scale arrivals so that offered GPU-time / capacity over the arrival window is this.
    pub load: Option<f64>,
    /// Replay a random sample of this many jobs.
    pub sample: Option<usize>,
    /// Move each arrival by a random amount within ± this many seconds.
    pub jitter_s: f64,
    /// Charge Muri's per-event overheads.
    pub muri_overheads: bool,
}

/// The jobs of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    /// In arrival order.
    pub jobs: Vec<SimJob>,
    /// Tenant names.
    pub tenants: Vec<String>,
    /// Offered load of the trace as read, on this machine.
    pub offered_load: f64,
    /// Factor applied to arrival times (1: unchanged).
    pub time_scale: f64,
    /// Jobs left out, by reason.
    pub left_out: BTreeMap<String, usize>,
}

/// The upper bound of `--load`.
pub const MAX_LOAD: f64 = 100.0;

/// Offered GPU-time over capacity × arrival window.
pub fn offered_load(jobs: &[SimJob], capacity_gpus: u64) -> f64 {
    let (Some(first), Some(last)) = (jobs.first(), jobs.last()) else {
        return 0.0;
    };
    let span = last.submit - first.submit;
    let work: f64 = jobs.iter().map(|j| f64::from(j.gpus) * j.duration).sum();
    if span <= 0.0 || capacity_gpus == 0 {
        return f64::INFINITY;
    }
    work / (capacity_gpus as f64 * span)
}

/// Prepares the jobs of the run with `seed`.
pub fn prepare(
    trace: &Trace,
    cluster: &ClusterSpec,
    opts: &WorkloadOptions,
    seed: u64,
) -> Result<Workload, String> {
    let mut left_out: BTreeMap<String, usize> = BTreeMap::new();
    let mut tenants: Vec<String> = Vec::new();
    let mut tenant_ix: BTreeMap<&str, u32> = BTreeMap::new();
    let mut jobs = Vec::with_capacity(trace.jobs.len());
    for j in &trace.jobs {
        let Some(pool) = cluster.pool_of(j.class.as_deref()) else {
            *left_out
                .entry(format!(
                    "asks for class {} which the cluster lacks",
                    j.class.as_deref().unwrap_or("?")
                ))
                .or_default() += 1;
            continue;
        };
        if u64::from(j.gpus) > cluster.pool_gpus(pool) {
            *left_out
                .entry("asks for more GPUs than its pool has".into())
                .or_default() += 1;
            continue;
        }
        let tenant = *tenant_ix.entry(j.tenant.as_str()).or_insert_with(|| {
            tenants.push(j.tenant.clone());
            (tenants.len() - 1) as u32
        });
        jobs.push(SimJob {
            name: j.name.clone(),
            submit: j.submit,
            duration: j.duration,
            gpus: j.gpus,
            tenant,
            pool: pool as u32,
            overhead: if opts.muri_overheads {
                crate::compat::muri_overhead(j.gpus, j.model.as_deref())
            } else {
                0.0
            },
        });
    }
    let mut rng = SplitMix(seed);
    if let Some(n) = opts.sample
        && n < jobs.len()
    {
        // Selection sampling (Knuth's algorithm S): keeps arrival order.
        let mut keep = Vec::with_capacity(n);
        let total = jobs.len();
        for (seen, j) in jobs.into_iter().enumerate() {
            let need = n - keep.len();
            if need > 0 && (rng.unit() * (total - seen) as f64) < need as f64 {
                keep.push(j);
            }
        }
        jobs = keep;
    }
    if opts.jitter_s > 0.0 {
        for j in &mut jobs {
            j.submit = (j.submit + (rng.unit() * 2.0 - 1.0) * opts.jitter_s).max(0.0);
        }
        jobs.sort_by(|a, b| a.submit.total_cmp(&b.submit));
    }
    if jobs.is_empty() {
        return Err("no job of the trace can run on this cluster".into());
    }
    let offered = offered_load(&jobs, cluster.total_gpus());
    let mut time_scale = 1.0;
    if let Some(target) = opts.load {
        if !(target > 0.0 && target <= MAX_LOAD) {
            return Err(format!(
                "--load: {target} must be above 0 and at most {MAX_LOAD}"
            ));
        }
        if !offered.is_finite() {
            return Err(
                "--load: every job of this trace arrives at the same time, so arrivals cannot be \
                 stretched to a load; leave --load out"
                    .into(),
            );
        }
        time_scale = offered / target;
        let first = jobs[0].submit;
        for j in &mut jobs {
            j.submit = first + (j.submit - first) * time_scale;
        }
    }
    Ok(Workload {
        jobs,
        tenants,
        offered_load: offered,
        time_scale,
        left_out,
    })
}

/// A small, fast, seeded generator (SplitMix64): the same seed gives the same run everywhere.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceJob;
    use proptest::prelude::*;

    fn trace(jobs: &[(f64, f64, u32)]) -> Trace {
        Trace {
            jobs: jobs
                .iter()
                .enumerate()
                .map(|(i, &(submit, duration, gpus))| TraceJob {
                    name: i.to_string(),
                    submit,
                    duration,
                    gpus,
                    tenant: format!("t{}", i % 3),
                    class: None,
                    model: None,
                })
                .collect(),
            ..Trace::default()
        }
    }

    #[test]
    fn jobs_too_big_for_the_cluster_are_left_out_and_counted() {
        let c: ClusterSpec = "2x8".parse().unwrap();
        let w = prepare(
            &trace(&[(0.0, 10.0, 8), (1.0, 10.0, 32), (2.0, 10.0, 16)]),
            &c,
            &WorkloadOptions::default(),
            1,
        )
        .unwrap();
        assert_eq!(w.jobs.len(), 2);
        assert_eq!(w.left_out.values().sum::<usize>(), 1);
        assert_eq!(w.tenants, vec!["t0", "t2"]);
    }

    #[test]
    fn sampling_is_seeded_and_keeps_arrival_order() {
        let c: ClusterSpec = "2x8".parse().unwrap();
        let jobs: Vec<(f64, f64, u32)> = (0..100).map(|i| (f64::from(i), 5.0, 1)).collect();
        let opts = WorkloadOptions {
            sample: Some(10),
            ..WorkloadOptions::default()
        };
        let a = prepare(&trace(&jobs), &c, &opts, 7).unwrap();
        let b = prepare(&trace(&jobs), &c, &opts, 7).unwrap();
        let other = prepare(&trace(&jobs), &c, &opts, 8).unwrap();
        assert_eq!(a.jobs.len(), 10);
        assert_eq!(a.jobs, b.jobs);
        assert_ne!(a.jobs, other.jobs);
        assert!(a.jobs.windows(2).all(|w| w[0].submit <= w[1].submit));
    }

    #[test]
    fn a_trace_submitted_all_at_once_cannot_be_scaled_to_a_load() {
        let c: ClusterSpec = "2x8".parse().unwrap();
        let opts = WorkloadOptions {
            load: Some(0.5),
            ..WorkloadOptions::default()
        };
        let e = prepare(&trace(&[(0.0, 1.0, 1), (0.0, 2.0, 1)]), &c, &opts, 1).unwrap_err();
        assert!(e.contains("--load"), "{e}");
        let bad = WorkloadOptions {
            load: Some(0.0),
            ..WorkloadOptions::default()
        };
        let e = prepare(&trace(&[(0.0, 1.0, 1), (5.0, 2.0, 1)]), &c, &bad, 1).unwrap_err();
        assert!(e.contains("above 0"), "{e}");
    }

    proptest! {
        #[test]
        fn scaling_arrivals_gives_the_offered_load_asked_for(
            jobs in prop::collection::vec((0.0f64..1e6, 1.0f64..1e5, 1u32..=8), 2..60),
            target in 0.05f64..5.0,
        ) {
            let mut jobs = jobs;
            jobs.sort_by(|a, b| a.0.total_cmp(&b.0));
            prop_assume!(jobs.last().unwrap().0 - jobs[0].0 > 1.0);
            let c: ClusterSpec = "4x8".parse().unwrap();
            let opts = WorkloadOptions { load: Some(target), ..WorkloadOptions::default() };
            let w = prepare(&trace(&jobs), &c, &opts, 1).unwrap();
            let got = offered_load(&w.jobs, c.total_gpus());
            prop_assert!((got - target).abs() <= target * 1e-9, "{got} vs {target}");
        }
    }
}
