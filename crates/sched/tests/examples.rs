//! Worked examples: small clusters whose plans a reader can check by hand,
//! kept as snapshots of the plan's table (`aisc_sched::table::render`).
#![allow(clippy::unwrap_used)]

use aisc_model::{JobId, ProjectId, Resources};
use aisc_sched::*;
use std::collections::BTreeMap;

fn node(name: &str, gpus: u32, group: u32) -> Node {
    Node {
        name: name.into(),
        capacity: Resources {
            gpus,
            cpus: 64,
            mem_mb: 256 * 1024,
        },
        gpu_type: None,
        class: None,
        group,
        state: NodeState::Up,
    }
}

fn job(id: i64, project: i64, gpus: u32, limit: u64) -> PendingJob {
    PendingJob {
        id: JobId(id),
        project: ProjectId(project),
        qos: Qos::Normal,
        submit: 0,
        request: Resources {
            gpus,
            cpus: gpus.max(1) * 4,
            mem_mb: 16 * 1024,
        },
        gpu_type: None,
        class: None,
        time_limit: limit,
        held: false,
        cost: None,
        copies: 1,
    }
}

fn running(id: i64, node: usize, gpus: &[u32], end: u64, qos: Qos) -> RunningJob {
    RunningJob {
        id: JobId(id),
        project: ProjectId(1),
        qos,
        placement: Placement::on_node(node, gpus.to_vec(), gpus.len() as u32 * 4, 16 * 1024),
        start: 0,
        end,
        stopping: false,
    }
}

fn projects(list: &[(i64, u64, u64)]) -> BTreeMap<ProjectId, Project> {
    list.iter()
        .map(|(id, shares, usage)| {
            (
                ProjectId(*id),
                Project {
                    shares: *shares,
                    usage: *usage,
                    max_gpus: None,
                },
            )
        })
        .collect()
}

fn show(s: &Snapshot, now: u64) -> String {
    table::render(s, &plan(s, now))
}

#[test]
fn backfill_around_a_reservation() {
    // Two 4-GPU nodes, five GPUs busy until t=3600 or t=7200. Job 10 needs a
    // whole node: reserved on n1 at t=3600. Job 11 (1 GPU, 1 h) fits on n0's free
    // GPU without touching the reservation; job 12 (1 GPU, 30 min) ends before it;
    // job 13 (2 GPUs, 2 h) would still hold n1 at t=3600.
    let s = Snapshot {
        nodes: vec![node("n0", 4, 0), node("n1", 4, 0)],
        running: vec![
            running(1, 0, &[0, 1, 2], 7200, Qos::Normal),
            running(2, 1, &[0, 1], 3600, Qos::Normal),
        ],
        pending: vec![
            job(10, 1, 4, 3600),
            job(11, 1, 1, 3600),
            job(12, 1, 1, 1800),
            job(13, 1, 2, 7200),
        ],
        projects: projects(&[(1, 1, 0)]),
        ..Default::default()
    };
    insta::assert_snapshot!(show(&s, 0));
}

#[test]
fn fair_share_orders_projects_by_usage_against_grants() {
    // Equal grants; project 1 has used three times what project 2 has, project 3 nothing.
    let s = Snapshot {
        nodes: vec![node("n0", 8, 0)],
        pending: vec![job(1, 1, 4, 600), job(2, 2, 4, 600), job(3, 3, 4, 600)],
        projects: projects(&[(1, 100, 3_000), (2, 100, 1_000), (3, 100, 0)]),
        ..Default::default()
    };
    insta::assert_snapshot!(show(&s, 0));
}

#[test]
fn guaranteed_work_preempts_scavengers_and_takes_whole_nodes_in_one_group() {
    // Group 0: a0, a1; group 1: b0, b1. Scavenger jobs run on a1 and b0; b1 is
    // busy with guaranteed work. A 16-GPU job needs two whole nodes: only group 0
    // can give them, once scavenger job 7 is preempted. Scavenger job 8 keeps
    // running, and a new scavenger job takes idle GPUs beside it.
    let mut scav = job(30, 2, 2, 600);
    scav.qos = Qos::Scavenger;
    let s = Snapshot {
        nodes: vec![
            node("a0", 8, 0),
            node("a1", 8, 0),
            node("b0", 8, 1),
            node("b1", 8, 1),
        ],
        running: vec![
            running(7, 1, &[0, 1, 2, 3], 9_999, Qos::Scavenger),
            running(8, 2, &[0, 1], 9_999, Qos::Scavenger),
            running(9, 3, &[0, 1, 2, 3, 4, 5, 6, 7], 600, Qos::Normal),
        ],
        pending: vec![job(20, 1, 16, 3600), scav],
        projects: projects(&[(1, 1, 0), (2, 1, 0)]),
        ..Default::default()
    };
    insta::assert_snapshot!(show(&s, 0));
}
