//! The lifecycle's behaviours with explicit times: no process, no database,
//! no engine, no runtime.

use super::*;
use aisc_model::Qos;
use aisc_model::engine::{Measured, Verdict};
use aisc_sched::{Preempt, Start};

const GRACE: i64 = 10_000;

fn core(depth: Option<usize>) -> Core {
    Core::new(EngineTerms {
        limits_by_aisc: depth.is_none(),
        queue_depth: depth,
        grace_ms: GRACE,
    })
}

fn queued(id: i64, gpus: u32, limit_s: u64) -> Queued {
    crate::test_job(id, gpus, limit_s)
}

fn on_gpu(gpu: u32) -> Placement {
    Placement::on_node(0, vec![gpu], 1, 64)
}

/// Plans `id` to start, hands it over and admits it at `now_ms`.
fn admit(c: &mut Core, id: i64, now_ms: i64) {
    let plan = Plan {
        starts: vec![Start {
            id: JobId(id),
            placement: on_gpu(0),
        }],
        ..Plan::default()
    };
    for (q, p, _) in c.hand_over(&plan) {
        let qid = q.id;
        c.running.insert(qid, Active::admitted(q, p, now_ms));
    }
}

fn exited(code: i32) -> End {
    End {
        exit_code: Some(code),
        ..End::default()
    }
}

#[test]
fn a_job_starts_runs_and_is_metered_from_its_start_to_its_end() {
    let mut c = core(None);
    c.queue.insert(queued(1, 2, 60));
    admit(&mut c, 1, 1_000);
    assert!(!c.queue.contains(JobId(1)));
    let a = c.running.get_mut(JobId(1)).expect("admitted");
    assert!(a.start(1_000, None, None, true));
    let f = c.ended(JobId(1), exited(0), 31_000).expect("followed");
    assert_eq!(f.state, JobState::Completed);
    assert_eq!((f.usage.wall_ms, f.usage.gpu_ms), (30_000, 60_000));
    assert!(!f.never_ran && f.ran.is_none());
    assert!(c.running.is_empty());
    assert!(
        c.ended(JobId(1), exited(0), 31_000).is_none(),
        "an end is applied once"
    );
}

#[test]
fn a_job_past_its_limit_is_stopped_then_killed_after_the_grace() {
    let mut c = core(None);
    c.queue.insert(queued(1, 1, 60));
    admit(&mut c, 1, 0);
    if let Some(a) = c.running.get_mut(JobId(1)) {
        a.start(0, None, None, false);
    }
    assert!(c.due(59_999).is_empty());
    assert_eq!(c.next_due(), Some(60_000));
    let due = c.due(60_000);
    let [(id, Due::TimeLimit(stop))] = <[(JobId, Due); 1]>::try_from(due).expect("one due") else {
        panic!("the time limit is due");
    };
    assert!(c.running.stop(id, stop.state, stop.reason, 60_000));
    assert!(c.due(69_999).is_empty());
    assert!(matches!(c.due(70_000).as_slice(), [(_, Due::Kill)]));
    assert!(c.running.killed(id));
    let end = End {
        signal: Some(9),
        ..End::default()
    };
    let f = c.ended(id, end, 70_100).expect("followed");
    assert_eq!(
        (f.state, f.reason.as_str()),
        (JobState::TimedOut, "time limit of 00:01:00 reached")
    );
    assert_eq!(f.usage.gpu_ms, 70_100);
}

#[test]
fn a_job_that_overran_its_grace_says_so() {
    let mut c = core(None);
    c.queue.insert(queued(1, 1, 60));
    admit(&mut c, 1, 0);
    if let Some(a) = c.running.get_mut(JobId(1)) {
        a.start(0, None, None, false);
    }
    let f = c.ended(JobId(1), exited(0), 75_000).expect("followed");
    assert!(
        f.reason
            .ends_with("it ran 5 s past its time limit and grace (charged at most its lien)"),
        "{}",
        f.reason
    );
}

