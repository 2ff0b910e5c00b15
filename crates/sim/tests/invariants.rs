//! Invariants of every policy on random workloads: every job that fits the
//! machine finishes; no job starts before it is submitted or ends sooner than
//! its run time allows; no node ever holds more GPUs than it has (the engine
//! asserts it at every start in debug builds, which tests use); busy GPUs never
//! exceed the machine; and the same seed gives the same run.

use aisc_sim::cluster::ClusterSpec;
use aisc_sim::engine::Phase;
use aisc_sim::metrics::Measure;
use aisc_sim::trace::{Trace, TraceJob};
use aisc_sim::workload::WorkloadOptions;
use aisc_sim::{PolicyName, SimConfig, TraceInfo};
use proptest::prelude::*;

fn config(policy: PolicyName, cluster: &str) -> SimConfig {
    let mut c: ClusterSpec = cluster.parse().expect("cluster");
    c.groups = 2;
    SimConfig {
        policies: vec![policy],
        sched_policy: aisc_sched::Policy::default(),
        cluster: c,
        workload: WorkloadOptions::default(),
        seed: 1,
        seeds: 1,
        measure: Measure::All,
        limit_factor: 1.0,
        restart_cost: 5.0,
        compat_muri: false,
        las_thresholds: aisc_sim::DEFAULT_LAS_THRESHOLDS.to_vec(),
        budget: None,
    }
}

fn info() -> TraceInfo {
    TraceInfo::new(
        &Trace::default(),
        "generated",
        aisc_sim::trace::Format::Generic,
        Default::default(),
    )
}

fn trace(jobs: &[(u32, u32, u8, u8)]) -> Trace {
    let mut t = 0.0;
    Trace {
        jobs: jobs
            .iter()
            .enumerate()
            .map(|(i, &(gap, dur, gpus, tenant))| {
                t += f64::from(gap);
                TraceJob {
                    name: i.to_string(),
                    submit: t,
                    duration: f64::from(dur),
                    gpus: u32::from(gpus),
                    tenant: format!("t{tenant}"),
                    class: None,
                    model: None,
                }
            })
            .collect(),
        ..Trace::default()
    }
}

fn job() -> impl Strategy<Value = (u32, u32, u8, u8)> {
    (
        0u32..600,
        1u32..20_000,
        prop_oneof![Just(1u8), Just(2), Just(4), Just(8), Just(16), 1u8..=24],
        0u8..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_policy_finishes_every_job_without_overbooking(jobs in prop::collection::vec(job(), 1..60)) {
        let t = trace(&jobs);
        for policy in PolicyName::ALL {
            let cfg = config(policy, "4x8");
            let report = aisc_sim::simulate(&t, info(), &cfg, &mut |_, _| {}).expect("simulate");
            let run = &report.runs[0];
            let (w, o) = run.first.as_ref().expect("outcome");
            prop_assert_eq!(o.stuck, 0, "{} left jobs unfinished", policy);
            for (j, s) in w.jobs.iter().zip(&o.state) {
                prop_assert_eq!(s.phase, Phase::Done);
                prop_assert!(s.first_start >= j.submit - 1e-9, "{policy}: started before submission");
                prop_assert!(s.end - s.first_start >= j.duration - 1e-6, "{policy}: ran faster than its run time");
                prop_assert!(s.gpu_seconds >= f64::from(j.gpus) * j.duration - 1e-3);
            }
            prop_assert!(o.series.iter().all(|x| x.busy <= 32), "{policy}: more GPUs busy than exist");
            if !matches!(policy, PolicyName::Srtf | PolicyName::Srsf | PolicyName::Tiresias) {
                prop_assert!(o.state.iter().all(|s| s.preemptions == 0), "{policy} is not preemptive");
            }
            let again = aisc_sim::simulate(&t, info(), &cfg, &mut |_, _| {}).expect("simulate");
            let (_, o2) = again.runs[0].first.as_ref().expect("outcome");
            let ends = |o: &aisc_sim::engine::Outcome| o.state.iter().map(|s| s.end).collect::<Vec<_>>();
            prop_assert_eq!(ends(o), ends(o2), "{} is not deterministic", policy);
        }
    }
}

#[test]
fn fifo_blocks_behind_the_head_and_backfill_does_not() {
    // One 8-GPU node. Job 0 holds 6 GPUs for 100 s; job 1 needs 8; job 2 needs 2 for 10 s.
    let t = trace(&[(0, 100, 6, 0), (1, 50, 8, 1), (1, 10, 2, 2)]);
    let run = |p| {
        let r =
            aisc_sim::simulate(&t, info(), &config(p, "1x8"), &mut |_, _| {}).expect("simulate");
        let (_, o) = r
            .runs
            .into_iter()
            .next()
            .and_then(|r| r.first)
            .expect("outcome");
        o.state.iter().map(|s| s.first_start).collect::<Vec<_>>()
    };
    assert_eq!(run(PolicyName::Fifo), vec![0.0, 100.0, 150.0]);
    // Job 2 ends (12 s) long before job 1 can start (100 s): backfilled at once.
    assert_eq!(run(PolicyName::FifoBackfill), vec![0.0, 100.0, 2.0]);
    // The production policy backfills too.
    assert_eq!(run(PolicyName::Fairshare), vec![0.0, 100.0, 2.0]);
}

#[test]
fn srtf_preempts_a_long_job_for_a_short_one() {
    let t = trace(&[(0, 1_000, 8, 0), (10, 20, 8, 1)]);
    let r = aisc_sim::simulate(&t, info(), &config(PolicyName::Srtf, "1x8"), &mut |_, _| {})
        .expect("simulate");
    let (_, o) = r.runs[0].first.as_ref().expect("outcome");
    assert_eq!(o.state[1].first_start, 10.0);
    assert_eq!(o.state[1].end, 30.0);
    assert_eq!(o.state[0].preemptions, 1);
    // 1,000 s of work, 20 s paused, 5 s to restart.
    assert_eq!(o.state[0].end, 1_025.0);
}
