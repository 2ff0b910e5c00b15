//! The planning pass: order the queue, then place guaranteed jobs (with EASY
//! backfill behind each pool's reservation), then scavenger jobs.

use crate::priority::FairShare;
use crate::state::{Cluster, Mode};
use crate::{PendingJob, Placement, Plan, Preempt, Reservation, Snapshot, Start};
use aisc_model::{PendingReason, ProjectId};
use rustc_hash::FxHashMap;

/// What the pass needs of a pending job, kept compact so that sorting and
/// walking 100,000 of them stays in cache.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The order, packed so that one comparison sorts: see [`order_key`].
    key: u128,
    scavenger: bool,
    id: aisc_model::JobId,
    /// Index into `Snapshot::pending`.
    idx: u32,
    /// Index of its pool, or `u32::MAX` when no node has its class.
    pool: u32,
    /// Index of its shape: jobs of one shape and pool fit in exactly the same places.
    shape: u32,
    // The fields every job's decision reads, copied here so the walk does not
    // touch the snapshot's job unless it must look for a place.
    held: bool,
    project: ProjectId,
    gpus: u32,
    time_limit: u64,
    cost: Option<crate::Cost>,
    copies: u32,
}

/// Per shape: what is known about where it fits during this pass. What is
/// free only shrinks during a pass, so a shape that fails once fails for the
/// rest of it; a shape that fits stays known to fit until something is placed.
#[derive(Debug, Clone, Default)]
struct Memo {
    failed: [bool; 3],
    /// Cannot get a reservation at all.
    never: bool,
    /// Generation at which it was last seen to fit now.
    fits_at: u32,
}

/// The order in which `plan` considers pending jobs, as one number (lower
/// first): guaranteed before scavenger, then higher priority, then earlier
/// submission, then lower id. Priorities saturate at 2^31 and submission
/// times at 2^32 s (the year 2106); ids are unique, so no two keys tie.
pub fn order_key(job: &PendingJob, priority: u64) -> u128 {
    let (scavenger, submit, id) = (!job.qos.is_guaranteed(), job.submit, job.id);
    let prio = (1u128 << 31) - 1 - u128::from(priority.min((1 << 31) - 1));
    let submit = u128::from(submit.min(u64::from(u32::MAX)));
    // Ids are positive; flipping the sign bit keeps their order in an unsigned field.
    let id = u128::from(id.0 as u64 ^ (1 << 63));
    (u128::from(scavenger) << 127) | (prio << 96) | (submit << 64) | id
}

fn mode_ix(mode: Mode) -> usize {
    match mode {
        Mode::Real => 0,
        Mode::Virt => 1,
        Mode::Later => 2,
    }
}

/// Where `job` fits in `mode`, remembering shapes that do not.
fn fits(
    cl: &Cluster,
    memo: &mut Memo,
    nodes: &[usize],
    job: &PendingJob,
    mode: Mode,
) -> Option<Placement> {
    if memo.failed[mode_ix(mode)] {
        return None;
    }
    let found = cl.find(nodes, job, mode);
    if found.is_none() {
        memo.failed[mode_ix(mode)] = true;
    }
    found
}

