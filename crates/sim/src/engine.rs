//! The discrete-event loop: arrivals and completions (and a policy's own
//! timers) in time order; at each event time, one scheduling pass.
//!
//! Events whose times agree within a relative 1e-9 are one event, as in the
//! published simulators. A job runs at full speed on the GPUs it is given; a
//! preempted job keeps its progress and pays `restart_cost` seconds when it
//! resumes. With Muri's overheads on, every running job also loses its
//! per-event overhead at every event (see [`crate::compat`]).

use crate::cluster::ClusterSpec;
use crate::workload::SimJob;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::Range;
use std::time::{Duration, Instant};

/// Where a job runs: (node, GPUs) pairs.
pub type Alloc = Vec<(u32, u32)>;

/// A job's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not yet submitted.
    Future,
    /// Submitted, not running.
    Waiting,
    /// Holding GPUs.
    Running,
    /// Finished.
    Done,
}

/// What the engine knows of one job.
#[derive(Debug, Clone)]
pub struct JobState {
    /// Its phase.
    pub phase: Phase,
    /// First start (NaN before).
    pub first_start: f64,
    /// Completion (NaN before).
    pub end: f64,
    /// Seconds of work left, as of `checked`.
    pub remaining: f64,
    /// When `remaining` was last brought up to date (while running).
    pub checked: f64,
    /// Times it was preempted.
    pub preemptions: u32,
    /// Where it runs.
    pub alloc: Alloc,
    /// GPU-seconds held, all runs together.
    pub gpu_seconds: f64,
    version: u32,
    moving: bool,
}

impl JobState {
    /// Work left at `now`.
    pub fn remaining_at(&self, now: f64) -> f64 {
        if self.phase == Phase::Running {
            (self.remaining - (now - self.checked)).max(0.0)
        } else {
            self.remaining
        }
    }
}

/// Everything a policy may look at.
#[derive(Debug)]
pub struct World<'a> {
    /// The jobs, in arrival order (a job's index is its id).
    pub jobs: &'a [SimJob],
    /// Their states.
    pub state: Vec<JobState>,
    /// Free GPUs per node.
    pub free: Vec<u32>,
    /// GPUs per node, per pool.
    pub gpus_per_node: Vec<u32>,
    /// Node indices of each pool.
    pub pools: Vec<Range<usize>>,
    /// Running jobs (any order).
    pub running: Vec<u32>,
    running_pos: Vec<u32>,
    /// Jobs waiting.
    pub waiting: usize,
    /// GPUs held.
    pub busy: u64,
}

/// What a pass decides.
#[derive(Debug, Default)]
pub struct Decisions {
    /// Running jobs to stop; they wait again.
    pub preempt: Vec<u32>,
    /// Jobs to run on these GPUs: waiting jobs start, running ones move.
    pub run: Vec<(u32, Alloc)>,
}

/// A scheduling policy under simulation.
pub trait Scheduler {
    /// A job was submitted at `now`.
    fn arrive(&mut self, job: u32, now: f64, world: &World);
    /// A job finished at `now` (its GPUs are already free).
    fn finish(&mut self, job: u32, now: f64, world: &World);
    /// One pass at `now`; false when it could tell at once that nothing can
    /// start, and so did not plan (such passes are not timed).
    fn pass(&mut self, now: f64, world: &World, out: &mut Decisions) -> bool;
    /// The next time the policy wants a pass without an arrival or completion.
    fn next_timer(&self, _world: &World) -> Option<f64> {
        None
    }
    /// A preempted job stopped at `now`.
    fn preempted(&mut self, _job: u32, _now: f64, _world: &World) {}
}

/// One point of the time series.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Time, seconds.
    pub t: f64,
    /// Jobs waiting after the pass.
    pub waiting: u32,
    /// GPUs busy after the pass.
    pub busy: u64,
}

