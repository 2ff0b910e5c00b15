//! The audit trail through the real server and CLI: actions are recorded with
//! who, what and from where; an edit made behind aisc's back is found.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;
use sqlx::Connection;

#[test]
fn actions_are_audited_and_tampering_is_named() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let mut server = Server::start(data.path(), &[]);
    let held = server.submit(w, &["--hold", "--", "true"]);
    let other = server.submit(w, &["--hold", "--", "true"]);
    server.ok(w, &["release", &held.to_string()]);
    server.ok(w, &["cancel", &other.to_string()]);
    // A refused action changes nothing and records nothing.
    assert!(
        !server
            .aisc(w, &["release", &other.to_string()])
            .status
            .success()
    );

    let events: serde_json::Value =
        serde_json::from_str(&server.ok(w, &["audit", "list", "--json", "--limit", "1000"]))
            .unwrap();
    let events = events.as_array().unwrap();
    let oldest_first: Vec<&serde_json::Value> = events.iter().rev().collect();
    assert_eq!(
        oldest_first[0]["action"], "user.create",
        "the first start comes first"
    );
    assert!(
        oldest_first
            .iter()
            .take_while(|e| e["actor"] == "system")
            .count()
            >= 3,
        "then the rest of the first start"
    );
    // This test's own actions, in order, after the first start's.
    let mine: Vec<(String, String)> = oldest_first
        .iter()
        .filter(|e| e["actor"] == "admin")
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        mine,
        vec![
            ("job.submit".to_string(), format!("job:{held}")),
            ("job.submit".to_string(), format!("job:{other}")),
            ("job.release".to_string(), format!("job:{held}")),
            ("job.cancel".to_string(), format!("job:{other}")),
        ]
    );
    let submit = oldest_first
        .iter()
        .find(|e| e["action"] == "job.submit")
        .unwrap();
    assert_eq!(submit["source"], "127.0.0.1");
    let release_id = oldest_first
        .iter()
        .find(|e| e["action"] == "job.release")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let table = server.ok(w, &["audit", "list"]);
    assert!(
        table.starts_with("ID") && table.contains("job.cancel"),
        "{table}"
    );
    assert_eq!(
        server.ok(w, &["audit", "verify"]).trim(),
        format!("audit trail intact: {} events verified", events.len())
    );
    server.stop();

    // Someone with access to the database file rewrites history.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut db = common::raw_db(data.path()).await;
        sqlx::query("UPDATE audit_events SET actor = 'nobody' WHERE id = $1")
            .bind(release_id)
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
    });
    let server = Server::start(data.path(), &[]);
    let out = server.aisc(w, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("BROKEN at event {release_id}")) && said.contains("altered"),
        "{said}"
    );
}

#[test]
fn a_plain_user_cannot_read_the_trail_nor_see_others_jobs() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let mut server = Server::start(data.path(), &[]);
    let admins = server.submit(w, &["--hold", "--", "true"]);
    server.stop();
    // User management arrives with tenancy; until then a plain user is made in the database.
    let token = "aisc_test_plain_user_token";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut db = common::raw_db(data.path()).await;
        sqlx::query("INSERT INTO users (id, name, role, created_ms) VALUES (2, 'bob', 'user', 0)").execute(&mut db).await.unwrap();
        sqlx::query("INSERT INTO api_tokens (user_id, token_hash, label, created_ms) VALUES (2, $1, 'test', 0)")
            // Tokens are stored as the hex SHA-256 of the token (never the token).
            .bind(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes())))
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
    });
    let server = Server::start(data.path(), &[]);
    let as_bob = |args: &[&str]| server.aisc_env(w, args, &[("AISC_TOKEN", token)]);
    assert_eq!(
        String::from_utf8_lossy(&as_bob(&["whoami"]).stdout).trim(),
        "bob (user)"
    );
    let out = as_bob(&["audit", "verify"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("centre administrators"));
    let jobs: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(
        &as_bob(&["jobs", "--json"]).stdout,
    ))
    .unwrap();
    assert_eq!(
        jobs.as_array().unwrap().len(),
        0,
        "bob sees none of the admin's jobs"
    );
    let out = as_bob(&["show", &admins.to_string()]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("job {admins} not found")),
        "404, not 403"
    );
    let out = as_bob(&["cancel", &admins.to_string()]);
    assert!(!out.status.success());
    // Bob belongs to no project yet: he cannot submit until a PI adds him.
    let out = as_bob(&["submit", "--", "true"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("you belong to no project"));
    server.ok(w, &["member", "add", "default", "bob"]);
    let mine = as_bob(&["submit", "--", "true"]);
    assert!(
        mine.status.success(),
        "{}",
        String::from_utf8_lossy(&mine.stderr)
    );
    let jobs: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(
        &as_bob(&["jobs", "--json"]).stdout,
    ))
    .unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    assert_eq!(jobs[0]["user"], "bob");
}

#[test]
fn the_trail_is_searched_by_actor_action_and_text() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &[]);
    let held = server.submit(w, &["--hold", "--name", "needle-job", "--", "true"]);
    server.ok(w, &["cancel", &held.to_string()]);
    server.ok(
        w,
        &["org", "create", "needle-university", "--kind", "university"],
    );
    let search = |args: &[&str]| -> Vec<(String, String, String)> {
        let mut all = vec!["audit", "list", "--json"];
        all.extend_from_slice(args);
        let v: serde_json::Value = serde_json::from_str(&server.ok(w, &all)).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap().to_string();
                (s("actor"), s("action"), s("target"))
            })
            .collect()
    };
    let jobs = search(&["--action", "job."]);
    assert_eq!(
        jobs.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        ["job.cancel", "job.submit"],
        "newest first, only actions starting with job."
    );
    assert!(
        search(&["--actor", "system"])
            .iter()
            .all(|e| e.0 == "system")
    );
    assert!(!search(&["--actor", "system"]).is_empty());
    assert!(search(&["--actor", "nobody"]).is_empty());
    // Text is matched in the target or summary, in any case.
    let found = search(&["--search", "NEEDLE-UNIVERSITY"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].2, "org:needle-university");
    let both = search(&["--actor", "admin", "--action", "org.", "--search", "needle"]);
    assert_eq!(both.len(), 1, "every filter given must match: {both:?}");
    assert!(search(&["--actor", "system", "--search", "needle"]).is_empty());
}
