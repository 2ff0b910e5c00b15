//! The core's pass over jobs waiting for others (`Core::dependencies`) at the
//! issue's scale: 100,000 pending jobs, of which 10,000 wait for another
//! job (10,000 dependency edges: half on jobs that still wait, half on jobs
//! the driver reports running). The steady state is measured: nothing
//! changes, every waiting job keeps waiting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aisc_control::Queued;
use aisc_control::core::{Core, EngineTerms};
use aisc_model::dependency::{Dependency, Seen};
use aisc_model::{JobCommand, JobId, JobSpec, Resources, UserId};
use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::HashMap;

fn job(id: i64, dependency: Option<Dependency>) -> Queued {
    let resources = Resources {
        gpus: 1,
        cpus: 1,
        mem_mb: 1024,
    };
    let command = JobCommand::Argv(vec!["true".into()]);
    Queued {
        id: JobId(id),
        user: "u".into(),
        owner: UserId(id % 500),
        org: None,
        spec: JobSpec {
            dependency,
            ..JobSpec::new(&format!("j{}", id % 1000), command, "/tmp", resources, 3600)
        },
        held: false,
        project: None,
        charging: None,
        submit_ms: 0,
        restarts: 0,
    }
}

fn bench(c: &mut Criterion) {
    let mut core = Core::new(EngineTerms {
        limits_by_aisc: true,
        queue_depth: None,
        grace_ms: 30_000,
    });
    let mut ended = HashMap::new();
    for id in 1..=100_000i64 {
        let dep = (id % 10 == 0).then(|| {
            // Half wait for a job that waits (id - 1), half for one that ended.
            let target = if id % 20 == 0 { id - 1 } else { 1_000_000 + id };
            Dependency::parse(&format!("afterok:{target}")).expect("a dependency")
        });
        if id % 20 != 0 && id % 10 == 0 {
            // Known to the driver, and still running: its dependent waits.
            ended.insert(JobId(1_000_000 + id).into(), Seen::Running(0));
        }
        core.queue.insert(job(id, dep));
    }
    let mut g = c.benchmark_group("dependencies");
    g.sample_size(20);
    core.dependencies(&ended, 1);
    g.bench_function("100k pending, 10k edges: one pass", |b| {
        b.iter(|| core.dependencies(&ended, 2))
    });
    g.bench_function("100k pending, 10k edges: targets to look up", |b| {
        b.iter(|| core.dependency_targets())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