/// Progress, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Simulated time, seconds.
    pub now: f64,
    /// Jobs finished.
    pub done: usize,
    /// Jobs in all.
    pub total: usize,
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// Final state of each job.
    pub state: Vec<JobState>,
    /// Queue and utilisation after each pass.
    pub series: Vec<Sample>,
    /// Wall time of each pass that planned, nanoseconds.
    pub pass_ns: Vec<u64>,
    /// Events (each ends with a pass, planned or not).
    pub events: u64,
    /// Wall time of the whole run.
    pub wall: Duration,
    /// Jobs that could never run (the loop ended with them waiting).
    pub stuck: usize,
}

/// Engine options.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineOptions {
    /// Seconds of work a preempted job redoes when it resumes.
    pub restart_cost: f64,
    /// Charge each job's `overhead` at every event (Muri).
    pub per_event_overhead: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Time(f64);
impl Eq for Time {}
impl Ord for Time {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl PartialOrd for Time {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

fn close(a: f64, b: f64) -> bool {
    a <= b + b.abs().max(1.0) * 1e-9
}

/// Replays `jobs` on `cluster` under `sched`.
pub fn run(
    jobs: &[SimJob],
    cluster: &ClusterSpec,
    sched: &mut dyn Scheduler,
    opts: EngineOptions,
    progress: &mut dyn FnMut(Progress),
) -> Outcome {
    let began = Instant::now();
    let pools = cluster.ranges();
    let mut free = Vec::new();
    for p in &cluster.pools {
        free.extend(std::iter::repeat_n(p.gpus_per_node, p.nodes as usize));
    }
    let mut w = World {
        jobs,
        state: jobs
            .iter()
            .map(|j| JobState {
                phase: Phase::Future,
                first_start: f64::NAN,
                end: f64::NAN,
                remaining: j.duration,
                checked: 0.0,
                preemptions: 0,
                alloc: Vec::new(),
                gpu_seconds: 0.0,
                version: 0,
                moving: false,
            })
            .collect(),
        free,
        gpus_per_node: cluster.pools.iter().map(|p| p.gpus_per_node).collect(),
        pools,
        running: Vec::new(),
        running_pos: vec![u32::MAX; jobs.len()],
        waiting: 0,
        busy: 0,
    };
    let mut ends: BinaryHeap<Reverse<(Time, u32, u32)>> = BinaryHeap::new();
    let mut next = 0usize;
    let mut done = 0usize;
    let mut series = Vec::new();
    let mut pass_ns = Vec::new();
    let mut out = Decisions::default();
    let mut events = 0u64;
    let mut last = 0.0f64;
    loop {
        while let Some(Reverse((_, j, v))) = ends.peek() {
            if live(&w, *j, *v) {
                break;
            }
            ends.pop();
        }
        let ta = jobs.get(next).map(|j| j.submit);
        let tc = ends.peek().map(|Reverse((t, _, _))| t.0);
        // A timer is only for running jobs, and never goes back in time.
        let tt = if w.running.is_empty() {
            None
        } else {
            sched.next_timer(&w).map(|t| t.max(last))
        };
        let Some(now) = [ta, tc, tt].into_iter().flatten().min_by(f64::total_cmp) else {
            break;
        };
        last = now;

        // Completions.
        while let Some(Reverse((t, j, v))) = ends.peek().copied() {
            if !close(t.0, now) {
                break;
            }
            ends.pop();
            if !live(&w, j, v) {
                continue;
            }
            let at = t.0.max(w.state[j as usize].checked);
            release(&mut w, j, at);
            let s = &mut w.state[j as usize];
            s.phase = Phase::Done;
            s.end = at;
            s.remaining = 0.0;
            done += 1;
            sched.finish(j, at, &w);
        }
        // Arrivals.
        while next < jobs.len() && close(jobs[next].submit, now) {
            let j = next as u32;
            w.state[next].phase = Phase::Waiting;
            w.waiting += 1;
            next += 1;
            sched.arrive(j, jobs[j as usize].submit, &w);
        }
        // Muri: every running job loses its overhead at every event.
        if opts.per_event_overhead {
            for &j in &w.running {
                let s = &mut w.state[j as usize];
                let dt = (now - s.checked).max(0.0);
                let gpus: u32 = s.alloc.iter().map(|a| a.1).sum();
                s.gpu_seconds += dt * f64::from(gpus);
                s.remaining = (s.remaining - (dt - jobs[j as usize].overhead).max(0.0)).max(0.0);
                s.checked = now;
            }
        }

        let t0 = Instant::now();
        out.preempt.clear();
        out.run.clear();
        if sched.pass(now, &w, &mut out) {
            pass_ns.push(t0.elapsed().as_nanos() as u64);
        }

        for &j in &out.preempt {
            if w.state[j as usize].phase != Phase::Running {
                continue;
            }
            release(&mut w, j, now);
            let s = &mut w.state[j as usize];
            s.phase = Phase::Waiting;
            s.preemptions += 1;
            s.version += 1;
            w.waiting += 1;
            sched.preempted(j, now, &w);
        }
        // Moves free their old GPUs before anything takes new ones.
        for (j, _) in &out.run {
            if w.state[*j as usize].phase == Phase::Running {
                release(&mut w, *j, now);
                let s = &mut w.state[*j as usize];
                s.phase = Phase::Waiting;
                s.moving = true;
                w.waiting += 1;
            }
        }
        for (j, alloc) in out.run.drain(..) {
            let s = &mut w.state[j as usize];
            debug_assert_eq!(s.phase, Phase::Waiting);
            // A move is not a preemption: it pays no restart.
            if !std::mem::take(&mut s.moving) && s.preemptions > 0 {
                s.remaining += opts.restart_cost;
            }
            if s.first_start.is_nan() {
                s.first_start = now;
            }
            s.phase = Phase::Running;
            s.checked = now;
            s.version += 1;
            let end = now + s.remaining;
            let v = s.version;
            for &(n, g) in &alloc {
                debug_assert!(w.free[n as usize] >= g, "node {n} double-booked");
                w.free[n as usize] -= g;
                w.busy += u64::from(g);
            }
            w.state[j as usize].alloc = alloc;
            w.waiting -= 1;
            w.running_pos[j as usize] = w.running.len() as u32;
            w.running.push(j);
            ends.push(Reverse((Time(end), j, v)));
        }
        if opts.per_event_overhead {
            // Ends moved with the overheads just charged.
            for &j in &w.running {
                let s = &mut w.state[j as usize];
                s.version += 1;
                ends.push(Reverse((Time(now + s.remaining), j, s.version)));
            }
        }
        // Moves and preemptions leave stale entries behind: drop them now and then.
        if ends.len() > 4 * (w.running.len() + 16) {
            ends.retain(|Reverse((_, j, v))| live(&w, *j, *v));
        }
        series.push(Sample {
            t: now,
            waiting: w.waiting as u32,
            busy: w.busy,
        });
        events += 1;
        if events.is_multiple_of(2048) {
            progress(Progress {
                now,
                done,
                total: jobs.len(),
            });
        }
    }
    progress(Progress {
        now: series.last().map_or(0.0, |s| s.t),
        done,
        total: jobs.len(),
    });
    let stuck = w.state.iter().filter(|s| s.phase != Phase::Done).count();
    Outcome {
        state: w.state,
        series,
        pass_ns,
        wall: began.elapsed(),
        events,
        stuck,
    }
}

/// Whether a completion entry (job, version) is still the running job's own.
fn live(w: &World, j: u32, version: u32) -> bool {
    let s = &w.state[j as usize];
    s.version == version && s.phase == Phase::Running
}

/// Frees a running job's GPUs and brings its progress up to `now`.
fn release(w: &mut World, j: u32, now: f64) {
    let s = &mut w.state[j as usize];
    let ran = (now - s.checked).max(0.0);
    s.remaining = (s.remaining - ran).max(0.0);
    s.checked = now;
    let gpus: u32 = s.alloc.iter().map(|a| a.1).sum();
    s.gpu_seconds += ran * f64::from(gpus);
    for &(n, g) in &s.alloc {
        w.free[n as usize] += g;
        w.busy -= u64::from(g);
    }
    s.alloc.clear();
    let pos = w.running_pos[j as usize] as usize;
    w.running.swap_remove(pos);
    if let Some(&moved) = w.running.get(pos) {
        w.running_pos[moved as usize] = pos as u32;
    }
    w.running_pos[j as usize] = u32::MAX;
}
