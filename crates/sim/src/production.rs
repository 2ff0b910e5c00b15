//! The production policy under simulation: the very [`aisc_sched::plan`] the
//! server calls, fed a [`Snapshot`] kept up to date as jobs arrive, start and
//! finish, with fair share counted by [`aisc_sched::Usage`] as the server
//! counts it.
//!
//! What the simulator supplies that the server would read from its store:
//! every tenant is a project with an equal share (one grant each of the same
//! size), no caps, no grant limits (the budget is forecast afterwards), every
//! job `normal` QOS, and a time limit of its run time × `limit_factor`,
//! rounded up to a whole second.

use crate::engine::{Decisions, Scheduler, World};
use aisc_model::{JobId, ProjectId, Resources};
use aisc_sched::{PendingJob, Policy, Qos, RunningJob, Share, Snapshot, Usage};

/// The production policy.
#[derive(Debug)]
pub struct Production {
    snap: Snapshot,
    usage: Usage,
    shares: Vec<Share>,
    /// Per tenant: GPUs running, and the sum of GPUs × start (ms) of its running jobs.
    running_by_tenant: Vec<(i64, i64)>,
    run_pos: Vec<u32>,
    pend_pos: Vec<u32>,
    limit_factor: f64,
    classes: Vec<String>,
    /// Per pool: GPU requests of pending jobs, and how many ask for each.
    requests: Vec<std::collections::BTreeMap<u32, u32>>,
}

fn job_id(j: u32) -> JobId {
    JobId(i64::from(j) + 1)
}

fn index(id: JobId) -> u32 {
    (id.0 - 1) as u32
}

fn ms(t: f64) -> i64 {
    (t * 1000.0).round() as i64
}

impl Production {
    /// The policy for `world`'s cluster, with `tenants` equal shares.
    pub fn new(
        policy: Policy,
        cluster: &crate::cluster::ClusterSpec,
        jobs: usize,
        tenants: usize,
        limit_factor: f64,
    ) -> Self {
        let nodes = cluster.nodes();
        Production {
            snap: Snapshot {
                policy,
                nodes,
                ..Snapshot::default()
            },
            usage: Usage::new(policy.half_life_s),
            shares: (0..tenants)
                .map(|t| Share {
                    project: ProjectId(t as i64 + 1),
                    shares: 1_000,
                    max_gpus: None,
                })
                .collect(),
            running_by_tenant: vec![(0, 0); tenants],
            run_pos: vec![u32::MAX; jobs],
            pend_pos: vec![u32::MAX; jobs],
            limit_factor,
            classes: cluster.classes(),
            requests: vec![Default::default(); cluster.pools.len()],
        }
    }

    /// Whether some pending job might fit now. A job of at most one node's GPUs
    /// needs one node with that many free; a larger one needs that many GPUs on
    /// wholly free nodes (sched places it on whole nodes). When no job passes
    /// this test, `plan` would start nothing, so the pass is skipped: the
    /// decisions are the same, only sooner.
    fn anything_fits(&self, w: &World) -> bool {
        self.requests.iter().enumerate().any(|(p, reqs)| {
            let Some((&smallest, _)) = reqs.first_key_value() else {
                return false;
            };
            let per_node = w.gpus_per_node[p];
            let range = w.pools[p].clone();
            let (mut max_free, mut whole) = (0u32, 0u64);
            for n in range {
                max_free = max_free.max(w.free[n]);
                whole += u64::from(w.free[n] == per_node);
            }
            if smallest <= per_node && smallest <= max_free {
                return true;
            }
            reqs.range(per_node + 1..)
                .next()
                .is_some_and(|(&g, _)| u64::from(g) <= whole * u64::from(per_node))
        })
    }

    fn time_limit(&self, duration: f64) -> u64 {
        ((duration * self.limit_factor).ceil() as u64).max(1)
    }
}

impl Scheduler for Production {
    fn arrive(&mut self, j: u32, _now: f64, w: &World) {
        let job = &w.jobs[j as usize];
        *self.requests[job.pool as usize]
            .entry(job.gpus)
            .or_default() += 1;
        self.pend_pos[j as usize] = self.snap.pending.len() as u32;
        self.snap.pending.push(PendingJob {
            id: job_id(j),
            project: ProjectId(i64::from(job.tenant) + 1),
            qos: Qos::Normal,
            submit: job.submit.floor() as u64,
            request: Resources {
                gpus: job.gpus,
                cpus: 0,
                mem_mb: 0,
            },
            gpu_type: None,
            class: Some(self.classes[job.pool as usize].clone()),
            time_limit: self.time_limit(job.duration),
            held: false,
            cost: None,
            copies: 1,
        });
    }

    fn finish(&mut self, j: u32, now: f64, w: &World) {
        let pos = self.run_pos[j as usize] as usize;
        let r = self.snap.running.swap_remove(pos);
        if let Some(moved) = self.snap.running.get(pos) {
            self.run_pos[index(moved.id) as usize] = pos as u32;
        }
        self.run_pos[j as usize] = u32::MAX;
        let job = &w.jobs[j as usize];
        let gpus = i64::from(job.gpus);
        let t = &mut self.running_by_tenant[job.tenant as usize];
        let start_ms = r.start as i64 * 1000;
        t.0 -= gpus;
        t.1 -= gpus * start_ms;
        let gpu_ms = (ms(now) - start_ms).max(0) as u64 * job.gpus as u64;
        self.usage.record(r.project, gpu_ms, ms(now));
    }

    fn pass(&mut self, now: f64, w: &World, out: &mut Decisions) -> bool {
        if self.snap.pending.is_empty() || !self.anything_fits(w) {
            return false;
        }
        let now_s = now.floor() as u64;
        let now_ms = now_s as i64 * 1000;
        let running = self
            .running_by_tenant
            .iter()
            .enumerate()
            .filter(|(_, r)| r.0 > 0)
            .map(|(t, r)| (ProjectId(t as i64 + 1), r.0 * now_ms - r.1));
        self.snap.projects = self
            .usage
            .projects(now_ms, self.shares.iter().copied(), running);
        let plan = aisc_sched::plan(&self.snap, now_s);
        for start in plan.starts {
            let j = index(start.id);
            let pos = self.pend_pos[j as usize] as usize;
            let p = self.snap.pending.swap_remove(pos);
            if let Some(moved) = self.snap.pending.get(pos) {
                self.pend_pos[index(moved.id) as usize] = pos as u32;
            }
            self.pend_pos[j as usize] = u32::MAX;
            let alloc = start
                .placement
                .allocs
                .iter()
                .map(|a| (a.node as u32, a.gpus.len() as u32))
                .collect();
            let job = &w.jobs[j as usize];
            let reqs = &mut self.requests[job.pool as usize];
            if let Some(c) = reqs.get_mut(&job.gpus) {
                *c -= 1;
                if *c == 0 {
                    reqs.remove(&job.gpus);
                }
            }
            let tenant = job.tenant as usize;
            let gpus = i64::from(p.request.gpus);
            self.running_by_tenant[tenant].0 += gpus;
            self.running_by_tenant[tenant].1 += gpus * now_ms;
            self.run_pos[j as usize] = self.snap.running.len() as u32;
            self.snap.running.push(RunningJob {
                id: p.id,
                project: p.project,
                qos: p.qos,
                placement: start.placement,
                start: now_s,
                end: now_s + p.time_limit,
                stopping: false,
            });
            out.run.push((j, alloc));
        }
        // Every simulated job is `normal` QOS, so nothing is ever preempted.
        debug_assert!(plan.preempt.is_empty());
        true
    }
}
