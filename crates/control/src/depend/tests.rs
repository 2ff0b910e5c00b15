//! Jobs waiting for others, with explicit time.

use super::*;
use crate::core::EngineTerms;
use aisc_model::dependency::Dependency;
use aisc_sched::{Placement, Plan, Start};

fn core() -> Core {
    Core::new(EngineTerms {
        limits_by_aisc: true,
        queue_depth: None,
        grace_ms: 10_000,
    })
}

fn waiting(c: &mut Core, id: i64, dep: &str) {
    let mut q = crate::test_job(id, 0, 60);
    q.spec.dependency = Some(Dependency::parse(dep).expect("a dependency"));
    c.queue.insert(q);
}

fn runs(c: &mut Core, id: i64, at_ms: i64) {
    c.queue.insert(crate::test_job(id, 0, 60));
    let plan = Plan {
        starts: vec![Start {
            id: JobId(id),
            placement: Placement::on_node(0, vec![], 1, 64),
        }],
        ..Plan::default()
    };
    for (q, p, _) in c.hand_over(&plan) {
        let qid = q.id;
        c.running
            .insert(qid, crate::running::Active::admitted(q, p, at_ms));
    }
    if let Some(a) = c.running.get_mut(JobId(id)) {
        a.start(at_ms, None, None, false);
    }
}

fn considered(c: &Core) -> Vec<i64> {
    c.queue.pending().map(|q| q.id.0).collect()
}

#[test]
fn a_job_waits_apart_until_the_job_it_names_completes() {
    let mut c = core();
    runs(&mut c, 1, 0);
    waiting(&mut c, 2, "afterok:1");
    assert!(considered(&c).is_empty(), "not planned while it waits");
    let steps = c.dependencies(&HashMap::new(), 1_000);
    assert!(matches!(&steps[..], [Effect::Reasons(r)] if r[0].1 == "Dependency"));
    assert_eq!(c.queue.waits_for(JobId(2)), Some("job 1 to end (afterok)"));
    assert!(
        c.dependencies(&HashMap::new(), 2_000).is_empty(),
        "the reason is stored once"
    );
    c.running.remove(JobId(1));
    let ended = HashMap::from([(JobId(1).into(), Seen::Ended(JobState::Completed, 3_000))]);
    assert!(c.dependencies(&ended, 3_000).is_empty());
    assert_eq!(considered(&c), vec![2]);
}