/// Decides which pending jobs start now and where, which scavenger jobs to
/// preempt, and why every other job waits. `now` is seconds since the epoch.
pub fn plan(snapshot: &Snapshot, now: u64) -> Plan {
    let policy = &snapshot.policy;
    let fs = FairShare::new(&snapshot.projects);

    // Pools: the nodes of each resource class, in index order; pools sorted by class.
    let mut pools: Vec<(Option<&str>, Vec<usize>)> = Vec::new();
    let mut last = usize::MAX;
    for (i, n) in snapshot.nodes.iter().enumerate() {
        let class = n.class.as_deref();
        if pools.get(last).is_none_or(|p| p.0 != class) {
            last = match pools.iter().position(|p| p.0 == class) {
                Some(k) => k,
                None => {
                    pools.push((class, Vec::new()));
                    pools.len() - 1
                }
            };
        }
        pools[last].1.push(i);
    }
    pools.sort_by(|a, b| a.0.cmp(&b.0));
    let pool_ids: Vec<Option<&str>> = pools.iter().map(|p| p.0).collect();
    let pools: Vec<Vec<usize>> = pools.into_iter().map(|p| p.1).collect();

    let mut shapes: FxHashMap<(u32, u32, u32, u64, Option<&str>), u32> = FxHashMap::default();
    let mut last_class: Option<(Option<&str>, u32)> = None;
    let mut order: Vec<Entry> = snapshot
        .pending
        .iter()
        .enumerate()
        .map(|(i, j)| {
            let class = j.class.as_deref();
            let pool = match last_class {
                Some((c, p)) if c == class => p,
                _ => {
                    let p = pool_ids
                        .iter()
                        .position(|c| *c == class)
                        .map_or(u32::MAX, |p| p as u32);
                    last_class = Some((class, p));
                    p
                }
            };
            let key = (
                pool,
                j.request.gpus,
                j.request.cpus,
                j.request.mem_mb,
                j.gpu_type.as_deref(),
            );
            let next = shapes.len() as u32;
            let shape = *shapes.entry(key).or_insert(next);
            let priority = fs.factors(policy, j, now).priority;
            Entry {
                key: order_key(j, priority),
                scavenger: !j.qos.is_guaranteed(),
                id: j.id,
                idx: i as u32,
                pool,
                shape,
                held: j.held,
                project: j.project,
                gpus: j.request.gpus,
                time_limit: j.time_limit,
                cost: j.cost,
                copies: j.copies,
            }
        })
        .collect();
    order.sort_unstable_by_key(|e| e.key);

    let mut out = Plan {
        waiting: Vec::with_capacity(snapshot.pending.len()),
        ..Plan::default()
    };
    if snapshot.engine_unavailable {
        for e in &order {
            let reason = if e.held {
                PendingReason::Held
            } else {
                PendingReason::EngineUnavailable
            };
            out.waiting.push((e.id, reason));
        }
        return out;
    }

    let mut cl = Cluster::new(&snapshot.nodes, &snapshot.running, policy.preemption);
    let mut project_gpus: FxHashMap<ProjectId, u32> = FxHashMap::default();
    for r in &snapshot.running {
        *project_gpus.entry(r.project).or_default() += r.placement.gpu_count();
    }
    let mut available = snapshot.grant_available.clone();
    // Per pool: the reservation's time, or whether strict order blocks it.
    let mut reserved: Vec<Option<u64>> = vec![None; pools.len()];
    let mut blocked = vec![false; pools.len()];
    let mut memo: Vec<Memo> = vec![Memo::default(); shapes.len()];
    // Bumped whenever something is placed: "fits now" answers older than it are stale.
    let mut generation: u32 = 1;
    // Placements chosen this pass, with their ends: a reservation must wait for them too.
    let mut planned: Vec<(u64, Placement)> = Vec::new();

    'jobs: for e in &order {
        let job = &snapshot.pending[e.idx as usize];
        let wait = |out: &mut Plan, r| out.waiting.push((e.id, r));
        // An array's entry starts as many tasks as fit, one after another;
        // the first that does not gives the entry its reason.
        for _ in 0..e.copies {
            if e.held {
                wait(&mut out, PendingReason::Held);
                continue 'jobs;
            }
            if let Some(c) = e.cost
                && available.get(&c.grant).copied().unwrap_or(0) < c.amount
            {
                wait(&mut out, PendingReason::GrantExhausted);
                continue 'jobs;
            }
            if let Some(cap) = snapshot.projects.get(&e.project).and_then(|p| p.max_gpus)
                && project_gpus.get(&e.project).copied().unwrap_or(0) + e.gpus > cap
            {
                wait(&mut out, PendingReason::QuotaLimit);
                continue 'jobs;
            }
            if e.pool == u32::MAX {
                wait(&mut out, PendingReason::Resources);
                continue 'jobs;
            }
            let pool = e.pool as usize;
            let m = &mut memo[e.shape as usize];
            let nodes = &pools[pool];
            let end = now.saturating_add(e.time_limit);

            let (placement, later) = if e.scavenger {
                match fits(&cl, m, nodes, job, Mode::Real) {
                    Some(p) => (p, false),
                    None => {
                        wait(&mut out, PendingReason::Resources);
                        continue 'jobs;
                    }
                }
            } else if blocked[pool] {
                wait(&mut out, PendingReason::Priority);
                continue 'jobs;
            } else if let Some(at) = reserved[pool] {
                let found = if end <= at {
                    // Gone before the reservation starts: anywhere free will do.
                    fits(&cl, m, nodes, job, Mode::Real)
                        .or_else(|| fits(&cl, m, nodes, job, Mode::Virt))
                        .map(|p| (p, false))
                } else {
                    fits(&cl, m, nodes, job, Mode::Later).map(|p| (p, true))
                };
                match found {
                    Some(f) => f,
                    None => {
                        // Reservation if it fits now but would delay the reservation,
                        // Priority if it does not fit now at all.
                        let ok = m.fits_at == generation
                            || (end > at && fits(&cl, m, nodes, job, Mode::Virt).is_some());
                        if ok {
                            m.fits_at = generation;
                            wait(&mut out, PendingReason::Reservation);
                        } else {
                            wait(&mut out, PendingReason::Priority);
                        }
                        continue 'jobs;
                    }
                }
            } else {
                match fits(&cl, m, nodes, job, Mode::Real)
                    .or_else(|| fits(&cl, m, nodes, job, Mode::Virt))
                {
                    Some(p) => (p, false),
                    None => {
                        wait(&mut out, PendingReason::Resources);
                        if !policy.backfill {
                            blocked[pool] = true;
                            continue 'jobs;
                        }
                        if m.never {
                            continue 'jobs;
                        }
                        let in_pool = |p: &Placement| {
                            p.allocs
                                .first()
                                .is_some_and(|a| nodes.binary_search(&a.node).is_ok())
                        };
                        let ends: Vec<(u64, usize, &Placement)> = snapshot
                            .running
                            .iter()
                            .filter(|r| {
                                (r.qos.is_guaranteed() || !policy.preemption)
                                    && in_pool(&r.placement)
                            })
                            .map(|r| (r.end, 0, &r.placement))
                            .chain(
                                planned
                                    .iter()
                                    .enumerate()
                                    .filter(|(_, (_, p))| in_pool(p))
                                    .map(|(k, (e, p))| (*e, k + 1, p)),
                            )
                            .collect();
                        match cl.reserve(nodes, job, &ends, now) {
                            Some((at, placement)) => {
                                reserved[pool] = Some(at);
                                out.reservations.push(Reservation {
                                    job: e.id,
                                    at,
                                    placement,
                                });
                            }
                            None => m.never = true,
                        }
                        continue 'jobs;
                    }
                }
            };

            let taken = cl.take(&placement, later);
            generation += 1;
            for j in &taken.preempted {
                out.preempt.push(Preempt {
                    id: snapshot.running[*j as usize].id,
                    for_job: e.id,
                });
            }
            *project_gpus.entry(e.project).or_default() += placement.gpu_count();
            if let Some(c) = e.cost {
                *available.entry(c.grant).or_insert(0) -= c.amount;
            }
            if taken.waits {
                // It starts once the preempted jobs have stopped; nothing else may take their place.
                wait(&mut out, PendingReason::Resources);
                planned.push((end, placement.clone()));
                out.claims.push(Start {
                    id: e.id,
                    placement,
                });
            } else {
                if !e.scavenger {
                    planned.push((end, placement.clone()));
                }
                out.starts.push(Start {
                    id: e.id,
                    placement,
                });
            }
        }
    }
    out
}
