//! What is free on each node while a plan is made, and the searches for a
//! place to put a job.
//!
//! Each GPU has an owner: free, busy (guaranteed work, or planned this pass),
//! or a running scavenger job. Guaranteed jobs are planned on the *virtual*
//! view, in which scavenger-held resources count as free; scavenger jobs on the
//! *real* view, in which they do not. CPUs and memory held by scavenger jobs
//! are kept apart for the same reason; the real view subtracts them, which may
//! undercount what is free after a preemption (never overcount it).

use crate::{Alloc, Node, PendingJob, Placement, RunningJob};
use smallvec::{SmallVec, smallvec};

/// The owners of one node's GPUs: inline up to 8 GPUs, so that building the
/// cluster for a pass allocates nothing per node.
pub(crate) type Owners = SmallVec<[Owner; 8]>;

/// Who holds a GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Free,
    Busy,
    /// A running scavenger job (index into `Snapshot::running`).
    Scav(u32),
}

/// Which view a search looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Mode {
    /// Only what is free now.
    Real,
    /// What is free now if scavenger jobs were preempted.
    Virt,
    /// Free now (virtually) and still free at the pool's reservation time.
    Later,
}

/// One node's free resources.
#[derive(Debug, Clone)]
pub(crate) struct NodeFree {
    pub owner: Owners,
    /// GPUs owned by nobody.
    pub free_gpus: u32,
    /// GPUs owned by scavenger jobs.
    pub scav_gpus: u32,
    /// GPUs owned by scavenger jobs that are stopping or preempted by this plan.
    pub dying_gpus: u32,
    /// CPUs not held by guaranteed work.
    pub cpus: u32,
    /// Memory not held by guaranteed work, MiB.
    pub mem: u64,
    /// CPUs and memory held by scavenger jobs.
    pub scav_cpus: u32,
    pub scav_mem: u64,
    /// Takes new work.
    pub open: bool,
}

impl NodeFree {
    fn empty(node: &Node) -> Self {
        NodeFree {
            owner: smallvec![Owner::Free; node.capacity.gpus as usize],
            free_gpus: node.capacity.gpus,
            scav_gpus: 0,
            dying_gpus: 0,
            cpus: node.capacity.cpus,
            mem: node.capacity.mem_mb,
            scav_cpus: 0,
            scav_mem: 0,
            open: node.state == crate::NodeState::Up,
        }
    }

    /// The node as it will be once every scavenger job has gone: what a
    /// reservation is computed on.
    fn without_scavengers(&self) -> Self {
        NodeFree {
            owner: self
                .owner
                .iter()
                .map(|o| match o {
                    Owner::Busy => Owner::Busy,
                    _ => Owner::Free,
                })
                .collect(),
            free_gpus: self.free_gpus + self.scav_gpus,
            scav_gpus: 0,
            dying_gpus: 0,
            cpus: self.cpus,
            mem: self.mem,
            scav_cpus: 0,
            scav_mem: 0,
            open: self.open,
        }
    }

    fn usable_now(&self, g: usize, mode: Mode) -> bool {
        match self.owner[g] {
            Owner::Free => true,
            Owner::Scav(_) => mode != Mode::Real,
            Owner::Busy => false,
        }
    }

    fn release(&mut self, a: &Alloc) {
        for g in &a.gpus {
            if let Some(o) = self.owner.get_mut(*g as usize)
                && *o == Owner::Busy
            {
                *o = Owner::Free;
                self.free_gpus += 1;
            }
        }
        self.cpus += a.cpus;
        self.mem += a.mem_mb;
    }
}

/// Free resources of every node, plus the reservation-time view of pools with a reservation.
#[derive(Debug)]
pub(crate) struct Cluster<'a> {
    pub nodes: &'a [Node],
    pub running: &'a [RunningJob],
    pub now: Vec<NodeFree>,
    /// Per node: what is free at its pool's reservation time, once the reservation holds its share.
    pub later: Vec<Option<NodeFree>>,
    /// Per node with a reservation-time view: GPUs usable now (virtually) and
    /// still free then; kept up to date by `reserve` and `take`.
    later_gpus: Vec<u32>,
    /// Running scavenger jobs per node (indices into `running`).
    scav_on: Vec<Vec<u32>>,
    /// Running jobs that are stopping, or preempted by this plan.
    dying: Vec<bool>,
}

