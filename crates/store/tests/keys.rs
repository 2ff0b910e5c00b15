//! Envelope encryption in the store: sealed specs, master keys at open,
//! rotation, sealing of specs written in clear, and crypto-shredding.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use aisc_model::{JobCommand, JobSpec, OrgId, ProjectId, Resources, UserId};
use aisc_store::{
    DataChange, Durability, NewAudit, NewJob, NewUser, Store, StoreError, TenancyChange,
};
use aisc_vault::{KeySource, MasterKey, MasterKeys};
use sqlx::Connection;

const SECRET: &str = "unpublished-result-7f3a9c";

fn spec() -> JobSpec {
    let resources = Resources {
        gpus: 0,
        cpus: 1,
        mem_mb: 64,
    };
    let command = JobCommand::Script(format!("#!/bin/sh\necho {SECRET}\n"));
    JobSpec {
        env: [("TOKEN".to_string(), format!("{SECRET}-env"))].into(),
        ..JobSpec::new("train", command, "/tmp", resources, 60)
    }
}

fn audit() -> NewAudit {
    NewAudit {
        at_ms: 5,
        actor: "alice".into(),
        action: "test".into(),
        target: String::new(),
        summary: "test".into(),
        source: "127.0.0.1".into(),
    }
}

fn key_file(dir: &tempfile::TempDir) -> KeySource {
    KeySource::File(dir.path().join("master.key"))
}

async fn open_with(dir: &tempfile::TempDir, masters: MasterKeys) -> Result<Store, StoreError> {
    Store::open(&dir.path().join("aisc.db"), Durability::Full, masters).await
}

async fn open(dir: &tempfile::TempDir) -> Store {
    open_with(dir, MasterKeys::load(key_file(dir), true).unwrap())
        .await
        .unwrap()
}

/// A user, an organisation and a project.
async fn tenant(store: &Store) -> (UserId, ProjectId) {
    let user = store
        .create_user(
            NewUser {
                name: "alice".into(),
                role: "user".into(),
                password_hash: None,
                created_ms: 1,
            },
            None,
        )
        .await
        .unwrap();
    let org = store
        .tenancy(
            TenancyChange::CreateOrg {
                name: "hku".into(),
                kind: "university".into(),
                at_ms: 1,
            },
            None,
        )
        .await
        .unwrap();
    let project = store
        .tenancy(
            TenancyChange::CreateProject {
                org: OrgId(org),
                name: "proj".into(),
                title: "A project".into(),
                pi: user,
                at_ms: 1,
            },
            None,
        )
        .await
        .unwrap();
    (user, ProjectId(project))
}

async fn submit(store: &Store, owner: UserId, project: Option<ProjectId>) -> aisc_model::JobId {
    store
        .submit(
            NewJob {
                owner,
                spec: spec(),
                reason: "Priority".into(),
                submit_ms: 1000,
                project,
                charging: None,
                array_waiting: None,
            },
            audit(),
        )
        .await
        .unwrap()
}

/// A read-only connection of its own to the database file.
async fn raw(dir: &tempfile::TempDir) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}?mode=ro",
        dir.path().join("aisc.db").display()
    ))
    .await
    .unwrap()
}

/// Every byte of the database, its WAL and shared memory.
fn disk(dir: &tempfile::TempDir) -> Vec<u8> {
    ["aisc.db", "aisc.db-wal", "aisc.db-shm"]
        .iter()
        .filter_map(|f| std::fs::read(dir.path().join(f)).ok())
        .flatten()
        .collect()
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_spec_is_never_on_disk_in_clear_and_reads_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let (alice, project) = tenant(&store).await;
    let a = submit(&store, alice, Some(project)).await;
    let b = submit(&store, alice, None).await;
    assert!(
        !holds(&disk(&dir), SECRET),
        "the secret is on disk in clear"
    );
    store.close().await;

    let store = open(&dir).await;
    for id in [a, b] {
        let spec = store.job(id).await.unwrap().spec.unwrap();
        assert!(matches!(&spec.command, JobCommand::Script(s) if s.contains(SECRET)));
        assert_eq!(spec.env["TOKEN"], format!("{SECRET}-env"));
    }
    let report = store.key_report().await.unwrap();
    // One key for the project, one for the centre (the job with no project).
    assert_eq!(report.wrapped_by.iter().map(|(_, n)| n).sum::<i64>(), 2);
    assert!(!holds(&disk(&dir), SECRET));
}

