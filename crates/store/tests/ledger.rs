//! The ledger's rules, enforced by the store whatever races.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use aisc_store::{NewEntry, Refusal, Store, StoreError};

fn entry(kind: &str, job: Option<i64>, postings: &[(&str, i64)], guarded: &[&str]) -> NewEntry {
    NewEntry {
        carry: None,
        kind: kind.into(),
        scheme: Some(1),
        grant: Some(1),
        job,
        at_ms: 1,
        memo: String::new(),
        run: 0,
        postings: postings.iter().map(|(a, v)| (a.to_string(), *v)).collect(),
        guarded: guarded.iter().map(|a| a.to_string()).collect(),
    }
}

async fn open(dir: &TestDb) -> Store {
    dir.open().await
}

async fn refused_entries_post_nothing(dir: TestDb) {
    let store = open(&dir).await;
    store
        .post(
            entry(
                "fund",
                None,
                &[("s1:funding", -1000), ("s1:pool", 1000)],
                &["s1:pool"],
            ),
            None,
        )
        .await
        .unwrap();
    let unbalanced = store
        .post(entry("fund", None, &[("s1:pool", 5)], &[]), None)
        .await;
    assert!(matches!(
        unbalanced,
        Err(StoreError::Ledger(Refusal::Unbalanced(5)))
    ));
    let overdraw = store
        .post(
            entry(
                "approve",
                None,
                &[("s1:pool", -1500), ("g1:subsidy", 1500)],
                &["s1:pool"],
            ),
            None,
        )
        .await;
    assert!(
        matches!(overdraw, Err(StoreError::Ledger(Refusal::Overdrawn(ref a, -500))) if a == "s1:pool"),
        "{overdraw:?}"
    );
    assert_eq!(store.balance("s1:pool").await.unwrap(), 1000);
    assert_eq!(
        store.balance("g1:subsidy").await.unwrap(),
        0,
        "the refused entry left no posting"
    );
    assert_eq!(store.ledger_total().await.unwrap(), 0);

    store
        .post(
            entry(
                "lien",
                Some(7),
                &[("s1:pool", -100), ("held", 100)],
                &["s1:pool"],
            ),
            None,
        )
        .await
        .unwrap();
    let again = store
        .post(
            entry(
                "lien",
                Some(7),
                &[("s1:pool", -100), ("held", 100)],
                &["s1:pool"],
            ),
            None,
        )
        .await;
    assert!(matches!(again, Err(StoreError::Ledger(Refusal::Duplicate))));
    assert_eq!(
        store.balance("s1:pool").await.unwrap(),
        900,
        "a run's lien is posted once"
    );
    // A requeued job's next run holds a lien of its own, once too.
    let next = || NewEntry {
        run: 1,
        ..entry(
            "lien",
            Some(7),
            &[("s1:pool", -100), ("held", 100)],
            &["s1:pool"],
        )
    };
    store.post(next(), None).await.unwrap();
    assert!(matches!(
        store.post(next(), None).await,
        Err(StoreError::Ledger(Refusal::Duplicate))
    ));
    assert!(store.has_entry("lien", 7, 1).await.unwrap());
    assert!(!store.has_entry("lien", 7, 2).await.unwrap());
    assert_eq!(store.balance("s1:pool").await.unwrap(), 800);
    let balances = store.balances("s1:").await.unwrap();
    assert_eq!(balances.get("s1:pool"), Some(&800));
    assert_eq!(balances.get("s1:funding"), Some(&-1000));
    assert!(!balances.contains_key("held"));
}

async fn racing_liens_never_overdraw(dir: TestDb) {
    let store = open(&dir).await;
    store
        .post(
            entry("fund", None, &[("src", -1000), ("avail", 1000)], &[]),
            None,
        )
        .await
        .unwrap();
    // 50 jobs each asking for 30: only 33 fit in 1000.
    let tasks: Vec<_> = (0..50)
        .map(|j| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .post(
                        entry("lien", Some(j), &[("avail", -30), ("held", 30)], &["avail"]),
                        None,
                    )
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Ledger(Refusal::Overdrawn(..))) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ok, 33);
    assert_eq!(store.balance("avail").await.unwrap(), 10);
    assert_eq!(store.balance("held").await.unwrap(), 990);
    assert_eq!(store.ledger_total().await.unwrap(), 0);
    assert_eq!(
        store.ledger_drift().await.unwrap(),
        vec![],
        "running balances equal the sums of postings"
    );
}

fn scheme(name: &str) -> aisc_model::scheme::Scheme {
    aisc_model::scheme::Scheme {
        name: name.into(),
        title: "t".into(),
        pool_cents: 1000,
        eligible: vec![aisc_model::tenancy::OrgKind::University],
        default_rate_bp: 7000,
        max_rate_bp: 9000,
        criteria: vec![aisc_model::scheme::Criterion {
            name: "impact".into(),
            weight: 100,
        }],
        opens_ms: 0,
        closes_ms: 10,
        scavenger_discount_bp: aisc_model::scheme::DEFAULT_SCAVENGER_DISCOUNT_BP,
        min_reviews: aisc_model::scheme::DEFAULT_MIN_REVIEWS,
    }
}

fn audit() -> aisc_store::NewAudit {
    aisc_store::NewAudit {
        at_ms: 1,
        actor: "a".into(),
        action: "scheme.create".into(),
        target: "scheme:x".into(),
        summary: String::new(),
        source: "t".into(),
    }
}