/// What the resources a job holds came from.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    /// Scavenger jobs this placement newly preempts (indices into `running`).
    pub preempted: Vec<u32>,
    /// Some of it is still held by scavenger jobs that are stopping.
    pub waits: bool,
}

impl<'a> Cluster<'a> {
    /// The cluster with every running job in place. With preemption off, scavenger jobs count as busy.
    pub fn new(nodes: &'a [Node], running: &'a [RunningJob], preemption: bool) -> Self {
        let mut now: Vec<NodeFree> = nodes.iter().map(NodeFree::empty).collect();
        let mut scav_on = vec![Vec::new(); nodes.len()];
        let mut dying = vec![false; running.len()];
        for (i, r) in running.iter().enumerate() {
            let scav = preemption && !r.qos.is_guaranteed();
            dying[i] = scav && r.stopping;
            for a in &r.placement.allocs {
                let Some(n) = now.get_mut(a.node) else {
                    continue;
                };
                for g in &a.gpus {
                    if let Some(o) = n.owner.get_mut(*g as usize)
                        && *o == Owner::Free
                    {
                        n.free_gpus -= 1;
                        if scav {
                            *o = Owner::Scav(i as u32);
                            n.scav_gpus += 1;
                            if dying[i] {
                                n.dying_gpus += 1;
                            }
                        } else {
                            *o = Owner::Busy;
                        }
                    }
                }
                if scav {
                    n.scav_cpus += a.cpus;
                    n.scav_mem += a.mem_mb;
                    scav_on[a.node].push(i as u32);
                } else {
                    n.cpus = n.cpus.saturating_sub(a.cpus);
                    n.mem = n.mem.saturating_sub(a.mem_mb);
                }
            }
        }
        Cluster {
            nodes,
            running,
            later: vec![None; nodes.len()],
            later_gpus: vec![0; nodes.len()],
            now,
            scav_on,
            dying,
        }
    }

    /// GPUs, CPUs and memory usable on node `n` in `mode`.
    fn avail(&self, n: usize, mode: Mode) -> (u32, u32, u64) {
        let f = &self.now[n];
        match mode {
            Mode::Real => (
                f.free_gpus,
                f.cpus.saturating_sub(f.scav_cpus),
                f.mem.saturating_sub(f.scav_mem),
            ),
            Mode::Virt => (f.free_gpus + f.scav_gpus, f.cpus, f.mem),
            Mode::Later => match &self.later[n] {
                None => (0, 0, 0),
                Some(l) => (self.later_gpus[n], f.cpus.min(l.cpus), f.mem.min(l.mem)),
            },
        }
    }

    /// Recounts node `n`'s GPUs usable now and free at its reservation time.
    fn recount_later(&mut self, n: usize) {
        let f = &self.now[n];
        self.later_gpus[n] = match &self.later[n] {
            None => 0,
            Some(l) => (0..f.owner.len())
                .filter(|g| f.usable_now(*g, Mode::Virt) && l.owner[*g] == Owner::Free)
                .count() as u32,
        };
    }

    fn usable(&self, n: usize, g: usize, mode: Mode) -> bool {
        let now = self.now[n].usable_now(g, mode);
        match mode {
            Mode::Later => {
                now && self.later[n]
                    .as_ref()
                    .is_some_and(|l| l.owner[g] == Owner::Free)
            }
            _ => now,
        }
    }

    fn type_ok(&self, n: usize, job: &PendingJob) -> bool {
        match (&job.gpu_type, &self.nodes[n].gpu_type) {
            (Some(want), Some(have)) => want.eq_ignore_ascii_case(have),
            (Some(_), None) => false,
            (None, _) => true,
        }
    }

