//! The benchmark cluster: 375 nodes x 8 GPUs in 12 topology groups, running
//! jobs placed first-fit until about 3,000 run or nothing more fits, and
//! pending jobs drawn from the Philly trace. Deterministic: no randomness
//! beyond a fixed linear congruential sequence.

use aisc_model::{JobId, ProjectId, Resources};
use aisc_sched::{
    Cost, Node, NodeState, PendingJob, Placement, Project, Qos, RunningJob, Snapshot,
};
use std::collections::BTreeMap;

/// "Now" for every benchmark pass: 2017-10-01, inside the Philly trace.
pub const NOW: u64 = 1_506_816_000;
const NODES: usize = 375;
const GROUPS: usize = 12;
const PROJECTS: i64 = 200;

/// (GPUs, seconds) of each Philly job with at least one GPU.
pub fn philly() -> Vec<(u32, u64)> {
    let path = std::env::var("AISC_PHILLY").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/traces/philly/philly.csv"
        )
        .into()
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read the Philly trace at {path}: {e} (set AISC_PHILLY)")
    });
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let gpus: u32 = f.get(2)?.trim().parse().ok()?;
            let secs: f64 = f.get(1)?.trim().parse().ok()?;
            (gpus > 0 && secs > 0.0).then_some((gpus, secs.ceil() as u64))
        })
        .collect()
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// The cluster with `pending` jobs waiting.
pub fn snapshot(trace: &[(u32, u64)], pending: usize) -> Snapshot {
    let nodes: Vec<Node> = (0..NODES)
        .map(|i| Node {
            name: format!("gpu{i:03}"),
            capacity: Resources {
                gpus: 8,
                cpus: 112,
                mem_mb: 2 << 20,
            },
            gpu_type: Some("h800".into()),
            class: Some("h800-8x".into()),
            group: (i * GROUPS / NODES) as u32,
            state: NodeState::Up,
        })
        .collect();
    let mut rng = Lcg(42);
    let mut free = vec![8u32; NODES];
    let mut running = Vec::new();
    let mut misses = 0;
    let mut k = 0usize;
    while running.len() < 3_000 && misses < 200 {
        let (gpus, secs) = trace[k % trace.len()];
        k += 1;
        let allocs: Option<Vec<(usize, u32)>> = if gpus <= 8 {
            (0..NODES)
                .find(|n| free[*n] >= gpus)
                .map(|n| vec![(n, gpus)])
        } else {
            let whole: Vec<usize> = (0..NODES)
                .filter(|n| free[*n] == 8)
                .take(gpus.div_ceil(8) as usize)
                .collect();
            (whole.len() == gpus.div_ceil(8) as usize)
                .then(|| whole.into_iter().map(|n| (n, 8)).collect())
        };
        let Some(allocs) = allocs else {
            misses += 1;
            continue;
        };
        let placement = Placement {
            allocs: allocs
                .iter()
                .map(|&(n, g)| {
                    let first = 8 - free[n];
                    free[n] -= g;
                    aisc_sched::Alloc {
                        node: n,
                        gpus: (first..first + g).collect(),
                        cpus: g * 8,
                        mem_mb: u64::from(g) << 17,
                    }
                })
                .collect(),
        };
        let start = NOW - rng.next() % secs.max(1);
        running.push(RunningJob {
            id: JobId(k as i64),
            project: ProjectId(1 + rng.next() as i64 % PROJECTS),
            qos: if rng.next().is_multiple_of(20) {
                Qos::Scavenger
            } else {
                Qos::Normal
            },
            placement,
            start,
            end: start + secs,
            stopping: false,
        });
    }
    let base = 10_000_000i64;
    let pending = (0..pending)
        .map(|i| {
            let (gpus, secs) = trace[(k + i * 7) % trace.len()];
            let project = 1 + (rng.next() as i64 % PROJECTS);
            let roll = rng.next() % 100;
            PendingJob {
                id: JobId(base + i as i64),
                project: ProjectId(project),
                qos: match roll {
                    0 => Qos::High,
                    1..=5 => Qos::Scavenger,
                    _ => Qos::Normal,
                },
                submit: NOW - rng.next() % 86_400,
                request: Resources {
                    gpus,
                    cpus: gpus * 8,
                    mem_mb: u64::from(gpus) << 17,
                },
                gpu_type: None,
                class: Some("h800-8x".into()),
                time_limit: secs.clamp(60, 7 * 86_400),
                held: roll == 99,
                cost: Some(Cost {
                    grant: project,
                    amount: i64::from(gpus) * secs as i64,
                }),
                copies: 1,
            }
        })
        .collect();
    let projects: BTreeMap<ProjectId, Project> = (1..=PROJECTS)
        .map(|p| {
            (
                ProjectId(p),
                Project {
                    shares: 1_000 + (p as u64 * 7_919) % 50_000,
                    usage: (p as u64 * 104_729) % 10_000_000,
                    max_gpus: if p % 10 == 0 { Some(64) } else { None },
                },
            )
        })
        .collect();
    let grant_available = (1..=PROJECTS)
        .map(|p| (p, if p % 17 == 0 { 0 } else { i64::MAX / 4 }))
        .collect();
    Snapshot {
        nodes,
        running,
        pending,
        projects,
        grant_available,
        ..Default::default()
    }
}
