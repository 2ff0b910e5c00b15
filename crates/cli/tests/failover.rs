//! Two servers on one PostgreSQL database: both answer the API, one leads.
//! The leader is killed with SIGKILL during a stream of submissions to both:
//! the standby takes the lead within seconds, every accepted job runs exactly
//! once, and each is settled on the ledger exactly once.
//!
//! Needs `AISC_TEST_POSTGRES` (a `postgres://` URL of a server this test may
//! make a database on); skipped without it unless
//! `AISC_REQUIRE` naming `postgres`, as in `.ci/run`.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::{AISC, Server, postgres_db, psql};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn wait_log(server: &Server, needle: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if server.log.lock().unwrap().contains(needle) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "no {needle:?} in the log within {within:?}:\n{}",
            server.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Submits through the server at `url`; the job's id if it was accepted.
fn submit(url: &str, token: &str, cwd: &Path, name: &str) -> Option<i64> {
    let out = Command::new(AISC)
        .args([
            "submit",
            "--name",
            name,
            "--cpus",
            "1",
            "--mem",
            "64M",
            "--",
            "sh",
            "-c",
            "echo $AISC_JOB_ID >> runs.log; sleep 0.3",
        ])
        .current_dir(cwd)
        .env("AISC_URL", url)
        .env("AISC_TOKEN", token)
        .env("AISC_CONFIG_DIR", cwd.join(".aisc-config"))
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).unwrap().trim().parse().ok()
}

#[test]
fn killing_the_leader_mid_stream_loses_and_repeats_nothing() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let _drop = common::DropDatabases(vec![data.path().to_path_buf()]);
    let Some(db) = postgres_db(data.path()) else {
        common::missing("postgres", "AISC_TEST_POSTGRES is not set");
        return;
    };
    let args = ["--database", db.as_str(), "--kill-grace", "2s"];
    let env = [("RUST_LOG", "info")];
    let mut a = Server::start_env(data.path(), &args, &env);
    wait_log(&a, "leading", Duration::from_secs(20));
    // The second shares the database and the data directory (job directories).
    let b = Server::start_env(data.path(), &args, &env);
    wait_log(&b, "standby: answering the API", Duration::from_secs(20));
    assert!(!b.log.lock().unwrap().contains("leading:"), "two leaders");
    let token = a.token();

    // The standby answers what needs the leader by asking it.
    let queue = b.aisc(w, &["queue"]);
    assert!(queue.status.success(), "{queue:?}");

    let mut accepted: BTreeMap<i64, &str> = BTreeMap::new();
    let mut refused = 0;
    let mut killed_at = None;
    for i in 0..60 {
        let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let id = if killed_at.is_some() {
            submit(&b.url, &token, w, "after")
        } else {
            submit(&first.url, &token, w, "before")
                .or_else(|| submit(&second.url, &token, w, "before"))
        };
        match id {
            Some(id) => {
                assert!(accepted.insert(id, "x").is_none(), "id {id} given twice");
            }
            None => refused += 1,
        }
        if i == 25 {
            a.kill9();
            killed_at = Some(Instant::now());
        }
    }
    let killed_at = killed_at.unwrap();
    let waited_from = killed_at.elapsed();
    let since_kill = waited_from + wait_log(&b, "leading:", Duration::from_secs(20));
    eprintln!(
        "the standby led {since_kill:?} after the kill (at most); {} accepted, {refused} refused",
        accepted.len()
    );
    assert!(
        since_kill < Duration::from_secs(10),
        "the standby took {since_kill:?} to lead"
    );
    assert!(
        accepted.len() >= 55,
        "most submissions are accepted: {accepted:?}"
    );

    // Every accepted job ends; none is left behind, none runs twice.
    let deadline = Instant::now() + Duration::from_secs(120);
    let ids = accepted
        .keys()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    loop {
        let open = psql(
            &db,
            &format!(
                "SELECT COUNT(*) FROM jobs WHERE id IN ({ids}) AND state IN ('pending', 'admitted', 'running')"
            ),
        );
        if open.trim() == "0" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} jobs never ended:\n{}",
            open.trim(),
            b.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let states = psql(
        &db,
        &format!("SELECT state, COUNT(*) FROM jobs WHERE id IN ({ids}) GROUP BY state"),
    );
    let others = psql(
        &db,
        &format!("SELECT id, state, reason FROM jobs WHERE id IN ({ids}) AND state <> 'completed'"),
    );
    assert_eq!(
        states.trim(),
        format!("completed|{}", accepted.len()),
        "every job completed; these did not: {others}"
    );
    let runs = std::fs::read_to_string(w.join("runs.log")).unwrap();
    let mut ran: BTreeMap<i64, u32> = BTreeMap::new();
    for line in runs.lines() {
        *ran.entry(line.trim().parse().unwrap()).or_default() += 1;
    }
    assert_eq!(
        ran.keys().copied().collect::<Vec<_>>(),
        accepted.keys().copied().collect::<Vec<_>>(),
        "exactly the accepted jobs ran"
    );
    assert!(ran.values().all(|&n| n == 1), "a job ran twice: {ran:?}");
    let starts = psql(
        &db,
        &format!(
            "SELECT job_id FROM job_events WHERE job_id IN ({ids}) AND to_state = 'running' GROUP BY job_id HAVING COUNT(*) <> 1"
        ),
    );
    assert_eq!(starts.trim(), "", "a job was started twice");
    // Charged once each: one lien and one settlement per job, both balanced.
    for kind in ["lien", "settle"] {
        let n = psql(
            &db,
            &format!(
                "SELECT COUNT(DISTINCT job_id), COUNT(*) FROM ledger_entries WHERE kind = '{kind}' AND job_id IN ({ids})"
            ),
        );
        assert_eq!(
            n.trim(),
            format!("{0}|{0}", accepted.len()),
            "{kind} entries"
        );
    }
    let unbalanced = psql(
        &db,
        "SELECT entry_id FROM ledger_postings GROUP BY entry_id HAVING SUM(amount) <> 0",
    );
    assert_eq!(unbalanced.trim(), "", "every entry balances");
    let verify = b.aisc(w, &["audit", "verify"]);
    assert!(verify.status.success(), "{verify:?}");
}