    /// The most GPUs one node of `pool` (of the job's GPU type) has.
    pub fn max_node_gpus(&self, pool: &[usize], job: &PendingJob) -> u32 {
        pool.iter()
            .filter(|n| self.type_ok(**n, job))
            .map(|n| self.nodes[*n].capacity.gpus)
            .max()
            .unwrap_or(0)
    }

    /// Where `job` fits in `mode` among `pool`'s nodes: on one node when it
    /// fits one, else on whole nodes.
    pub fn find(&self, pool: &[usize], job: &PendingJob, mode: Mode) -> Option<Placement> {
        if job.request.gpus <= self.max_node_gpus(pool, job) {
            self.find_single(pool, job, mode)
        } else {
            self.find_whole(pool, job, mode)
        }
    }

    fn find_single(&self, pool: &[usize], job: &PendingJob, mode: Mode) -> Option<Placement> {
        let r = &job.request;
        let mut best: Option<((u32, u32, usize), usize)> = None;
        for &n in pool {
            if !self.now[n].open || !self.type_ok(n, job) {
                continue;
            }
            let (gpus, cpus, mem) = self.avail(n, mode);
            if gpus < r.gpus || cpus < r.cpus || mem < r.mem_mb {
                continue;
            }
            let f = &self.now[n];
            // Prefer taking nothing from live scavenger jobs, then the tightest fit.
            let from_live_scav = match mode {
                Mode::Real => 0,
                _ => r.gpus.saturating_sub(f.free_gpus + f.dying_gpus),
            };
            let key = (from_live_scav, gpus - r.gpus, n);
            if best.is_none_or(|(k, _)| key < k) {
                best = Some((key, n));
                if key.0 == 0 && key.1 == 0 {
                    break;
                }
            }
        }
        let (_, n) = best?;
        Some(Placement::on_node(
            n,
            self.pick_gpus(n, r.gpus, mode),
            r.cpus,
            r.mem_mb,
        ))
    }

    /// `count` usable GPUs of node `n`: free ones first, then those of dying
    /// scavenger jobs, then those of live ones.
    fn pick_gpus(&self, n: usize, count: u32, mode: Mode) -> Vec<u32> {
        let f = &self.now[n];
        let rank = |g: usize| match f.owner[g] {
            Owner::Free => 0,
            Owner::Scav(j) if self.dying[j as usize] => 1,
            _ => 2,
        };
        let mut usable: Vec<usize> = (0..f.owner.len())
            .filter(|g| self.usable(n, *g, mode))
            .collect();
        usable.sort_by_key(|g| (rank(*g), *g));
        let mut gpus: Vec<u32> = usable
            .into_iter()
            .take(count as usize)
            .map(|g| g as u32)
            .collect();
        gpus.sort_unstable();
        gpus
    }