#[tokio::test]
async fn opening_with_another_master_key_is_refused_naming_the_missing_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let (alice, project) = tenant(&store).await;
    submit(&store, alice, Some(project)).await;
    let kid = store.master_keys().current().kid().to_string();
    store.close().await;

    let other = MasterKeys::from_keys(vec![MasterKey::generate()]);
    let err = open_with(&dir, other).await.unwrap_err();
    assert!(err.to_string().contains(&kid), "{err}");
}

#[tokio::test]
async fn after_a_rotation_only_the_new_master_key_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let (alice, project) = tenant(&store).await;
    let id = submit(&store, alice, Some(project)).await;
    let old = store.master_keys();
    let rotated = old.rotated().unwrap();
    let new_kid = rotated.current().kid().to_string();
    let n = store.rewrap_keys(rotated, audit()).await.unwrap();
    assert_eq!(n, 1);
    // Readers never noticed.
    assert!(store.job(id).await.unwrap().spec.is_some());
    // A second rotation under the same key re-wraps nothing.
    assert_eq!(
        store
            .rewrap_keys(store.master_keys(), audit())
            .await
            .unwrap(),
        0
    );
    let report = store.key_report().await.unwrap();
    assert_eq!(report.wrapped_by, vec![(new_kid.clone(), 1)]);
    store.close().await;

    let only_new = MasterKeys::load(key_file(&dir), false)
        .unwrap()
        .without(old.current().kid())
        .unwrap();
    assert_eq!(only_new.current().kid(), new_kid);
    let store = open_with(&dir, only_new).await.unwrap();
    assert!(store.job(id).await.unwrap().spec.is_some());
}

#[tokio::test]
async fn specs_stored_in_clear_by_an_earlier_version_are_sealed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let (alice, project) = tenant(&store).await;
    let id = submit(&store, alice, Some(project)).await;
    store.close().await;
    // What an earlier version wrote: the spec as JSON.
    let mut conn = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        dir.path().join("aisc.db").display()
    ))
    .await
    .unwrap();
    sqlx::query("UPDATE jobs SET spec = ? WHERE id = ?")
        .bind(serde_json::to_string(&spec()).unwrap())
        .bind(id.0)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let store = open(&dir).await;
    assert!(store.job(id).await.unwrap().spec.is_some());
    let text: String = sqlx::query_scalar("SELECT spec FROM jobs WHERE id = ?")
        .bind(id.0)
        .fetch_one(&mut raw(&dir).await)
        .await
        .unwrap();
    assert!(text.starts_with("sealed:"), "{text}");
    assert!(!text.contains(SECRET));
}

#[tokio::test]
async fn closing_a_project_destroys_its_key_and_its_specs_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let (alice, project) = tenant(&store).await;
    let id = submit(&store, alice, Some(project)).await;
    let other = submit(&store, alice, None).await;
    let close = DataChange::Close {
        project,
        at_ms: 2000,
    };
    // A project with a job that has not ended cannot be closed.
    let refused = store.data_change(close.clone(), None).await.unwrap_err();
    assert!(matches!(refused, StoreError::Refused(_)), "{refused}");
    store
        .change(aisc_store::JobChange::Transition {
            id,
            from: aisc_model::JobState::Pending,
            to: aisc_model::JobState::Cancelled,
            reason: "test".into(),
            at_ms: 1500,
            set: Box::default(),
        })
        .await
        .unwrap();
    store.data_change(close, None).await.unwrap();
    assert_eq!(store.job(id).await.unwrap().spec, None);
    assert!(store.job(other).await.unwrap().spec.is_some());
    let report = store.key_report().await.unwrap();
    assert_eq!(report.destroyed, 1);
    // No new key for a closed project.
    assert!(store.key_for(Some(project), 3000).await.is_err());
    store.close().await;
    // Still gone after reopening, and the others still readable.
    let store = open(&dir).await;
    assert_eq!(store.job(id).await.unwrap().spec, None);
    assert!(store.job(other).await.unwrap().spec.is_some());
    let wrapped: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT wrapped FROM data_keys WHERE project_id = ?")
            .bind(project.0)
            .fetch_one(&mut raw(&dir).await)
            .await
            .unwrap();
    assert_eq!(wrapped, None);
}
