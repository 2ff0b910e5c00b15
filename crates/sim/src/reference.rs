//! Reference policies, for comparison with the production one. They place
//! jobs the way the published simulators do ("consolidated", as Microsoft's
//! YARN scheduler in the Tiresias and Muri simulators): a job of up to one
//! node's GPUs goes on the first node with room; a larger one takes whole free
//! nodes, first first, plus one node with room for the rest. All or nothing.
//!
//! - `fifo`: arrival order; the first job that does not fit blocks the rest.
//! - `fifo-backfill`: arrival order with EASY backfill on true run times: the
//!   first blocked job of a pool gets the earliest time enough GPUs free up;
//!   later jobs start if they end before it or use only GPUs it leaves spare.
//! - `sjf`: shortest run time first (an oracle), any job that fits, not preemptive.
//! - `srtf`, `srsf`: preemptive, shortest remaining time (× GPUs for srsf) first;
//!   every runnable job is re-placed at every event, so a running job may move
//!   (free) or stop (preempted).
//! - `tiresias`: 2D-LAS: queues by attained GPU-seconds (default one threshold,
//!   18,000), first-come first-served within a queue, preemptive, blind to run times.

use crate::engine::{Alloc, Decisions, Phase, Scheduler, World};
use std::ops::Range;

/// Which reference policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// First come, first served, head-of-line blocking.
    Fifo,
    /// First come, first served with EASY backfill.
    FifoBackfill,
    /// Shortest job first.
    Sjf,
    /// Shortest remaining time first.
    Srtf,
    /// Shortest remaining service (time × GPUs) first.
    Srsf,
    /// 2D-LAS with these queue thresholds (GPU-seconds); `count_only`: place by free-GPU count alone.
    Tiresias {
        /// Thresholds between queues, ascending.
        thresholds: Vec<f64>,
        /// Ignore nodes: a job runs if the pool has enough free GPUs (as Muri's Tiresias).
        count_only: bool,
    },
}

/// A reference policy's state.
#[derive(Debug)]
pub struct Reference {
    kind: Kind,
    /// Waiting (non-preemptive) or runnable (preemptive) jobs, in the policy's order.
    queue: Vec<u32>,
    /// Tiresias: the queues, and per job its queue, attained wall time and last check.
    las: Vec<Vec<u32>>,
    las_q: Vec<u8>,
    executed: Vec<f64>,
    checked: Vec<f64>,
    scratch: Vec<u32>,
}

impl Reference {
    /// A policy for `jobs` jobs.
    pub fn new(kind: Kind, jobs: usize) -> Self {
        let queues = match &kind {
            Kind::Tiresias { thresholds, .. } => thresholds.len() + 1,
            _ => 0,
        };
        Reference {
            kind,
            queue: Vec::new(),
            las: vec![Vec::new(); queues],
            las_q: vec![0; jobs],
            executed: vec![0.0; jobs],
            checked: vec![0.0; jobs],
            scratch: Vec::new(),
        }
    }
}

/// Consolidated first-fit placement of `need` GPUs on `nodes` (each of `per_node` GPUs).
pub fn place(free: &mut [u32], nodes: Range<usize>, per_node: u32, need: u32) -> Option<Alloc> {
    if need <= per_node {
        let n = nodes.clone().find(|&n| free[n] >= need)?;
        free[n] -= need;
        return Some(vec![(n as u32, need)]);
    }
    let whole = (need / per_node) as usize;
    let rest = need % per_node;
    let mut picked: Vec<usize> = nodes
        .clone()
        .filter(|&n| free[n] == per_node)
        .take(whole)
        .collect();
    if picked.len() < whole {
        return None;
    }
    let mut alloc: Alloc = picked.iter().map(|&n| (n as u32, per_node)).collect();
    if rest > 0 {
        let n = nodes
            .clone()
            .find(|n| free[*n] >= rest && !picked.contains(n))?;
        picked.push(n);
        alloc.push((n as u32, rest));
    }
    for &(n, g) in &alloc {
        free[n as usize] -= g;
    }
    Some(alloc)
}

/// Any free GPUs of the pool, node by node, if it has `need` in all.
fn place_count(free: &mut [u32], nodes: Range<usize>, need: u32) -> Option<Alloc> {
    let total: u64 = nodes.clone().map(|n| u64::from(free[n])).sum();
    if total < u64::from(need) {
        return None;
    }
    let mut left = need;
    let mut alloc = Vec::new();
    for n in nodes {
        if left == 0 {
            break;
        }
        let g = free[n].min(left);
        if g > 0 {
            free[n] -= g;
            left -= g;
            alloc.push((n as u32, g));
        }
    }
    Some(alloc)
}

impl Reference {
    fn preemptive(&self) -> bool {
        matches!(self.kind, Kind::Srtf | Kind::Srsf | Kind::Tiresias { .. })
    }

