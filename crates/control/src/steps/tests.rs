//! The order of the steps each decision comes to, with explicit times.

use super::*;
use crate::core::EngineTerms;
use aisc_model::engine::End;
use aisc_model::job::Charging;
use aisc_model::{ProjectId, Qos};
use aisc_sched::{Plan, Start};

const GRACE: i64 = 10_000;
const CHARGING: Charging = Charging {
    grant: 7,
    price_cents: 1_000,
    lien_cents: 5_000,
    run: 0,
};

fn core() -> Core {
    Core::new(EngineTerms {
        limits_by_aisc: true,
        queue_depth: None,
        grace_ms: GRACE,
    })
}

/// Queues `id` (charged to grant 7 of project 3), plans it and hands it over.
fn planned(c: &mut Core, id: i64) -> Admit {
    let mut q = crate::test_job(id, 1, 60);
    q.charging = Some(CHARGING);
    q.project = Some(ProjectId(3));
    c.queue.insert(q);
    let placement = Placement::on_node(0, vec![0], 1, 64);
    let plan = Plan {
        starts: vec![Start {
            id: JobId(id),
            placement,
        }],
        ..Plan::default()
    };
    let Some((queued, placement, _)) = c.hand_over(&plan).pop() else {
        panic!("the plan starts job {id}");
    };
    let start = StartJob {
        job: queued.id,
        user: queued.user.clone(),
        unix_name: None,
        account: Some("p".into()),
        class: Some("h100".into()),
        spec: queued.spec.clone(),
        allocs: Vec::new(),
        restarts: 0,
    };
    Admit {
        queued,
        placement,
        start,
        admission: Admission {
            reason: "placed on n1 with GPU 0".into(),
            node: Some("n1".into()),
            gpu_ids: Some(vec![0]),
            handed_over: false,
        },
        refused: None,
    }
}

/// A compact name for each step, to compare orders.
fn kinds(steps: &[Effect]) -> Vec<String> {
    steps
        .iter()
        .map(|e| match e {
            Effect::Record { from, to, .. } => format!("record {from}->{to}"),
            Effect::StopReason { state, .. } => format!("stop-reason {state}"),
            Effect::Reasons(r) => format!("reasons {}", r[0].1),
            Effect::EngineJob { .. } => "engine-job".into(),
            Effect::HoldLien { .. } => "hold-lien".into(),
            Effect::Settle { gpu_ms, .. } => format!("settle {gpu_ms}"),
            Effect::FairShare { gpu_ms, .. } => format!("fair-share {gpu_ms}"),
            Effect::Requeue { from, .. } => format!("requeue {from}->pending"),
            Effect::SplitTask { task, .. } => format!("split {task}"),
            Effect::Start(_) => "start".into(),
            Effect::Signal { how, .. } => format!("signal {how:?}"),
            Effect::Release { .. } => "release".into(),
            Effect::SealLogs { .. } => "seal-logs".into(),
        })
        .collect()
}

#[test]
fn an_admission_holds_its_lien_then_records_it_then_starts_it() {
    let mut c = core();
    let a = planned(&mut c, 1);
    assert_eq!(kinds(&c.admit(a, 1_000)), ["hold-lien"]);
    assert!(
        !c.running.contains(JobId(1)),
        "not admitted before its lien is held"
    );
    let steps = c.lien(JobId(1), true);
    assert_eq!(kinds(&steps), ["record pending->admitted", "start"]);
    let Effect::Record { at_ms, set, .. } = &steps[0] else {
        panic!("a record first");
    };
    assert_eq!((*at_ms, set.node.as_deref()), (1_000, Some("n1")));
    assert!(c.running.contains(JobId(1)));
    assert!(c.lien(JobId(1), true).is_empty(), "a lien answers once");
}

#[test]
fn a_lien_its_grant_cannot_cover_sends_the_job_back_to_wait() {
    let mut c = core();
    let a = planned(&mut c, 1);
    c.admit(a, 1_000);
    assert_eq!(kinds(&c.lien(JobId(1), false)), ["reasons GrantExhausted"]);
    assert!(c.queue.contains(JobId(1)) && !c.running.contains(JobId(1)));
}

#[test]
fn a_job_the_engine_can_never_start_fails_with_any_lien_released() {
    let mut c = core();
    let mut a = planned(&mut c, 1);
    a.refused = Some("refused: no Unix user name".into());
    let steps = c.admit(a, 2_000);
    assert_eq!(kinds(&steps), ["settle 0", "record pending->failed"]);
    assert!(!c.running.contains(JobId(1)) && !c.queue.contains(JobId(1)));
}

#[test]
fn an_admission_that_failed_part_way_is_forgotten() {
    let mut c = core();
    let a = planned(&mut c, 1);
    c.admit(a, 0);
    c.lien(JobId(1), true);
    c.admission_failed(JobId(1));
    assert!(!c.running.contains(JobId(1)));
}

