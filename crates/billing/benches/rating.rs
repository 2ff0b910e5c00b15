//! Rating usage records: charge at list price, subsidy split and the
//! settlement entry, with and without applying it to an in-memory ledger.

use aisc_billing::ledger::{Ledger, holding, settlement};
use aisc_billing::money::{BasisPoints, Cents};
use aisc_billing::rating::{Price, charge, lien};
use aisc_model::{GrantId, JobId, ProjectId, SchemeId};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const N: usize = 10_000;

/// (gpus, time limit s, used fraction per mille, price cents/GPU-hour, rate bp), deterministic.
fn records() -> Vec<(u32, u64, u64, i64, u16)> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..N)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let gpus = [1, 2, 4, 8, 16, 64][(x % 6) as usize];
            let limit = 60 + (x >> 8) % 86_400;
            (
                gpus,
                limit,
                (x >> 20) % 1001,
                800 + ((x >> 32) % 4000) as i64,
                7000 + ((x >> 40) % 2001) as u16,
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let recs = records();
    let mut g = c.benchmark_group("rating");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("charge_split_entry", |b| {
        b.iter(|| {
            for (i, &(gpus, limit, frac, price, rate)) in recs.iter().enumerate() {
                let price = Price {
                    per_gpu_hour: Cents(price),
                };
                let held = lien(gpus, limit, price);
                let used = charge(u64::from(gpus) * limit * frac, price).min(held);
                let rate = BasisPoints::new(rate).unwrap_or(BasisPoints::FULL);
                black_box(settlement(
                    GrantId(1),
                    JobId(i as i64),
                    held,
                    used,
                    rate,
                    Cents(i64::MAX / 2),
                    ProjectId(1),
                ));
            }
        })
    });
    g.bench_function("lien_and_settle_on_ledger", |b| {
        b.iter_batched(
            || {
                let mut l = Ledger::new();
                let f = l
                    .fund(SchemeId(1), Cents(i64::MAX / 4))
                    .unwrap_or_else(|_| unreachable!());
                l.apply(&f).ok();
                let a = l
                    .approve(
                        SchemeId(1),
                        GrantId(1),
                        Cents(i64::MAX / 8),
                        BasisPoints::FULL,
                    )
                    .ok();
                if let Some(a) = a {
                    l.apply(&a).ok();
                }
                l
            },
            |mut l| {
                for (i, &(gpus, limit, frac, price, rate)) in recs.iter().enumerate() {
                    let job = JobId(i as i64);
                    let price = Price {
                        per_gpu_hour: Cents(price),
                    };
                    let held = lien(gpus, limit, price);
                    l.apply(&holding(GrantId(1), job, held)).ok();
                    let used = charge(u64::from(gpus) * limit * frac, price).min(held);
                    let rate = BasisPoints::new(rate).unwrap_or(BasisPoints::FULL);
                    if let Ok((e, _)) = l.settle(job, used, rate, ProjectId(1)) {
                        l.apply(&e).ok();
                    }
                }
                black_box(l)
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
