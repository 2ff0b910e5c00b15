//! `aisc backup` of a running centre and `aisc restore` into a new data
//! directory: a round trip keeps jobs, logs, files, money and the audit chain,
//! and a backup holds neither the master key nor anything in clear.
#![allow(clippy::unwrap_used)] // a test: a panic is a failed test

mod common;

use common::Server;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const SECRET: &str = "backup-secret-41d2";

/// Which database a data directory's server uses (`None`: its own SQLite file).
type DbFor = fn(&Path) -> Option<String>;

/// `aisc restore ARGS`; on PostgreSQL, into the database `db` gives the
/// `--data-dir` named in `args`.
fn restore(w: &Path, db: DbFor, args: &[&str]) -> std::process::Output {
    let dir = args
        .iter()
        .position(|a| *a == "--data-dir")
        .map(|i| w.join(args[i + 1]));
    // A server the harness started keeps its files in `srv` inside the directory it was given.
    let database = dir
        .map(|d| {
            if d.ends_with("srv") {
                d.parent().unwrap().to_path_buf()
            } else {
                d
            }
        })
        .and_then(|d| db(&d))
        .map(|url| vec!["--database".to_string(), url])
        .unwrap_or_default();
    Command::new(common::AISC)
        .arg("restore")
        .args(args)
        .args(database)
        .current_dir(w)
        .env_remove("AISC_MASTER_KEY")
        .output()
        .unwrap()
}

/// Starts a server on `dir` with `args`, on the database `db` gives it.
fn start(dir: &Path, db: DbFor, args: &[&str]) -> Server {
    let url = db(dir);
    let mut all: Vec<&str> = args.to_vec();
    if let Some(url) = &url {
        all.extend(["--database", url.as_str()]);
    }
    Server::start(dir, &all)
}

#[test]
fn a_backup_taken_while_running_restores_into_a_new_directory_whole() {
    // SQLite, or PostgreSQL when the whole suite runs on it (AISC_TEST_BACKEND).
    round_trip(common::postgres_for);
}

#[test]
fn a_postgresql_backup_restores_into_another_postgresql_database() {
    if common::postgres_db(Path::new("probe")).is_none() {
        common::missing("postgres", "AISC_TEST_POSTGRES is not set");
        return;
    }
    round_trip(common::postgres_db);
}

fn round_trip(db: DbFor) {
    let root = tempfile::tempdir().unwrap();
    let w = root.path();
    let _drop = common::DropDatabases(
        ["data", "wrong", "cut", "restored"]
            .iter()
            .map(|d| w.join(d))
            .collect(),
    );
    let key = w.join("keys/master.key");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    let key_arg = key.to_str().unwrap();
    let mut server = start(
        &w.join("data"),
        db,
        &["--fake-gpus", "1", "--master-key-file", key_arg],
    );
    let token = server.token();
    let done = server.submit(w, &["-A", "default", "--gpus", "1", "--", "echo", SECRET]);
    server.wait_state(w, done, "completed");
    std::fs::write(w.join("f.txt"), format!("file {SECRET}\n")).unwrap();
    server.ok(
        w,
        &["data", "put", "f.txt", "a/f.txt", "-A", "default", "-q"],
    );
    let held = server.submit(w, &["-A", "default", "--hold", "--", "true"]);
    // Taken while the server runs, with a job running.
    let running = server.submit(w, &["-A", "default", "--", "sleep", "30"]);
    server.wait_state(w, running, "running");
    for _ in 0..100 {
        if server
            .data_dir
            .join(format!("jobs/{done}/output.log.sealed"))
            .exists()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server.ok(w, &["backup", "-o", "b.tar"]);
    let grants_before = server.ok(w, &["grants", "--json"]);
    let jobs_before: Value = serde_json::from_str(&server.ok(w, &["jobs", "--json"])).unwrap();
    server.ok(w, &["cancel", &running.to_string()]);
    server.stop();

    let tar = std::fs::read(w.join("b.tar")).unwrap();
    let holds = |s: &str| tar.windows(s.len()).any(|x| x == s.as_bytes());
    assert!(!holds(SECRET), "the backup holds a secret in clear");
    assert!(!holds("aisc-mk1:"), "the backup holds a master key");
    assert!(!holds(&token), "the backup holds the admin token");

    // Refused: a directory that holds a database, a wrong key, a cut file.
    let out = restore(
        w,
        db,
        &[
            "b.tar",
            "--data-dir",
            "data/srv",
            "--master-key-file",
            key_arg,
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already holds a database") || err.contains("already holds users or jobs"),
        "{err}"
    );
    let other = w.join("other.key");
    std::fs::write(&other, aisc_vault::MasterKey::generate().encode()).unwrap();
    std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = restore(
        w,
        db,
        &[
            "b.tar",
            "--data-dir",
            "wrong",
            "--master-key-file",
            other.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let kid = aisc_vault::MasterKeys::load(aisc_vault::KeySource::File(key.clone()), false)
        .unwrap()
        .current()
        .kid()
        .to_string();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&kid),
        "{out:?}"
    );
    std::fs::write(w.join("cut.tar"), &tar[..tar.len() / 2]).unwrap();
    let out = restore(
        w,
        db,
        &["cut.tar", "--data-dir", "cut", "--master-key-file", key_arg],
    );
    assert!(!out.status.success());

    let out = restore(
        w,
        db,
        &[
            "b.tar",
            "--data-dir",
            "restored/srv",
            "--master-key-file",
            key_arg,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        !w.join("restored/srv/admin-token").exists(),
        "no token file comes back"
    );
    // The harness reads the admin's token from there; the admin keeps theirs.
    std::fs::write(w.join("restored/srv/admin-token"), &token).unwrap();
    let server = start(
        &w.join("restored"),
        db,
        &["--fake-gpus", "1", "--master-key-file", key_arg],
    );
    let as_admin = |args: &[&str]| {
        let out = server.aisc_env(w, args, &[("AISC_TOKEN", &token)]);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // The old token works: users and tokens came back with the database.
    let jobs_after: Value = serde_json::from_str(&as_admin(&["jobs", "--json"])).unwrap();
    let ids = |v: &Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&jobs_after), ids(&jobs_before));
    assert!(as_admin(&["logs", &done.to_string()]).contains(SECRET));
    assert_eq!(
        as_admin(&["data", "get", "a/f.txt", "-", "-A", "default"]),
        format!("file {SECRET}\n")
    );
    let show: Value =
        serde_json::from_str(&as_admin(&["show", &held.to_string(), "--json"])).unwrap();
    assert_eq!(show["state"], "pending");
    // The job that was running when the backup was taken is not running here.
    let show: Value =
        serde_json::from_str(&as_admin(&["show", &running.to_string(), "--json"])).unwrap();
    assert_ne!(show["state"], "running");
    assert_eq!(as_admin(&["grants", "--json"]), grants_before);
    as_admin(&["audit", "verify"]);
}