#[test]
fn cancel_takes_a_waiting_job_out_and_stops_a_running_one_once() {
    let mut c = core(None);
    c.queue.insert(queued(1, 0, 60));
    c.queue.insert(queued(2, 0, 60));
    admit(&mut c, 2, 0);
    assert_eq!(
        c.cancel(JobId(1), "ann"),
        Cancel::Pending {
            reason: "cancelled by ann".into()
        }
    );
    assert!(c.queue.take(JobId(1)).is_some());
    let Cancel::Stop { reason } = c.cancel(JobId(2), "ann") else {
        panic!("a running job is stopped");
    };
    assert!(c.running.stop(JobId(2), JobState::Cancelled, reason, 5_000));
    assert_eq!(c.cancel(JobId(2), "ann"), Cancel::AlreadyStopping);
    assert_eq!(c.cancel(JobId(9), "ann"), Cancel::NotActive);
    // It ends however the engine saw it: the cancel's reason stands, unless the engine's reading is firm.
    let soft = End {
        verdict: Some(Verdict {
            state: JobState::TimedOut,
            reason: "watchdog".into(),
            firm: false,
        }),
        signal: Some(15),
        ..End::default()
    };
    let f = c.ended(JobId(2), soft, 6_000).expect("followed");
    assert_eq!(
        (f.state, f.reason.as_str()),
        (JobState::Cancelled, "cancelled by ann")
    );
}

#[test]
fn guaranteed_work_preempts_a_scavenger_job_once() {
    let mut c = core(None);
    let mut s = queued(1, 1, 600);
    s.spec.qos = Qos::Scavenger;
    c.queue.insert(s);
    admit(&mut c, 1, 0);
    let plan = Plan {
        preempt: vec![Preempt {
            id: JobId(1),
            for_job: JobId(2),
        }],
        ..Plan::default()
    };
    let p = c.preemptions(&plan);
    assert_eq!(
        p,
        vec![(
            JobId(1),
            "preempted for job 2 (guaranteed work needs its GPUs)".to_string()
        )]
    );
    assert!(
        c.running
            .stop(JobId(1), JobState::Preempted, p[0].1.clone(), 0)
    );
    assert!(c.preemptions(&plan).is_empty(), "not stopped twice");
}

#[test]
fn an_unreachable_engine_sends_the_job_back_and_it_is_handed_over_again() {
    let mut c = core(Some(4));
    c.queue.insert(queued(1, 1, 60));
    admit(&mut c, 1, 0);
    assert_eq!(c.running.waiting_in_engine(), 1);
    assert!(matches!(
        c.not_started(JobId(1), true),
        NotStarted::Requeued
    ));
    assert_eq!(
        c.queue.reason(JobId(1)),
        Some(PendingReason::EngineUnavailable)
    );
    // Back: waiting for its turn, it goes to the engine's own queue again.
    let plan = Plan {
        waiting: vec![(JobId(1), PendingReason::Priority)],
        ..Plan::default()
    };
    let again = c.hand_over(&plan);
    assert_eq!(again.len(), 1);
    let (q, p, _) = again.into_iter().next().expect("one");
    c.running.insert(q.id, Active::admitted(q, p, 5_000));
    // The engine refuses it outright this time: it never ran.
    assert!(matches!(
        c.not_started(JobId(1), false),
        NotStarted::NeverRan(_)
    ));
    assert!(!c.queue.contains(JobId(1)) && c.running.is_empty());
}