    /// Non-preemptive passes: start what the order allows on what is free.
    fn pass_waiting(&mut self, now: f64, w: &World, out: &mut Decisions) {
        self.scratch.clone_from(&w.free);
        let pools = w.pools.len();
        let mut blocked = vec![false; pools];
        // Per pool, once its first job is blocked: (shadow time, spare GPUs then).
        let mut shadow: Vec<Option<(f64, i64)>> = vec![None; pools];
        let backfill = self.kind == Kind::FifoBackfill;
        let head_blocks = matches!(self.kind, Kind::Fifo | Kind::FifoBackfill);
        let mut started = Vec::new();
        let mut free: Vec<u64> = w
            .pools
            .iter()
            .map(|r| r.clone().map(|n| u64::from(w.free[n])).sum())
            .collect();
        for &j in &self.queue {
            if free.iter().all(|f| *f == 0) {
                break;
            }
            let job = &w.jobs[j as usize];
            let pool = job.pool as usize;
            if blocked[pool] {
                continue;
            }
            let range = w.pools[pool].clone();
            let per_node = w.gpus_per_node[pool];
            let enough_free = free[pool] >= u64::from(job.gpus);
            if let Some((at, spare)) = shadow[pool] {
                let ends_in_time = now + job.duration <= at;
                if !enough_free || (!ends_in_time && i64::from(job.gpus) > spare) {
                    continue;
                }
                if let Some(a) = place(&mut self.scratch, range, per_node, job.gpus) {
                    if !ends_in_time {
                        shadow[pool] = Some((at, spare - i64::from(job.gpus)));
                    }
                    free[pool] -= u64::from(job.gpus);
                    started.push((j, a));
                }
                continue;
            }
            let placed = if enough_free {
                place(&mut self.scratch, range.clone(), per_node, job.gpus)
            } else {
                None
            };
            // The first job of a pool that cannot start: FIFO stops there, backfill reserves.
            match placed {
                Some(a) => {
                    free[pool] -= u64::from(job.gpus);
                    started.push((j, a));
                }
                None if backfill => {
                    shadow[pool] = Some(shadow_of(w, &self.scratch, range, pool, job.gpus, now));
                }
                None if head_blocks => blocked[pool] = true,
                None => {}
            }
        }
        if !started.is_empty() {
            let gone: rustc_hash::FxHashSet<u32> = started.iter().map(|s| s.0).collect();
            self.queue.retain(|j| !gone.contains(j));
            out.run.extend(started);
        }
    }

    /// Preemptive passes: re-place every runnable job in order from an empty machine.
    fn pass_runnable(&mut self, w: &World, out: &mut Decisions, order: &[u32]) {
        self.scratch.clear();
        for (p, r) in w.pools.iter().enumerate() {
            self.scratch
                .extend(std::iter::repeat_n(w.gpus_per_node[p], r.len()));
        }
        let mut left: Vec<u64> = w
            .pools
            .iter()
            .enumerate()
            .map(|(p, r)| r.len() as u64 * u64::from(w.gpus_per_node[p]))
            .collect();
        let mut full = 0usize;
        let count_only = matches!(
            self.kind,
            Kind::Tiresias {
                count_only: true,
                ..
            }
        );
        for &j in order {
            let job = &w.jobs[j as usize];
            let pool = job.pool as usize;
            let running = w.state[j as usize].phase == Phase::Running;
            let placed = if full == w.pools.len() || left[pool] < u64::from(job.gpus) {
                None
            } else {
                let range = w.pools[pool].clone();
                if count_only {
                    place_count(&mut self.scratch, range, job.gpus)
                } else {
                    place(&mut self.scratch, range, w.gpus_per_node[pool], job.gpus)
                }
            };
            match placed {
                Some(a) => {
                    left[pool] -= u64::from(job.gpus);
                    if left[pool] == 0 {
                        full += 1;
                    }
                    if !running || a != w.state[j as usize].alloc {
                        out.run.push((j, a));
                    }
                }
                None if running => out.preempt.push(j),
                None => {}
            }
        }
    }
}

/// EASY's shadow time for a job of `need` GPUs in `pool`: when running jobs'
/// ends (true run times) first free enough GPUs, and how many it leaves spare.
fn shadow_of(
    w: &World,
    free: &[u32],
    range: Range<usize>,
    pool: usize,
    need: u32,
    now: f64,
) -> (f64, i64) {
    let mut avail: i64 = range.clone().map(|n| i64::from(free[n])).sum();
    let mut ends: Vec<(f64, i64)> = w
        .running
        .iter()
        .filter(|&&r| w.jobs[r as usize].pool as usize == pool)
        .map(|&r| {
            let s = &w.state[r as usize];
            (
                now + s.remaining_at(now),
                i64::from(w.jobs[r as usize].gpus),
            )
        })
        .collect();
    ends.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (t, g) in ends {
        avail += g;
        if avail >= i64::from(need) {
            return (t, avail - i64::from(need));
        }
    }
    (f64::INFINITY, 0)
}

