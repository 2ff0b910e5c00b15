//! `plan` at the centre's scale: 375 nodes x 8 GPUs in 12 topology groups,
//! about 3,000 running jobs, and 1,000 to 1,000,000 pending jobs whose sizes
//! and durations are drawn from the Philly trace
//! (`../shared/traces/philly/philly.csv`, or `$AISC_PHILLY`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aisc_sched::plan;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

mod common;
use common::scale;

fn bench(c: &mut Criterion) {
    let trace = scale::philly();
    let mut g = c.benchmark_group("plan");
    g.sample_size(20);
    for pending in [1_000usize, 10_000, 100_000, 1_000_000] {
        let snap = scale::snapshot(&trace, pending);
        let now = scale::NOW;
        g.bench_with_input(BenchmarkId::from_parameter(pending), &snap, |b, s| {
            b.iter(|| plan(s, now))
        });
    }
    g.finish();

    // Arrays: 1,000 of the 100,000 entries are arrays of 100 waiting tasks
    // each (199,000 tasks in all), and 100,000 tasks as 1,000 arrays of 100
    // (1,000 entries). An array is one entry however many tasks wait.
    let mut g = c.benchmark_group("plan_arrays");
    g.sample_size(20);
    let mut mixed = scale::snapshot(&trace, 100_000);
    for j in mixed.pending.iter_mut().step_by(100) {
        j.copies = 100;
    }
    let mut only = scale::snapshot(&trace, 1_000);
    for j in &mut only.pending {
        j.copies = 100;
    }
    for (name, snap) in [
        ("100k_jobs_plus_1k_arrays_of_100", &mixed),
        ("1k_arrays_of_100", &only),
    ] {
        g.bench_with_input(BenchmarkId::from_parameter(name), snap, |b, s| {
            b.iter(|| plan(s, scale::NOW))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