async fn a_write_that_fails_halfway_leaves_nothing(dir: TestDb) {
    let store = open(&dir).await;
    // The scheme row goes in, then its funding entry is refused: neither stays, nor its audit event.
    let unbalanced: aisc_store::EntryFor =
        Box::new(|id| entry("fund", None, &[(&format!("scheme/{id}/pool"), 1000)], &[]));
    let refused = store
        .create_scheme(scheme("broke"), 1, unbalanced, audit())
        .await;
    assert!(
        matches!(refused, Err(StoreError::Ledger(Refusal::Unbalanced(1000)))),
        "{refused:?}"
    );
    assert!(store.schemes().await.unwrap().is_empty());
    assert!(
        store
            .audit_list(None, 10, &Default::default())
            .await
            .unwrap()
            .is_empty()
    );

    let fund: aisc_store::EntryFor = Box::new(|id| {
        let mut e = entry(
            "fund",
            None,
            &[
                (&format!("scheme/{id}/funding"), -1000),
                (&format!("scheme/{id}/pool"), 1000),
            ],
            &[],
        );
        e.scheme = Some(id);
        e
    });
    let id = store
        .create_scheme(scheme("ok"), 1, fund, audit())
        .await
        .unwrap();
    let s = store.scheme("ok").await.unwrap();
    assert_eq!(
        (s.id, s.scheme.pool_cents),
        (id, 1000),
        "funded amount read back from the ledger"
    );
    assert_eq!(
        store.balance(&format!("scheme/{id}/pool")).await.unwrap(),
        1000
    );
}

async fn concurrent_ends_of_one_job_charge_it_once(dir: TestDb) {
    let store = open(&dir).await;
    store
        .post(
            entry("fund", None, &[("src", -1000), ("avail", 1000)], &[]),
            None,
        )
        .await
        .unwrap();
    store
        .post(
            entry(
                "lien",
                Some(9),
                &[("avail", -100), ("held", 100)],
                &["avail"],
            ),
            None,
        )
        .await
        .unwrap();
    // Twenty racing settlements of job 9 (as if its end were processed twice, concurrently).
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let e = entry(
                    "settle",
                    Some(9),
                    &[("held", -100), ("avail", 60), ("used", 40)],
                    &["held", "avail"],
                );
                store.post(e, None).await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Ledger(Refusal::Duplicate)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(store.balance("used").await.unwrap(), 40);
    assert_eq!(store.balance("held").await.unwrap(), 0);
    assert_eq!(store.ledger_total().await.unwrap(), 0);
    assert_eq!(
        store.ledger_drift().await.unwrap(),
        vec![],
        "running balances equal the sums of postings"
    );
}

async fn a_batch_posts_whole_or_not_at_all(dir: TestDb) {
    let store = open(&dir).await;
    store
        .post(
            entry("fund", None, &[("src", -1000), ("avail", 1000)], &[]),
            None,
        )
        .await
        .unwrap();
    let liens = |jobs: std::ops::Range<i64>, each: i64| -> Vec<NewEntry> {
        jobs.map(|j| {
            entry(
                "lien",
                Some(j),
                &[("avail", -each), ("held", each)],
                &["avail"],
            )
        })
        .collect()
    };
    assert_eq!(store.post_batch(liens(0..10, 50), None).await.unwrap(), 10);
    assert_eq!(store.balance("avail").await.unwrap(), 500);
    // 11 more of 50 would overdraw by 50: none is posted.
    let over = store.post_batch(liens(10..21, 50), None).await;
    assert!(
        matches!(over, Err(StoreError::Ledger(Refusal::Overdrawn(ref a, -50))) if a == "avail"),
        "{over:?}"
    );
    assert_eq!(store.balance("avail").await.unwrap(), 500);
    // A job already holding a lien spoils the whole batch.
    let dup = store.post_batch(liens(9..12, 1), None).await;
    assert!(
        matches!(dup, Err(StoreError::Ledger(Refusal::Duplicate))),
        "{dup:?}"
    );
    assert_eq!(store.balance("held").await.unwrap(), 500);
    // And an ordinary post afterwards still gets a fresh id.
    store
        .post(
            entry("lien", Some(99), &[("avail", -1), ("held", 1)], &["avail"]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(store.ledger_total().await.unwrap(), 0);
    assert_eq!(
        store.ledger_drift().await.unwrap(),
        vec![],
        "running balances equal the sums of postings"
    );
}

async fn a_running_balance_edited_behind_the_ledger_is_reported(dir: TestDb) {
    let store = open(&dir).await;
    store
        .post(
            entry("fund", None, &[("src", -1000), ("avail", 1000)], &[]),
            None,
        )
        .await
        .unwrap();
    assert!(store.ledger_drift().await.unwrap().is_empty());
    dir.tamper(
        "UPDATE ledger_balances SET balance = 999999 WHERE account = 'avail'",
        &[],
    )
    .await;
    assert_eq!(
        store.ledger_drift().await.unwrap(),
        vec![("avail".to_string(), 999_999, 1000)]
    );
}

mod common;
use common::TestDb;
conformance!(
    refused_entries_post_nothing,
    racing_liens_never_overdraw,
    a_write_that_fails_halfway_leaves_nothing,
    concurrent_ends_of_one_job_charge_it_once,
    a_batch_posts_whole_or_not_at_all,
    a_running_balance_edited_behind_the_ledger_is_reported,
);