impl Scheduler for Reference {
    fn arrive(&mut self, j: u32, now: f64, w: &World) {
        match &self.kind {
            Kind::Sjf => {
                let d = w.jobs[j as usize].duration;
                let at = self
                    .queue
                    .partition_point(|&q| w.jobs[q as usize].duration <= d);
                self.queue.insert(at, j);
            }
            Kind::Tiresias { .. } => {
                self.las[0].push(j);
                self.las_q[j as usize] = 0;
                self.checked[j as usize] = now;
            }
            _ => self.queue.push(j),
        }
    }

    fn finish(&mut self, j: u32, _now: f64, _w: &World) {
        if self.preemptive() {
            if let Kind::Tiresias { .. } = self.kind {
                let q = self.las_q[j as usize] as usize;
                self.las[q].retain(|&x| x != j);
            } else {
                self.queue.retain(|&x| x != j);
            }
        }
    }

    fn pass(&mut self, now: f64, w: &World, out: &mut Decisions) -> bool {
        match self.kind {
            Kind::Fifo | Kind::FifoBackfill | Kind::Sjf => self.pass_waiting(now, w, out),
            Kind::Srtf | Kind::Srsf => {
                let gpu = self.kind == Kind::Srsf;
                // Stable: ties keep the order of the last pass, as in the published simulators.
                let mut keyed: Vec<(f64, u32)> = self
                    .queue
                    .iter()
                    .map(|&j| {
                        let r = w.state[j as usize].remaining_at(now);
                        let g = if gpu {
                            f64::from(w.jobs[j as usize].gpus)
                        } else {
                            1.0
                        };
                        (r * g, j)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
                self.queue.clear();
                self.queue.extend(keyed.iter().map(|k| k.1));
                let order = std::mem::take(&mut self.queue);
                self.pass_runnable(w, out, &order);
                self.queue = order;
            }
            Kind::Tiresias { ref thresholds, .. } => {
                // Attained service of running jobs; demote at most one queue per event.
                for q in 0..self.las.len() {
                    let mut i = 0;
                    while i < self.las[q].len() {
                        let j = self.las[q][i] as usize;
                        if w.state[j].phase == Phase::Running {
                            self.executed[j] += now - self.checked[j];
                        }
                        self.checked[j] = now;
                        let attained = self.executed[j] * f64::from(w.jobs[j].gpus);
                        if w.state[j].phase == Phase::Running
                            && q < thresholds.len()
                            && self.las_q[j] as usize == q
                            // Within a rounding error of the threshold counts as over it,
                            // or the timer set for this moment would fire again and again.
                            && attained >= thresholds[q] * (1.0 - 1e-9)
                        {
                            self.las[q].remove(i);
                            self.las[q + 1].push(j as u32);
                            self.las_q[j] = (q + 1) as u8;
                            continue;
                        }
                        i += 1;
                    }
                }
                let order: Vec<u32> = self.las.iter().flatten().copied().collect();
                self.pass_runnable(w, out, &order);
                // Within each queue, jobs that will run go first; waiting ones keep their order behind.
                let stopped: rustc_hash::FxHashSet<u32> = out.preempt.iter().copied().collect();
                let runs: rustc_hash::FxHashSet<u32> = out
                    .run
                    .iter()
                    .map(|r| r.0)
                    .chain(w.running.iter().copied().filter(|j| !stopped.contains(j)))
                    .collect();
                for q in &mut self.las {
                    let (mut run, wait): (Vec<u32>, Vec<u32>) =
                        q.iter().partition(|j| runs.contains(j));
                    run.extend(wait);
                    *q = run;
                }
            }
        }
        true
    }

    fn next_timer(&self, w: &World) -> Option<f64> {
        let Kind::Tiresias { thresholds, .. } = &self.kind else {
            return None;
        };
        w.running
            .iter()
            .filter_map(|&j| {
                let q = self.las_q[j as usize] as usize;
                let limit = thresholds.get(q)?;
                let gpus = f64::from(w.jobs[j as usize].gpus);
                Some((limit / gpus).ceil() - self.executed[j as usize] + self.checked[j as usize])
            })
            .min_by(f64::total_cmp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_jobs_take_the_first_node_with_room_and_large_ones_whole_nodes() {
        let mut free = vec![8, 3, 8, 8];
        assert_eq!(place(&mut free, 0..4, 8, 4), Some(vec![(0, 4)]));
        assert_eq!(place(&mut free, 0..4, 8, 3), Some(vec![(0, 3)]));
        assert_eq!(place(&mut free, 0..4, 8, 12), Some(vec![(2, 8), (3, 4)]));
        assert_eq!(free, vec![1, 3, 0, 4]);
        assert_eq!(place(&mut free, 0..4, 8, 8), None);
        assert_eq!(free, vec![1, 3, 0, 4], "a failed placement takes nothing");
        assert_eq!(
            place_count(&mut free, 0..4, 6),
            Some(vec![(0, 1), (1, 3), (3, 2)])
        );
        assert_eq!(place_count(&mut free, 0..4, 3), None);
    }
}