#[test]
fn a_dependency_that_can_never_hold_cancels_the_job_without_running_it() {
    let mut c = core();
    waiting(&mut c, 2, "afterok:1");
    waiting(&mut c, 3, "afternotok:1");
    let ended = HashMap::from([(JobId(1).into(), Seen::Ended(JobState::Failed, 500))]);
    let steps = c.dependencies(&ended, 1_000);
    let cancelled: Vec<_> = steps
        .iter()
        .filter_map(|e| match e {
            Effect::Record {
                job, to, reason, ..
            } => Some((job.0, *to, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled.len(), 1);
    assert_eq!((cancelled[0].0, cancelled[0].1), (2, JobState::Cancelled));
    assert!(
        cancelled[0]
            .2
            .starts_with("DependencyNeverSatisfied: job 1 ended failed (afterok)"),
        "{}",
        cancelled[0].2
    );
    assert!(!c.queue.contains(JobId(2)));
    assert_eq!(considered(&c), vec![3], "afternotok holds");
}

#[test]
fn after_waits_for_the_start_and_its_delay() {
    let mut c = core();
    runs(&mut c, 1, 10_000);
    waiting(&mut c, 2, "after:1+1");
    c.dependencies(&HashMap::new(), 20_000);
    assert!(considered(&c).is_empty(), "a minute after the start");
    c.dependencies(&HashMap::new(), 70_000);
    assert_eq!(considered(&c), vec![2]);
}

#[test]
fn singleton_waits_for_the_earlier_job_of_its_name_and_user() {
    let mut c = core();
    runs(&mut c, 1, 0);
    waiting(&mut c, 2, "singleton");
    c.dependencies(&HashMap::new(), 1_000);
    assert!(considered(&c).is_empty());
    c.running.remove(JobId(1));
    c.dependencies(&HashMap::new(), 2_000);
    assert_eq!(considered(&c), vec![2]);
}

#[test]
fn any_of_several_is_enough_with_a_question_mark() {
    let mut c = core();
    waiting(&mut c, 3, "afterok:1?afterok:2");
    let ended = HashMap::from([
        (JobId(1).into(), Seen::Ended(JobState::Failed, 1)),
        (JobId(2).into(), Seen::Ended(JobState::Completed, 2)),
    ]);
    c.dependencies(&ended, 3);
    assert_eq!(considered(&c), vec![3]);
    waiting(&mut c, 4, "afterok:1,afterok:2");
    c.dependencies(&ended, 4);
    assert!(
        !c.queue.contains(JobId(4)),
        "all must hold, and one never can"
    );
}

#[test]
fn the_driver_looks_up_only_jobs_the_core_does_not_follow() {
    let mut c = core();
    runs(&mut c, 1, 0);
    waiting(&mut c, 3, "afterany:1:2");
    assert_eq!(
        c.dependency_targets().into_iter().collect::<Vec<_>>(),
        vec![JobRef::from(JobId(2))]
    );
}

#[test]
fn a_job_waits_for_its_start_time_then_for_what_it_depends_on() {
    let mut c = core();
    let mut q = crate::test_job(1, 0, 60);
    q.spec.begin_ms = Some(10_000);
    q.spec.dependency = Some(Dependency::parse("afterany:9").expect("a dependency"));
    c.queue.insert(q);
    let steps = c.dependencies(&HashMap::new(), 5_000);
    assert!(
        matches!(&steps[..], [Effect::Reasons(r)] if r[0].1 == "BeginTime"),
        "{steps:?}"
    );
    assert!(
        c.queue
            .waits_for(JobId(1))
            .is_some_and(|w| w.contains("--begin"))
    );
    let steps = c.dependencies(&HashMap::new(), 10_000);
    assert!(
        matches!(&steps[..], [Effect::Reasons(r)] if r[0].1 == "Dependency"),
        "{steps:?}"
    );
    let ended = HashMap::from([(JobId(9).into(), Seen::Ended(JobState::Failed, 1))]);
    c.dependencies(&ended, 11_000);
    assert_eq!(considered(&c), vec![1]);
}

#[test]
fn an_aftercorr_array_splits_off_each_task_whose_pair_ended_then_decides_it() {
    use aisc_model::array::Array;
    let mut c = core();
    let mut q = crate::test_job(5, 0, 60);
    q.spec.array = Some(Array::parse("0-3", 10_001).expect("tasks"));
    q.spec.dependency = Some(Dependency::parse("aftercorr:1").expect("a dependency"));
    let tasks = q
        .spec
        .array
        .as_ref()
        .map(|a| a.tasks.clone())
        .expect("tasks");
    c.queue.insert_array(q, tasks);
    let task = |t: u32| JobRef {
        id: JobId(1),
        task: Some(t),
    };
    // Each waiting task names the same task of array 1.
    assert_eq!(
        c.dependency_targets().into_iter().collect::<Vec<_>>(),
        [task(0), task(1), task(2), task(3)]
    );
    let ended = HashMap::from([
        (task(0), Seen::Ended(JobState::Completed, 1)),
        (task(1), Seen::Ended(JobState::Failed, 1)),
        (task(2), Seen::Running(1)),
    ]);
    let steps = c.dependencies(&ended, 10);
    let split: Vec<u32> = steps
        .iter()
        .filter_map(|e| match e {
            Effect::SplitTask { array, task } if *array == JobId(5) => Some(*task),
            _ => None,
        })
        .collect();
    assert_eq!(split, [0, 1], "tasks 2 and 3 wait for theirs");
    assert!(considered(&c).is_empty(), "the array itself waits");
    // Split off, a task is decided on its own: 0 may start, 1 never can.
    for t in split {
        let (q, _) = c.split_task(JobId(5), t).expect("a waiting task");
        let mut q = q;
        q.id = JobId(100 + i64::from(t));
        c.queue.insert(q);
    }
    let steps = c.dependencies(&ended, 20);
    assert_eq!(considered(&c), vec![100]);
    assert!(
        steps
            .iter()
            .any(|e| matches!(e, Effect::Record { job, reason, .. }
            if *job == JobId(101) && reason.contains("job 1_1 ended failed (aftercorr)"))),
        "{steps:?}"
    );
}
