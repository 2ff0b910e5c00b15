//! Replay speed: 10,000 jobs of the Philly trace (the first 10,000 in the
//! file) on 375 x 8 GPUs at offered load 0.8, for each policy. The whole trace
//! is measured with `aisc sim` (see BENCHMARKS.md). Traces from
//! ../shared/traces/philly/philly.csv, or $AISC_PHILLY.

use aisc_sim::cluster::ClusterSpec;
use aisc_sim::metrics::Measure;
use aisc_sim::trace::{Format, ReadOptions};
use aisc_sim::workload::WorkloadOptions;
use aisc_sim::{PolicyName, SimConfig, TraceInfo};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let path = std::env::var("AISC_PHILLY").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/traces/philly/philly.csv"
        )
        .into()
    });
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the Philly trace at {path}: {e}"));
    let cut: String = text
        .lines()
        .take(10_001)
        .map(|l| format!("{l}\n"))
        .collect();
    let trace = aisc_sim::trace::read_from(
        cut.as_bytes(),
        &path,
        Format::Philly,
        ReadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut cluster: ClusterSpec = "375x8".parse().unwrap_or_else(|e| panic!("{e}"));
    cluster.groups = 12;
    let mut group = c.benchmark_group("philly_10k");
    group.sample_size(10);
    for policy in PolicyName::ALL {
        let cfg = SimConfig {
            policies: vec![policy],
            sched_policy: aisc_sched::Policy::default(),
            cluster: cluster.clone(),
            workload: WorkloadOptions {
                load: Some(0.8),
                ..WorkloadOptions::default()
            },
            seed: 1,
            seeds: 1,
            measure: Measure::Central,
            limit_factor: 1.0,
            restart_cost: 0.0,
            compat_muri: false,
            las_thresholds: aisc_sim::DEFAULT_LAS_THRESHOLDS.to_vec(),
            budget: None,
        };
        group.bench_function(policy.to_string(), |b| {
            b.iter(|| {
                let info = TraceInfo::new(&trace, &path, Format::Philly, Default::default());
                aisc_sim::simulate(&trace, info, &cfg, &mut |_, _| {})
                    .unwrap_or_else(|e| panic!("{e}"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
