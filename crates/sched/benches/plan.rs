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
}

criterion_group!(benches, bench);
criterion_main!(benches);
