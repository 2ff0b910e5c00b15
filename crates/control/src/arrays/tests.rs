//! Arrays in the core, with the scheduler's own plan: tasks start in order,
//! each once, never more at once than the array's `%N`.

use super::*;
use crate::core::EngineTerms;
use crate::running::Active;
use aisc_model::array::Array;
use aisc_model::engine::End;
use aisc_model::{ProjectId, Resources};
use aisc_sched::{Node, NodeState, PendingJob, Snapshot};
use proptest::prelude::*;
use std::collections::BTreeSet;

fn core() -> Core {
    Core::new(EngineTerms {
        limits_by_aisc: true,
        queue_depth: None,
        grace_ms: 1_000,
    })
}

fn array(id: i64, tasks: &str) -> Queued {
    let mut q = crate::test_job(id, 1, 60);
    q.spec.array = Some(Array::parse(tasks, 10_001).expect("tasks"));
    q.spec.output = Some("out-%A_%a.txt".into());
    q
}

fn node(gpus: u32) -> Node {
    Node {
        name: "n0".into(),
        capacity: Resources {
            gpus,
            cpus: 64,
            mem_mb: 1 << 20,
        },
        gpu_type: None,
        class: None,
        group: 0,
        state: NodeState::Up,
    }
}

/// One pass as the control loop makes it: the snapshot (arrays with their
/// copies), the plan, the hand-over, and each task admitted under a new id.
fn pass(c: &mut Core, gpus: u32, next_id: &mut i64, now_ms: i64) -> Vec<Queued> {
    let pending: Vec<PendingJob> = c
        .queue
        .pending()
        .filter_map(|q| {
            let copies = c.copies(q);
            (copies > 0).then_some(PendingJob {
                id: q.id,
                project: ProjectId(1),
                qos: q.spec.qos,
                submit: 0,
                request: q.spec.resources,
                gpu_type: None,
                class: None,
                time_limit: q.spec.time_limit_s,
                held: q.held,
                cost: None,
                copies,
            })
        })
        .collect();
    let running = c
        .running
        .occupying()
        .map(|(id, a)| aisc_sched::RunningJob {
            id,
            project: ProjectId(1),
            qos: a.qos,
            placement: a.placement.clone(),
            start: 0,
            end: 60,
            stopping: false,
        })
        .collect();
    let snap = Snapshot {
        nodes: vec![node(gpus)],
        running,
        pending,
        ..Snapshot::default()
    };
    let plan = aisc_sched::plan(&snap, 0);
    let mut out = Vec::new();
    for (mut q, p, split) in c.hand_over(&plan) {
        if let Some(s) = split
            && !s.last
        {
            *next_id += 1;
            q.id = JobId(*next_id);
        }
        let id = q.id;
        let mut a = Active::admitted(q.clone(), p, now_ms);
        a.start(now_ms, None, None, false);
        c.running.insert(id, a);
        out.push(q);
    }
    out
}

#[test]
fn tasks_start_in_order_each_a_job_with_the_arrays_variables() {
    let mut c = core();
    c.queue.insert(array(10, "0-4%2"));
    let mut next = 10;
    let first = pass(&mut c, 8, &mut next, 0);
    let tasks: Vec<(i64, u32)> = first
        .iter()
        .map(|q| (q.id.0, q.spec.task_of.expect("a task").task))
        .collect();
    assert_eq!(
        tasks,
        vec![(11, 0), (12, 1)],
        "two at once (%2), lowest first"
    );
    let t = &first[0].spec;
    assert_eq!(t.env["SLURM_ARRAY_JOB_ID"], "10");
    assert_eq!(t.env["SLURM_ARRAY_TASK_ID"], "0");
    assert_eq!(t.env["SLURM_ARRAY_TASK_COUNT"], "5");
    assert_eq!(t.env["SLURM_ARRAY_TASK_MAX"], "4");
    assert_eq!(t.output.as_deref(), Some("out-10_0.txt"));
    assert!(t.array.is_none());
    assert_eq!(c.copies(c.queue.get(JobId(10)).expect("waits")), 0);
    assert_eq!(
        c.queue.array_waiting(JobId(10)).map(ToString::to_string),
        Some("2-4".into())
    );
    // One ends: one more starts.
    c.ended(JobId(11), End::default(), 1_000);
    let second = pass(&mut c, 8, &mut next, 1_000);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].spec.task_of.map(|t| t.task), Some(2));
}

#[test]
fn the_last_task_takes_the_arrays_own_record() {
    let mut c = core();
    c.queue.insert(array(5, "7"));
    let mut next = 5;
    let tasks = pass(&mut c, 8, &mut next, 0);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].id, JobId(5));
    assert_eq!(tasks[0].spec.env["SLURM_ARRAY_TASK_ID"], "7");
    assert!(!c.queue.contains(JobId(5)), "nothing of it waits");
}

#[test]
fn a_waiting_task_is_taken_off_alone_and_put_back_if_not_stored() {
    let mut c = core();
    c.queue.insert(array(3, "0-2"));
    let (task, split) = c.split_task(JobId(3), 1).expect("waits");
    assert_eq!(task.spec.task_of.map(|t| t.task), Some(1));
    assert_eq!((split.waiting.as_str(), split.last), ("0,2", false));
    assert!(c.split_task(JobId(3), 1).is_none(), "taken already");
    c.split_failed(split);
    assert_eq!(
        c.queue.array_waiting(JobId(3)).map(ToString::to_string),
        Some("0-2".into())
    );
    // Holding keeps its tasks; releasing gives them back to the scheduler.
    c.queue.hold(JobId(3));
    assert_eq!(c.queue.array_waiting(JobId(3)).map(Tasks::len), Some(3));
    c.queue.release(JobId(3));
    assert!(c.queue.considered(JobId(3)));
    assert_eq!(c.queue.array_waiting(JobId(3)).map(Tasks::len), Some(3));
}

proptest! {
    /// For any array with throttle N, at no instant do more than N of its
    /// tasks run; every task runs exactly once, whatever ends when.
    #[test]
    fn never_more_than_the_throttle_run_and_every_task_runs_once(
        count in 1u32..40,
        throttle in 1u32..6,
        gpus in 1u32..8,
        ends in proptest::collection::vec(any::<u8>(), 1..200),
    ) {
        let mut c = core();
        let mut q = array(1, &format!("0-{}%{throttle}", count - 1));
        q.spec.resources.gpus = 1;
        c.queue.insert(q);
        let mut next = 1;
        let mut ran = Vec::new();
        let mut now = 0;
        for pick in ends.iter().cycle().take(10_000) {
            for t in pass(&mut c, gpus, &mut next, now) {
                ran.push(t.spec.task_of.expect("a task").task);
            }
            prop_assert!(c.running.tasks_of(JobId(1)) <= throttle);
            prop_assert!(c.running.len() as u32 <= gpus.min(throttle));
            if c.running.is_empty() && !c.queue.contains(JobId(1)) {
                break;
            }
            // One of the running tasks ends.
            let ids: Vec<JobId> = c.running.iter().map(|(id, _)| id).collect();
            if let Some(id) = ids.get(*pick as usize % ids.len().max(1)) {
                now += 1_000;
                c.ended(*id, End::default(), now);
            }
        }
        let once: BTreeSet<u32> = ran.iter().copied().collect();
        prop_assert_eq!(ran.len(), count as usize, "each task once: {:?}", ran);
        prop_assert_eq!(once, (0..count).collect::<BTreeSet<u32>>());
    }
}
