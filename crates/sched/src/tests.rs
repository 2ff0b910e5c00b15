use super::*;
use proptest::prelude::*;
use std::collections::HashSet;

fn node(gpus: u32) -> Node {
    Node {
        name: format!("n{gpus}"),
        capacity: Resources {
            gpus,
            cpus: 64,
            mem_mb: 512 * 1024,
        },
        gpu_type: None,
    }
}

fn job(id: i64, gpus: u32) -> PendingJob {
    PendingJob {
        id: JobId(id),
        request: Resources {
            gpus,
            cpus: 1,
            mem_mb: 1024,
        },
        gpu_type: None,
        held: false,
        cost: None,
    }
}

#[test]
fn fifo_head_blocks_and_the_rest_wait_for_priority() {
    let snap = Snapshot {
        nodes: vec![node(8)],
        running: vec![],
        pending: vec![job(3, 1), job(1, 6), job(2, 4)],
        ..Default::default()
    };
    let p = plan(&snap, 0);
    assert_eq!(p.starts.len(), 1);
    assert_eq!(p.starts[0].id, JobId(1));
    assert_eq!(p.starts[0].placement.gpus, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(
        p.waiting,
        vec![
            (JobId(2), PendingReason::Resources),
            (JobId(3), PendingReason::Priority)
        ]
    );
}

#[test]
fn running_jobs_hold_their_gpus() {
    let running = vec![RunningJob {
        id: JobId(1),
        placement: Placement {
            node: 0,
            gpus: vec![0, 2],
            cpus: 2,
            mem_mb: 10,
        },
    }];
    let snap = Snapshot {
        nodes: vec![node(4)],
        running,
        pending: vec![job(2, 2)],
        ..Default::default()
    };
    let p = plan(&snap, 0);
    assert_eq!(p.starts[0].placement.gpus, vec![1, 3]);
}

#[test]
fn held_jobs_are_skipped_without_blocking() {
    let mut held = job(1, 1);
    held.held = true;
    let snap = Snapshot {
        nodes: vec![node(1)],
        running: vec![],
        pending: vec![held, job(2, 1)],
        ..Default::default()
    };
    let p = plan(&snap, 0);
    assert_eq!(p.starts[0].id, JobId(2));
    assert_eq!(p.waiting, vec![(JobId(1), PendingReason::Held)]);
}

#[test]
fn best_fit_keeps_the_empty_node_whole() {
    let running = vec![RunningJob {
        id: JobId(1),
        placement: Placement {
            node: 1,
            gpus: vec![0, 1, 2, 3, 4, 5],
            cpus: 1,
            mem_mb: 1,
        },
    }];
    let snap = Snapshot {
        nodes: vec![node(8), node(8)],
        running,
        pending: vec![job(2, 2)],
        ..Default::default()
    };
    assert_eq!(plan(&snap, 0).starts[0].placement.node, 1);
}

#[test]
fn gpu_type_must_match() {
    let mut a = node(8);
    a.gpu_type = Some("a100".into());
    let mut h = node(8);
    h.gpu_type = Some("h100".into());
    let mut j = job(1, 1);
    j.gpu_type = Some("H100".into());
    let p = plan(
        &Snapshot {
            nodes: vec![a, h],
            running: vec![],
            pending: vec![j],
            ..Default::default()
        },
        0,
    );
    assert_eq!(p.starts[0].placement.node, 1);
}

#[test]
fn a_grant_that_cannot_cover_the_lien_holds_back_only_its_own_jobs() {
    let charged = |id: i64, grant: i64, amount: i64| PendingJob {
        cost: Some(Cost { grant, amount }),
        ..job(id, 1)
    };
    let snap = Snapshot {
        nodes: vec![node(8)],
        running: vec![],
        pending: vec![
            charged(1, 7, 60),
            charged(2, 7, 60),
            charged(3, 8, 10),
            charged(4, 7, 40),
        ],
        grant_available: [(7, 100), (8, 10)].into(),
    };
    let p = plan(&snap, 0);
    let started: Vec<JobId> = p.starts.iter().map(|s| s.id).collect();
    assert_eq!(
        started,
        vec![JobId(1), JobId(3), JobId(4)],
        "job 2 would overspend grant 7; 3 and 4 still start"
    );
    assert_eq!(p.waiting, vec![(JobId(2), PendingReason::GrantExhausted)]);
}

#[test]
fn cpu_only_jobs_fit_on_gpu_less_nodes() {
    let p = plan(
        &Snapshot {
            nodes: vec![node(0)],
            running: vec![],
            pending: vec![job(1, 0), job(2, 1)],
            ..Default::default()
        },
        0,
    );
    assert_eq!(p.starts.len(), 1);
    assert_eq!(p.waiting, vec![(JobId(2), PendingReason::Resources)]);
}

fn arb_snapshot() -> impl Strategy<Value = Snapshot> {
    let nodes = prop::collection::vec((0u32..=8, 4u32..=64, 16u64..=256), 1..6);
    let pending = prop::collection::vec(
        (
            0u32..=9,
            1u32..=8,
            1u64..=32,
            any::<bool>(),
            0i64..3,
            0i64..50,
        ),
        0..40,
    );
    let grants = prop::collection::vec(0i64..200, 3);
    (nodes, pending, grants).prop_map(|(nodes, pending, grants)| Snapshot {
        grant_available: grants
            .into_iter()
            .enumerate()
            .map(|(g, a)| (g as i64, a))
            .collect(),
        nodes: nodes
            .into_iter()
            .enumerate()
            .map(|(i, (g, c, m))| Node {
                name: format!("n{i}"),
                capacity: Resources {
                    gpus: g,
                    cpus: c,
                    mem_mb: m,
                },
                gpu_type: None,
            })
            .collect(),
        running: vec![],
        pending: pending
            .into_iter()
            .enumerate()
            .map(|(i, (g, c, m, held, grant, cost))| PendingJob {
                id: JobId(i as i64),
                request: Resources {
                    gpus: g,
                    cpus: c,
                    mem_mb: m,
                },
                gpu_type: None,
                held: held && i % 5 == 0,
                cost: (i % 3 != 0).then_some(Cost {
                    grant,
                    amount: cost,
                }),
            })
            .collect(),
    })
}

/// Applies a plan's starts as running jobs, as the server does.
fn apply(snap: &Snapshot, p: &Plan) -> Snapshot {
    let started: HashSet<JobId> = p.starts.iter().map(|s| s.id).collect();
    let mut next = snap.clone();
    next.running.extend(p.starts.iter().map(|s| RunningJob {
        id: s.id,
        placement: s.placement.clone(),
    }));
    for s in &p.starts {
        if let Some(c) = snap
            .pending
            .iter()
            .find(|j| j.id == s.id)
            .and_then(|j| j.cost)
        {
            *next.grant_available.entry(c.grant).or_insert(0) -= c.amount;
        }
    }
    next.pending.retain(|j| !started.contains(&j.id));
    next
}

proptest! {
    #[test]
    fn no_gpu_is_double_booked_and_no_node_overcommitted(snap in arb_snapshot()) {
        // Plan twice, applying the first plan, so running jobs are in play too.
        let first = plan(&snap, 0);
        let snap2 = apply(&snap, &first);
        let second = plan(&snap2, 0);
        let all = apply(&snap2, &second);
        for (i, n) in all.nodes.iter().enumerate() {
            let on: Vec<&RunningJob> = all.running.iter().filter(|r| r.placement.node == i).collect();
            let mut seen = HashSet::new();
            for r in &on {
                for g in &r.placement.gpus {
                    prop_assert!(*g < n.capacity.gpus, "GPU index out of range");
                    prop_assert!(seen.insert(*g), "GPU {} on node {} assigned twice", g, i);
                }
            }
            prop_assert!(on.iter().map(|r| r.placement.cpus).sum::<u32>() <= n.capacity.cpus);
            prop_assert!(on.iter().map(|r| r.placement.mem_mb).sum::<u64>() <= n.capacity.mem_mb);
        }
    }

    #[test]
    fn gang_all_or_nothing(snap in arb_snapshot()) {
        let p = plan(&snap, 0);
        for s in &p.starts {
            let j = snap.pending.iter().find(|j| j.id == s.id).expect("started job was pending");
            prop_assert_eq!(s.placement.gpus.len() as u32, j.request.gpus);
            prop_assert_eq!(s.placement.cpus, j.request.cpus);
            prop_assert_eq!(s.placement.mem_mb, j.request.mem_mb);
        }
    }

    #[test]
    fn every_pending_job_is_started_or_has_a_reason(snap in arb_snapshot()) {
        let p = plan(&snap, 0);
        let mut ids: Vec<JobId> = p.starts.iter().map(|s| s.id).chain(p.waiting.iter().map(|w| w.0)).collect();
        ids.sort();
        let mut want: Vec<JobId> = snap.pending.iter().map(|j| j.id).collect();
        want.sort();
        prop_assert_eq!(ids, want);
    }

    #[test]
    fn no_grant_is_overspent(snap in arb_snapshot()) {
        let p = plan(&snap, 0);
        for (grant, available) in &snap.grant_available {
            let held: i64 = p
                .starts
                .iter()
                .filter_map(|s| snap.pending.iter().find(|j| j.id == s.id).and_then(|j| j.cost))
                .filter(|c| c.grant == *grant)
                .map(|c| c.amount)
                .sum();
            prop_assert!(held <= *available, "grant {} holds {} of {}", grant, held, available);
        }
    }

    #[test]
    fn fifo_nothing_overtakes_a_blocked_job(snap in arb_snapshot()) {
        let p = plan(&snap, 0);
        if let Some((blocked, _)) = p.waiting.iter().find(|(_, r)| *r == PendingReason::Resources) {
            prop_assert!(p.starts.iter().all(|s| s.id < *blocked));
        }
    }

    #[test]
    fn same_snapshot_same_plan(snap in arb_snapshot()) {
        let mut shuffled = snap.clone();
        shuffled.pending.reverse();
        prop_assert_eq!(plan(&snap, 0), plan(&shuffled, 0));
    }
}
