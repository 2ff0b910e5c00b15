//! The store against a real database: an SQLite file, and PostgreSQL (see `common`).
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use aisc_model::audit::{ChainError, Verifier};
use aisc_model::{JobCommand, JobId, JobSpec, JobState, Resources, UserId};
use aisc_store::{
    Fields, JobChange, JobFilter, NewAudit, NewJob, NewToken, NewUser, Store, StoreError,
    Verification,
};

fn spec(name: &str) -> JobSpec {
    let resources = Resources {
        gpus: 1,
        cpus: 2,
        mem_mb: 4096,
    };
    JobSpec::new(
        name,
        JobCommand::Argv(vec!["true".into()]),
        "/tmp",
        resources,
        600,
    )
}

async fn open(dir: &TestDb) -> (Store, UserId) {
    let store = dir.open().await;
    let user = match store.user_count().await.unwrap() {
        0 => store
            .create_user(user("alice", "admin"), None)
            .await
            .unwrap(),
        _ => UserId(1),
    };
    (store, user)
}

fn user(name: &str, role: &str) -> NewUser {
    NewUser {
        name: name.into(),
        role: role.into(),
        password_hash: None,
        created_ms: 1,
    }
}

fn audit(action: &str) -> NewAudit {
    NewAudit {
        at_ms: 5,
        actor: "alice".into(),
        action: action.into(),
        target: String::new(),
        summary: "test".into(),
        source: "127.0.0.1".into(),
    }
}

fn new_job(owner: UserId, name: &str) -> NewJob {
    NewJob {
        owner,
        spec: spec(name),
        reason: "Priority".into(),
        submit_ms: 1000,
        project: None,
        charging: None,
        array_waiting: None,
    }
}