#[test]
fn a_stop_stores_its_reason_before_the_signal_and_kills_after_the_grace() {
    let mut c = core();
    let a = planned(&mut c, 1);
    c.admit(a, 0);
    c.lien(JobId(1), true);
    assert!(
        c.stop(JobId(9), JobState::Cancelled, "x".into(), 0)
            .is_empty()
    );
    let steps = c.stop(
        JobId(1),
        JobState::Cancelled,
        "cancelled by ann".into(),
        5_000,
    );
    assert_eq!(kinds(&steps), ["stop-reason cancelled", "signal Term"]);
    assert!(
        c.on_tick(5_000 + GRACE - 1)
            .iter()
            .all(|(_, s)| s.is_empty())
    );
    let due = c.on_tick(5_000 + GRACE);
    assert_eq!(due.len(), 1);
    assert_eq!(kinds(&due[0].1), ["signal Kill"]);
}

#[test]
fn a_job_at_its_limit_is_stopped_by_the_tick() {
    let mut c = core();
    let a = planned(&mut c, 1);
    c.admit(a, 0);
    c.lien(JobId(1), true);
    if let Some(a) = c.running.get_mut(JobId(1)) {
        a.start(0, None, None, false);
    }
    assert!(c.on_tick(59_999).is_empty());
    let due = c.on_tick(60_000);
    assert_eq!(kinds(&due[0].1), ["stop-reason timed_out", "signal Term"]);
}

#[test]
fn a_preempted_job_is_settled_counted_then_waits_again_with_its_id() {
    let mut c = core();
    let mut a = planned(&mut c, 1);
    a.queued.spec.qos = Qos::Scavenger;
    a.queued.spec.requeue = true;
    c.admit(a, 0);
    c.lien(JobId(1), true);
    if let Some(a) = c.running.get_mut(JobId(1)) {
        a.start(0, None, Some(41), true);
    }
    c.stop(
        JobId(1),
        JobState::Preempted,
        "preempted for job 2".into(),
        20_000,
    );
    let end = End {
        at_ms: Some(21_000),
        signal: Some(15),
        ..End::default()
    };
    let Some(f) = c.ended(JobId(1), end, 21_000) else {
        panic!("followed");
    };
    let steps = f.effects(JobId(1));
    // Its logs go on with its next run: not sealed.
    assert_eq!(
        kinds(&steps),
        [
            "settle 21000",
            "fair-share 21000",
            "requeue running->pending",
            "release",
        ]
    );
    let Effect::Requeue { reason, set, .. } = &steps[2] else {
        panic!("a requeue");
    };
    assert_eq!(reason, "preempted for job 2; requeued");
    assert_eq!((set.end_ms, set.gpu_ms), (Some(21_000), Some(21_000)));
}

#[test]
fn a_preempted_job_with_no_requeue_ends_preempted() {
    let mut c = core();
    let mut a = planned(&mut c, 1);
    a.queued.spec.requeue = false;
    c.admit(a, 0);
    c.lien(JobId(1), true);
    if let Some(a) = c.running.get_mut(JobId(1)) {
        a.start(0, None, None, true);
    }
    c.stop(JobId(1), JobState::Preempted, "preempted".into(), 20_000);
    let f = c.ended(JobId(1), End::default(), 21_000);
    let steps = f.map(|f| f.effects(JobId(1))).unwrap_or_default();
    assert_eq!(
        kinds(&steps),
        [
            "settle 21000",
            "fair-share 21000",
            "record running->preempted",
            "release",
            "seal-logs"
        ]
    );
}

#[test]
fn a_requeue_stops_the_run_then_settles_it_and_waits_again() {
    let mut c = core();
    let mut a = planned(&mut c, 1);
    a.queued.spec.requeue = true;
    c.admit(a, 0);
    c.lien(JobId(1), true);
    if let Some(a) = c.running.get_mut(JobId(1)) {
        a.start(0, None, None, true);
    }
    let Ok(reason) = c.requeue(JobId(1), "ann") else {
        panic!("a running job is requeued");
    };
    assert_eq!(reason, "requeued by ann");
    let steps = c.stop(JobId(1), JobState::Pending, reason, 5_000);
    assert_eq!(kinds(&steps), ["stop-reason pending", "signal Term"]);
    assert_eq!(
        c.requeue(JobId(1), "ann"),
        Err(crate::core::NoRequeue::Stopping)
    );
    // It exits on SIGTERM with status 143: the run ends as asked, not failed.
    let end = End {
        at_ms: Some(6_000),
        exit_code: Some(143),
        ..End::default()
    };
    let f = c.ended(JobId(1), end, 6_000);
    let steps = f.map(|f| f.effects(JobId(1))).unwrap_or_default();
    assert_eq!(
        kinds(&steps),
        [
            "settle 6000",
            "fair-share 6000",
            "requeue running->pending",
            "release"
        ]
    );
    let Effect::Settle { charging, .. } = &steps[0] else {
        panic!("a settlement");
    };
    assert_eq!(charging.run, 0, "the run that ended is settled");
    assert_eq!(
        c.requeue(JobId(1), "ann"),
        Err(crate::core::NoRequeue::NotActive)
    );
}

