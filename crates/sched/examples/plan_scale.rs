//! One `plan` pass at the centre's scale, with what it allocates: prints the
//! time per pass (median of several) and the bytes allocated (peak above the
//! snapshot) for 1,000 to 1,000,000 pending jobs.
//!
//! `cargo run --release -p aisc-sched --example plan_scale [PENDING...]`
#![allow(clippy::unwrap_used, clippy::expect_used)]
// A counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to the system allocator.
#![allow(unsafe_code)]

#[path = "../benches/common/scale.rs"]
mod scale;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

struct Counting;
static NOW_BYTES: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = NOW_BYTES.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK_BYTES.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        NOW_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("PENDING must be a number"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    let trace = scale::philly();
    println!("pending     running  starts  waiting  p50 ms   min ms   peak MiB above snapshot");
    for n in sizes {
        let snap = scale::snapshot(&trace, n);
        let runs = if n >= 1_000_000 { 5 } else { 21 };
        let mut times = Vec::new();
        let mut peak = 0;
        let mut last = None;
        for _ in 0..runs {
            let base = NOW_BYTES.load(Ordering::Relaxed);
            PEAK_BYTES.store(base, Ordering::Relaxed);
            let t = Instant::now();
            let p = aisc_sched::plan(&snap, scale::NOW);
            times.push(t.elapsed().as_secs_f64() * 1e3);
            peak = peak.max(PEAK_BYTES.load(Ordering::Relaxed) - base);
            last = Some(p);
        }
        times.sort_by(f64::total_cmp);
        let p = last.unwrap();
        println!(
            "{n:<11} {:<8} {:<7} {:<8} {:<8.2} {:<8.2} {:.1}",
            snap.running.len(),
            p.starts.len(),
            p.waiting.len(),
            times[times.len() / 2],
            times[0],
            peak as f64 / (1 << 20) as f64
        );
    }
}
