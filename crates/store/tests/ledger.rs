//! The ledger's rules, enforced by the store whatever races.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use aisc_store::{Durability, NewEntry, Refusal, Store, StoreError};

fn entry(kind: &str, job: Option<i64>, postings: &[(&str, i64)], guarded: &[&str]) -> NewEntry {
    NewEntry {
        kind: kind.into(),
        scheme: Some(1),
        grant: Some(1),
        job,
        at_ms: 1,
        memo: String::new(),
        postings: postings.iter().map(|(a, v)| (a.to_string(), *v)).collect(),
        guarded: guarded.iter().map(|a| a.to_string()).collect(),
    }
}

async fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("aisc.db"), Durability::Full)
        .await
        .unwrap()
}

#[tokio::test]
async fn refused_entries_post_nothing() {
    let dir = tempfile::tempdir().unwrap();
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
        "a job's lien is posted once"
    );
    let balances = store.balances("s1:").await.unwrap();
    assert_eq!(balances.get("s1:pool"), Some(&900));
    assert_eq!(balances.get("s1:funding"), Some(&-1000));
    assert!(!balances.contains_key("held"));
}

#[tokio::test]
async fn racing_liens_never_overdraw() {
    let dir = tempfile::tempdir().unwrap();
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
}