async fn jobs_survive_reopening_with_their_history(dir: TestDb) {
    let (store, alice) = open(&dir).await;
    let id = store
        .submit(new_job(alice, "a"), audit("job.submit"))
        .await
        .unwrap();
    store
        .change(JobChange::Transition {
            id,
            from: JobState::Pending,
            to: JobState::Admitted,
            reason: "resources free".into(),
            at_ms: 2000,
            set: Box::new(Fields {
                node: Some("local".into()),
                gpu_ids: Some(vec![0, 3]),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    store.close().await;

    let (store, _) = open(&dir).await;
    let job = store.job(id).await.unwrap();
    assert_eq!(job.state, JobState::Admitted);
    assert_eq!(job.gpu_ids, vec![0, 3]);
    assert_eq!(job.spec.unwrap().name, "a");
    let events = store.events(id).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!((events[0].from, events[0].to), (None, JobState::Pending));
    assert_eq!(
        (events[1].from, events[1].to),
        (Some(JobState::Pending), JobState::Admitted)
    );
    assert_eq!(events[1].reason, "resources free");
}

async fn a_requeued_job_keeps_its_id_and_each_run_is_kept(dir: TestDb) {
    let (store, alice) = open(&dir).await;
    let id = store
        .submit(new_job(alice, "a"), audit("job.submit"))
        .await
        .unwrap();
    let step = |from, to, at_ms, set: Fields| JobChange::Transition {
        id,
        from,
        to,
        reason: format!("{from} to {to}"),
        at_ms,
        set: Box::new(set),
    };
    let placed = Fields {
        node: Some("n1".into()),
        gpu_ids: Some(vec![1]),
        ..Default::default()
    };
    store
        .change(step(JobState::Pending, JobState::Admitted, 2_000, placed))
        .await
        .unwrap();
    let started = Fields {
        start_ms: Some(2_500),
        ..Default::default()
    };
    store
        .change(step(JobState::Admitted, JobState::Running, 2_500, started))
        .await
        .unwrap();
    let requeue = |from| JobChange::Requeue {
        id,
        from,
        reason: "requeued by alice".into(),
        at_ms: 9_000,
        set: Box::new(Fields {
            end_ms: Some(9_000),
            exit_code: Some(143),
            gpu_ms: Some(6_500),
            ..Default::default()
        }),
    };
    // Only from the state it is in, and never from pending.
    assert!(matches!(
        store.change(requeue(JobState::Admitted)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(store.job_runs(id).await.unwrap().is_empty());
    store.change(requeue(JobState::Running)).await.unwrap();
    assert!(matches!(
        store.change(requeue(JobState::Pending)).await,
        Err(StoreError::Illegal(_))
    ));
    let job = store.job(id).await.unwrap();
    assert_eq!(
        (job.id, job.state, job.restarts),
        (id, JobState::Pending, 1)
    );
    assert_eq!(
        (
            job.start_ms,
            job.end_ms,
            job.node,
            job.gpu_ms,
            job.exit_code
        ),
        (None, None, None, None, None),
        "cleared for its next run"
    );
    let runs = store.job_runs(id).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].run, runs[0].node.as_deref(), runs[0].start_ms),
        (0, Some("n1"), Some(2_500))
    );
    assert_eq!(
        (runs[0].end_ms, runs[0].exit_code, runs[0].gpu_ms),
        (Some(9_000), Some(143), Some(6_500))
    );
    let last = store.events(id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.from, last.to, last.reason.as_str()),
        (
            Some(JobState::Running),
            JobState::Pending,
            "requeued by alice"
        )
    );
}

async fn a_transition_from_the_wrong_state_changes_nothing(dir: TestDb) {
    let (store, alice) = open(&dir).await;
    let id = store
        .submit(new_job(alice, "a"), audit("job.submit"))
        .await
        .unwrap();
    let wrong = JobChange::Transition {
        id,
        from: JobState::Running,
        to: JobState::Completed,
        reason: "x".into(),
        at_ms: 5,
        set: Box::new(Fields {
            exit_code: Some(0),
            ..Default::default()
        }),
    };
    assert!(matches!(
        store.change(wrong).await,
        Err(StoreError::Conflict { .. })
    ));
    let illegal = JobChange::Transition {
        id,
        from: JobState::Pending,
        to: JobState::Completed,
        reason: "x".into(),
        at_ms: 5,
        set: Box::default(),
    };
    assert!(matches!(
        store.change(illegal).await,
        Err(StoreError::Illegal(_))
    ));
    let job = store.job(id).await.unwrap();
    assert_eq!((job.state, job.exit_code), (JobState::Pending, None));
    assert_eq!(store.events(id).await.unwrap().len(), 1);
}

async fn concurrent_submissions_get_distinct_increasing_ids(dir: TestDb) {
    let (store, alice) = open(&dir).await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .submit(new_job(alice, &format!("j{i}")), audit("job.submit"))
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200);
    let listed = store
        .list(&JobFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 200);
    assert!(listed.windows(2).all(|w| w[0].id > w[1].id), "newest first");
}

async fn listing_filters_and_pages(dir: TestDb) {
    let (store, alice) = open(&dir).await;
    let bob = store.create_user(user("bob", "user"), None).await.unwrap();
    for i in 0..5 {
        store
            .submit(
                new_job(if i % 2 == 0 { alice } else { bob }, "x"),
                audit("job.submit"),
            )
            .await
            .unwrap();
    }
    let bobs = store
        .list(&JobFilter {
            owner: Some(bob),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        bobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![JobId(4), JobId(2)]
    );
    assert!(bobs.iter().all(|j| j.owner_name == "bob"));
    let page = store
        .list(&JobFilter {
            before: Some(JobId(4)),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![JobId(3), JobId(2)]
    );
    let running = store
        .list(&JobFilter {
            state: Some(JobState::Running),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(running.is_empty());
    assert_eq!(store.active().await.unwrap().len(), 5);
}

async fn tokens_authenticate_until_they_expire_or_are_revoked(dir: TestDb) {
    let (store, alice) = open(&dir).await;
    let bob = store.create_user(user("bob", "user"), None).await.unwrap();
    let token = |owner, hash: &str, scope: &str, expires_ms| NewToken {
        user: owner,
        token_hash: hash.into(),
        label: "t".into(),
        scope: scope.into(),
        created_ms: 0,
        expires_ms,
    };
    let h1 = store
        .create_token(token(alice, "h1", "full", None), None)
        .await
        .unwrap();
    store
        .create_token(token(alice, "h2", "read", Some(100)), None)
        .await
        .unwrap();
    let b1 = store
        .create_token(token(bob, "b1", "full", None), None)
        .await
        .unwrap();
    let a = store.authenticate("h1", 50).await.unwrap().unwrap();
    assert_eq!((a.name.as_str(), a.scope.as_str()), ("alice", "full"));
    assert_eq!(
        store.authenticate("h2", 50).await.unwrap().unwrap().scope,
        "read"
    );
    assert!(
        store.authenticate("h2", 100).await.unwrap().is_none(),
        "expired"
    );
    assert!(store.authenticate("nope", 0).await.unwrap().is_none());
    assert!(
        store
            .create_token(token(alice, "h1", "full", None), None)
            .await
            .is_err(),
        "hashes are unique"
    );

    // Bob cannot revoke Alice's token; an administrator (no owner given) can, once.
    assert!(matches!(
        store
            .revoke_token(h1, Some(bob), 60, audit("token.revoke"))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(store.authenticate("h1", 70).await.unwrap().is_some());
    store
        .revoke_token(b1, Some(bob), 60, audit("token.revoke"))
        .await
        .unwrap();
    store
        .revoke_token(h1, None, 60, audit("token.revoke"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .revoke_token(h1, None, 61, audit("token.revoke"))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store.authenticate("h1", 70).await.unwrap().is_none(),
        "revoked"
    );
    assert!(store.authenticate("b1", 70).await.unwrap().is_none());
    let listed = store.tokens(Some(alice)).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .any(|t| t.id == h1 && t.revoked_ms == Some(60))
    );
    assert_eq!(store.tokens(None).await.unwrap().len(), 3);
    // Two successful revocations, each audited; the refused ones are not.
    assert_eq!(
        store.audit_verify().await.unwrap(),
        Verification::Intact { checked: 2 }
    );
}

async fn release_only_applies_to_pending_jobs(dir: TestDb) {
    let (store, alice) = open(&dir).await;
    let mut held = new_job(alice, "h");
    held.spec.hold = true;
    held.reason = "Held".into();
    let id = store.submit(held, audit("job.submit")).await.unwrap();
    assert!(store.job(id).await.unwrap().held);
    store.change(JobChange::Release { id }).await.unwrap();
    let job = store.job(id).await.unwrap();
    assert!(!job.held);
    assert_eq!(job.reason, "Priority");
    assert!(
        store
            .change(JobChange::Release { id: JobId(999) })
            .await
            .is_err()
    );
}

async fn the_audit_trail_chains_every_audited_write_and_catches_edits(dir: TestDb) {
    let (store, alice) = open(&dir).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(
                async move { store.submit(new_job(alice, "x"), audit("job.submit")).await },
            )
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // A refused change records no audit event.
    let refused = JobChange::Release { id: JobId(999) };
    assert!(
        store
            .change_audited(refused, audit("job.release"))
            .await
            .is_err()
    );
    assert_eq!(
        store.audit_verify().await.unwrap(),
        Verification::Intact { checked: 50 }
    );
    let newest = store
        .audit_list(None, 5, &Default::default())
        .await
        .unwrap();
    assert_eq!(newest.len(), 5);
    assert_eq!(newest[0].id, 50);
    assert!(
        newest
            .iter()
            .all(|e| e.action == "job.submit" && e.target.starts_with("job:"))
    );
    let ids: std::collections::HashSet<String> = store
        .audit_list(None, 100, &Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.target)
        .collect();
    assert_eq!(ids.len(), 50, "each submission's event names its own job");
    store.close().await;

    // Edit one event behind aisc's back.
    dir.tamper(
        "UPDATE audit_events SET summary = 'nothing happened' WHERE id = 17",
        &[],
    )
    .await;
    let (store, _) = open(&dir).await;
    assert_eq!(
        store.audit_verify().await.unwrap(),
        Verification::Broken {
            checked: 16,
            error: ChainError::Altered(17)
        }
    );
    store.close().await;

    dir.tamper("DELETE FROM audit_events WHERE id = 17", &[])
        .await;
    let (store, _) = open(&dir).await;
    assert_eq!(
        store.audit_verify().await.unwrap(),
        Verification::Broken {
            checked: 16,
            error: ChainError::Gap {
                after: 16,
                found: 18
            }
        }
    );
}

async fn a_resumed_check_reads_only_new_events_and_still_catches_an_edit_of_the_last_one(
    dir: TestDb,
) {
    let (store, alice) = open(&dir).await;
    for _ in 0..10 {
        store
            .submit(new_job(alice, "x"), audit("job.submit"))
            .await
            .unwrap();
    }
    let (first, v) = store.audit_verify_from(Verifier::new()).await.unwrap();
    assert_eq!(first, Verification::Intact { checked: 10 });
    assert_eq!((v.last_id(), v.checked()), (10, 10));
    for _ in 0..5 {
        store
            .submit(new_job(alice, "x"), audit("job.submit"))
            .await
            .unwrap();
    }
    let (again, v) = store.audit_verify_from(v).await.unwrap();
    assert_eq!(
        again,
        Verification::Intact { checked: 15 },
        "the count goes on"
    );
    assert_eq!(v.last_id(), 15);
    store.close().await;

    for id in [3, 15] {
        dir.tamper(
            "UPDATE audit_events SET summary = 'nothing happened' WHERE id = $1",
            &[id],
        )
        .await;
    }
    let (store, _) = open(&dir).await;
    // The last event checked is read again: its edit is caught without a full check.
    assert_eq!(
        store.audit_verify_from(v.clone()).await.unwrap().0,
        Verification::Broken {
            checked: 14,
            error: ChainError::Altered(15)
        }
    );
    // Older ones are the full check's: it names the first.
    assert_eq!(
        store.audit_verify().await.unwrap(),
        Verification::Broken {
            checked: 2,
            error: ChainError::Altered(3)
        }
    );
}

async fn a_failed_batch_rolls_back_whole_and_the_next_one_continues_cleanly(dir: TestDb) {
    let (store, alice) = open(&dir).await;
    let first = store
        .submit(new_job(alice, "ok"), audit("job.submit"))
        .await
        .unwrap();
    // An owner that does not exist violates a foreign key: the batch fails.
    let bad = store
        .submit(new_job(UserId(999), "bad"), audit("job.submit"))
        .await;
    assert!(matches!(bad, Err(StoreError::CommitFailed(_))), "{bad:?}");
    let next = store
        .submit(new_job(alice, "next"), audit("job.submit"))
        .await
        .unwrap();
    assert_eq!(
        next,
        JobId(first.0 + 1),
        "no id was used up by the failed batch"
    );
    let all = store
        .list(&JobFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(),
        vec!["next", "ok"]
    );
    assert_eq!(
        store.audit_verify().await.unwrap(),
        Verification::Intact { checked: 2 }
    );
}

mod common;
use common::TestDb;
conformance!(
    jobs_survive_reopening_with_their_history,
    a_requeued_job_keeps_its_id_and_each_run_is_kept,
    a_transition_from_the_wrong_state_changes_nothing,
    concurrent_submissions_get_distinct_increasing_ids,
    listing_filters_and_pages,
    tokens_authenticate_until_they_expire_or_are_revoked,
    release_only_applies_to_pending_jobs,
    the_audit_trail_chains_every_audited_write_and_catches_edits,
    a_resumed_check_reads_only_new_events_and_still_catches_an_edit_of_the_last_one,
    a_failed_batch_rolls_back_whole_and_the_next_one_continues_cleanly,
);