#[test]
fn a_grant_exhausted_mid_queue_holds_back_only_its_own_job() {
    let mut c = core(Some(8));
    c.queue.insert(queued(1, 1, 60));
    c.queue.insert(queued(2, 1, 60));
    let plan = Plan {
        starts: vec![
            Start {
                id: JobId(1),
                placement: on_gpu(0),
            },
            Start {
                id: JobId(2),
                placement: on_gpu(1),
            },
        ],
        ..Plan::default()
    };
    let mut handed = c.hand_over(&plan).into_iter();
    let (first, _, _) = handed.next().expect("first");
    let (second, p, _) = handed.next().expect("second");
    // The first one's grant cannot cover its lien: it waits; the second goes on.
    c.lien_refused(first);
    c.running.insert(second.id, Active::admitted(second, p, 0));
    assert_eq!(
        c.queue.reason(JobId(1)),
        Some(PendingReason::GrantExhausted)
    );
    // A job waiting for its grant is never handed to the engine's own queue.
    let plan = Plan {
        waiting: vec![(JobId(1), PendingReason::GrantExhausted)],
        ..Plan::default()
    };
    assert!(c.hand_over(&plan).is_empty());
}

#[test]
fn a_queue_depth_bounds_what_waits_in_the_engine() {
    let mut c = core(Some(2));
    for id in 1..=4 {
        c.queue.insert(queued(id, 1, 60));
    }
    let plan = Plan {
        waiting: (1..=4)
            .map(|id| (JobId(id), PendingReason::Resources))
            .collect(),
        ..Plan::default()
    };
    let handed = c.hand_over(&plan);
    assert_eq!(
        handed.iter().map(|(q, _, _)| q.id).collect::<Vec<_>>(),
        vec![JobId(1), JobId(2)]
    );
    for (q, p, _) in handed {
        let id = q.id;
        c.running.insert(id, Active::admitted(q, p, 0));
    }
    assert!(c.hand_over(&plan).is_empty(), "the engine's queue is full");
}

#[test]
fn an_end_the_engine_measured_is_charged_as_measured_and_one_never_started_is_not() {
    let mut c = core(Some(4));
    c.queue.insert(queued(1, 2, 600));
    c.queue.insert(queued(2, 2, 600));
    admit(&mut c, 1, 0);
    admit(&mut c, 2, 0);
    // Job 1 ran, though its start was never reported: its start is recorded from the end.
    let end = End {
        at_ms: Some(40_000),
        exit_code: Some(0),
        verdict: Some(Verdict {
            state: JobState::Completed,
            reason: "exited with status 0".into(),
            firm: true,
        }),
        measured: Some(Measured {
            elapsed_ms: 30_000,
            gpus: 2,
            cpus: 1,
        }),
        ran: Some(Ran {
            at_ms: 10_000,
            node: "gpu01".into(),
            reason: "started on gpu01".into(),
        }),
        note: Some("usage from Slurm's accounting".into()),
        signal: None,
    };
    let f = c.ended(JobId(1), end, 99_000).expect("followed");
    assert_eq!(f.usage.gpu_ms, 60_000);
    assert_eq!(f.ran.map(|r| r.at_ms), Some(10_000));
    assert_eq!(
        f.reason,
        "exited with status 0; usage from Slurm's accounting"
    );
    // Job 2 was cancelled while it waited in the engine: it never ran.
    let Cancel::Stop { reason } = c.cancel(JobId(2), "ann") else {
        panic!("stop");
    };
    c.running.stop(JobId(2), JobState::Cancelled, reason, 1_000);
    let f = c.ended(JobId(2), End::default(), 2_000).expect("followed");
    assert!(f.never_ran);
    assert_eq!(f.state, JobState::Cancelled);
    assert_eq!(f.usage, Usage::default());
}

#[test]
fn a_stop_recorded_before_a_restart_runs_its_grace_from_the_restart() {
    // Recovery rebuilds the admitted job from what was stored, its stop included.
    let mut c = core(None);
    c.queue.insert(queued(1, 1, 3_600));
    admit(&mut c, 1, 0);
    if let Some(a) = c.running.get_mut(JobId(1)) {
        a.start(0, None, None, false);
    }
    c.running.stop(
        JobId(1),
        JobState::Cancelled,
        "cancelled by ann".into(),
        500_000,
    );
    assert!(c.due(509_999).is_empty());
    assert!(matches!(c.due(510_000).as_slice(), [(_, Due::Kill)]));
}