    fn find_whole(&self, pool: &[usize], job: &PendingJob, mode: Mode) -> Option<Placement> {
        let r = &job.request;
        // Whole nodes usable now, by topology group.
        let mut groups: std::collections::BTreeMap<u32, (u32, Vec<(u32, usize)>)> =
            Default::default();
        for &n in pool {
            let node = &self.nodes[n];
            if !self.now[n].open || !self.type_ok(n, job) || node.capacity.gpus == 0 {
                continue;
            }
            let (gpus, cpus, mem) = self.avail(n, mode);
            if gpus < node.capacity.gpus || cpus < node.capacity.cpus || mem < node.capacity.mem_mb
            {
                continue;
            }
            let cost = node.capacity.gpus - self.now[n].free_gpus.min(node.capacity.gpus);
            let g = groups.entry(node.group).or_default();
            g.0 += node.capacity.gpus;
            g.1.push((cost, n));
        }
        let total: u32 = groups.values().map(|g| g.0).sum();
        if total < r.gpus {
            return None;
        }
        // One group if any has enough: the one left with the least free capacity.
        let one = groups
            .iter()
            .filter(|(_, g)| g.0 >= r.gpus)
            .min_by_key(|(id, g)| (g.0, **id))
            .map(|(id, _)| *id);
        let mut order: Vec<u32> = match one {
            Some(id) => vec![id],
            None => {
                let mut ids: Vec<u32> = groups.keys().copied().collect();
                ids.sort_by_key(|id| (std::cmp::Reverse(groups[id].0), *id));
                ids
            }
        };
        let mut chosen = Vec::new();
        let mut got = 0u32;
        for id in order.drain(..) {
            let Some((_, members)) = groups.get_mut(&id) else {
                continue;
            };
            members.sort_unstable();
            for &(_, n) in members.iter() {
                if got >= r.gpus {
                    break;
                }
                got += self.nodes[n].capacity.gpus;
                chosen.push(n);
            }
        }
        chosen.sort_unstable();
        let cap: (u64, u64) = chosen.iter().fold((0, 0), |(c, m), n| {
            let k = &self.nodes[*n].capacity;
            (c + u64::from(k.cpus), m + k.mem_mb)
        });
        if cap.0 < u64::from(r.cpus) || cap.1 < r.mem_mb {
            return None;
        }
        Some(Placement {
            allocs: chosen
                .into_iter()
                .map(|n| {
                    let k = &self.nodes[n].capacity;
                    Alloc {
                        node: n,
                        gpus: (0..k.gpus).collect(),
                        cpus: k.cpus,
                        mem_mb: k.mem_mb,
                    }
                })
                .collect(),
        })
    }

    /// Marks `p` as held by guaranteed work (or by a new scavenger job): its
    /// GPUs become busy, and the scavenger jobs in its way are preempted.
    pub fn take(&mut self, p: &Placement, also_later: bool) -> Taken {
        let mut taken = Taken::default();
        for a in &p.allocs {
            let n = a.node;
            let mut victims: Vec<u32> = Vec::new();
            for g in &a.gpus {
                let Some(owner) = self.now[n].owner.get(*g as usize).copied() else {
                    continue;
                };
                if let Owner::Scav(j) = owner
                    && !victims.contains(&j)
                {
                    victims.push(j);
                }
            }
            // CPUs and memory: preempt more scavenger jobs on the node, youngest
            // first, until what remains of them leaves room.
            let mut others: Vec<u32> = self.scav_on[n]
                .iter()
                .copied()
                .filter(|j| !victims.contains(j))
                .collect();
            others.sort_by_key(|j| {
                let r = &self.running[*j as usize];
                (!self.dying[*j as usize], std::cmp::Reverse(r.start), r.id)
            });
            let f = &self.now[n];
            let held_by = |js: &[u32]| -> (u32, u64) {
                js.iter().fold((0, 0), |(c, m), j| {
                    self.running[*j as usize]
                        .placement
                        .allocs
                        .iter()
                        .filter(|x| x.node == n)
                        .fold((c, m), |(c, m), x| (c + x.cpus, m + x.mem_mb))
                })
            };
            let (vc, vm) = held_by(&victims);
            let mut left_cpus = f.scav_cpus.saturating_sub(vc);
            let mut left_mem = f.scav_mem.saturating_sub(vm);
            for j in others {
                if f.cpus.saturating_sub(left_cpus) >= a.cpus
                    && f.mem.saturating_sub(left_mem) >= a.mem_mb
                {
                    break;
                }
                let (c, m) = held_by(&[j]);
                left_cpus = left_cpus.saturating_sub(c);
                left_mem = left_mem.saturating_sub(m);
                victims.push(j);
            }
            let f = &mut self.now[n];
            for g in &a.gpus {
                let Some(o) = f.owner.get_mut(*g as usize) else {
                    continue;
                };
                match *o {
                    Owner::Free => f.free_gpus -= 1,
                    Owner::Scav(j) => {
                        f.scav_gpus -= 1;
                        if self.dying[j as usize] {
                            f.dying_gpus -= 1;
                        }
                    }
                    Owner::Busy => {}
                }
                *o = Owner::Busy;
            }
            f.cpus = f.cpus.saturating_sub(a.cpus);
            f.mem = f.mem.saturating_sub(a.mem_mb);
            if also_later && let Some(l) = self.later[n].as_mut() {
                for g in &a.gpus {
                    if let Some(o) = l.owner.get_mut(*g as usize)
                        && *o == Owner::Free
                    {
                        *o = Owner::Busy;
                        l.free_gpus -= 1;
                    }
                }
                l.cpus = l.cpus.saturating_sub(a.cpus);
                l.mem = l.mem.saturating_sub(a.mem_mb);
            }
            self.recount_later(n);
            for j in victims {
                if self.dying[j as usize] {
                    taken.waits = true;
                    continue;
                }
                self.dying[j as usize] = true;
                taken.waits = true;
                taken.preempted.push(j);
                for x in &self.running[j as usize].placement.allocs {
                    let nf = &mut self.now[x.node];
                    nf.dying_gpus += x
                        .gpus
                        .iter()
                        .filter(|g| nf.owner.get(**g as usize) == Some(&Owner::Scav(j)))
                        .count() as u32;
                }
            }
        }
        taken
    }