#[test]
fn a_requeue_is_refused_for_a_waiting_job_and_with_no_requeue() {
    let mut c = core();
    let mut a = planned(&mut c, 1);
    assert_eq!(
        c.requeue(JobId(1), "ann"),
        Err(crate::core::NoRequeue::NotActive),
        "taken out of the queue for its admission"
    );
    a.queued.spec.requeue = false;
    c.admit(a, 0);
    c.lien(JobId(1), true);
    assert_eq!(
        c.requeue(JobId(1), "ann"),
        Err(crate::core::NoRequeue::NotRequeueable)
    );
}

#[test]
fn a_requeue_before_the_job_ran_releases_its_lien_and_waits_again() {
    let mut c = core();
    let mut a = planned(&mut c, 1);
    a.queued.spec.requeue = true;
    c.admit(a, 0);
    c.lien(JobId(1), true);
    let Ok(reason) = c.requeue(JobId(1), "ann") else {
        panic!("an admitted job is requeued");
    };
    c.stop(JobId(1), JobState::Pending, reason, 1_000);
    let f = c.ended(JobId(1), End::default(), 2_000);
    let steps = f.map(|f| f.effects(JobId(1))).unwrap_or_default();
    assert_eq!(kinds(&steps), ["settle 0", "requeue admitted->pending"]);
}

#[test]
fn an_end_before_the_start_was_reported_records_the_start_first() {
    let mut c = core();
    let a = planned(&mut c, 1);
    c.admit(a, 0);
    c.lien(JobId(1), true);
    let end = End {
        at_ms: Some(9_000),
        exit_code: Some(0),
        ran: Some(aisc_model::engine::Ran {
            at_ms: 1_000,
            node: "n1".into(),
            reason: "ran on n1".into(),
        }),
        ..End::default()
    };
    let Some(f) = c.ended(JobId(1), end, 9_000) else {
        panic!("followed");
    };
    let steps = f.effects(JobId(1));
    assert_eq!(
        kinds(&steps),
        [
            "record admitted->running",
            "settle 8000",
            "fair-share 8000",
            "record running->completed",
            "release"
        ]
    );
}

#[test]
fn a_job_the_engine_could_not_start_waits_again_or_fails_without_charge() {
    let mut c = core();
    let a = planned(&mut c, 1);
    c.admit(a, 0);
    c.lien(JobId(1), true);
    let steps = c.on_not_started(JobId(1), "slurmctld down".into(), true, 1_000);
    assert_eq!(kinds(&steps), ["record admitted->pending"]);
    assert!(c.queue.contains(JobId(1)));

    let a = planned(&mut c, 2);
    c.admit(a, 0);
    c.lien(JobId(2), true);
    let steps = c.on_not_started(JobId(2), "invalid account".into(), false, 1_000);
    assert_eq!(kinds(&steps), ["settle 0", "record admitted->failed"]);
    assert!(
        c.on_not_started(JobId(2), "again".into(), false, 1_000)
            .is_empty()
    );
}

#[test]
fn a_stop_asked_before_the_engine_knew_the_job_is_sent_again() {
    let mut c = core();
    let a = planned(&mut c, 1);
    c.admit(a, 0);
    c.lien(JobId(1), true);
    assert_eq!(kinds(&c.accepted(JobId(1), 41)), ["engine-job"]);
    c.stop(JobId(1), JobState::Cancelled, "cancelled".into(), 1_000);
    assert_eq!(
        kinds(&c.accepted(JobId(1), 41)),
        ["signal Term", "engine-job"]
    );
}

#[test]
fn a_warning_goes_once_before_the_limit_then_the_limit_stops_the_job() {
    let mut c = core();
    let mut a = planned(&mut c, 1);
    a.queued.spec.signal = Some(aisc_model::signal::Warning {
        signal: 10,
        before_s: 5,
        batch_only: false,
    });
    c.admit(a, 0);
    c.lien(JobId(1), true);
    if let Some(a) = c.running.get_mut(JobId(1)) {
        a.start(0, None, None, false);
    }
    assert_eq!(c.next_due(), Some(55_000));
    assert!(c.on_tick(54_999).is_empty());
    let due = c.on_tick(55_000);
    assert_eq!(kinds(&due[0].1), ["signal Signal(10)"]);
    assert!(c.on_tick(56_000).is_empty(), "once");
    assert_eq!(c.next_due(), Some(60_000));
    assert_eq!(
        kinds(&c.on_tick(60_000)[0].1),
        ["stop-reason timed_out", "signal Term"]
    );
}