    /// The earliest time at which `job` fits in `pool` once running and
    /// planned guaranteed work ends (`ends`: placement and end time), and where.
    /// On success, the pool's nodes get their reservation-time view with the
    /// reservation taken out.
    pub fn reserve(
        &mut self,
        pool: &[usize],
        job: &PendingJob,
        ends: &[(u64, usize, &Placement)],
        now: u64,
    ) -> Option<(u64, Placement)> {
        let single = job.request.gpus <= self.max_node_gpus(pool, job);
        let mut shadow = Cluster {
            nodes: self.nodes,
            running: self.running,
            now: self.now.iter().map(NodeFree::without_scavengers).collect(),
            later: vec![None; self.nodes.len()],
            later_gpus: vec![0; self.nodes.len()],
            scav_on: vec![Vec::new(); self.nodes.len()],
            dying: vec![false; self.running.len()],
        };
        // Ends in time order, taken lazily: usually few are needed before the job fits.
        let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(u64, usize, usize)>> = ends
            .iter()
            .enumerate()
            .map(|(k, (end, seq, _))| std::cmp::Reverse((*end, *seq, k)))
            .collect();
        // GPUs on wholly free nodes of the pool: an upper bound on what
        // `find_whole` can use, so that it is only asked when it may succeed.
        let whole = |n: &NodeFree, node: &Node| {
            if n.free_gpus >= node.capacity.gpus {
                u64::from(node.capacity.gpus)
            } else {
                0
            }
        };
        let mut whole_gpus: u64 = pool
            .iter()
            .map(|&n| whole(&shadow.now[n], &self.nodes[n]))
            .sum();
        while let Some(std::cmp::Reverse((t, _, _))) = heap.peek().copied() {
            let mut touched = Vec::new();
            while let Some(std::cmp::Reverse((end, _, k))) = heap.peek().copied()
                && end == t
            {
                heap.pop();
                for a in &ends[k].2.allocs {
                    if let Some(n) = shadow.now.get_mut(a.node) {
                        let before = whole(n, &self.nodes[a.node]);
                        n.release(a);
                        if pool.binary_search(&a.node).is_ok() {
                            whole_gpus += whole(n, &self.nodes[a.node]) - before;
                        }
                        touched.push(a.node);
                    }
                }
            }
            let found = if single {
                touched.sort_unstable();
                touched.dedup();
                touched.retain(|n| pool.binary_search(n).is_ok());
                shadow.find_single(&touched, job, Mode::Real)
            } else if whole_gpus >= u64::from(job.request.gpus) {
                shadow.find_whole(pool, job, Mode::Real)
            } else {
                None
            };
            if let Some(p) = found {
                let at = t.max(now);
                shadow.take(&p, false);
                for &n in pool {
                    self.later[n] = Some(shadow.now[n].clone());
                    self.recount_later(n);
                }
                return Some((at, p));
            }
        }
        None
    }
}
