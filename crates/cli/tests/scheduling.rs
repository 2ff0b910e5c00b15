//! The scheduler through the server, the local engine and fake GPUs:
//! preemption of scavenger jobs with requeue, EASY backfill with reasons
//! users can read (`aisc queue --explain`), GPU caps and the `high` QOS.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;
use serde_json::Value;
use std::path::Path;

fn queue(server: &Server, w: &Path) -> Value {
    serde_json::from_str(&server.ok(w, &["queue", "--json"])).unwrap()
}

fn open_grant(server: &Server, w: &Path) -> i64 {
    let grants: Value = serde_json::from_str(&server.ok(w, &["grants", "--json"])).unwrap();
    grants[0]["id"].as_i64().unwrap()
}

#[test]
fn scavenger_jobs_run_on_idle_gpus_and_are_preempted_and_requeued_for_guaranteed_work() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &["--fake-gpus", "4", "--kill-grace", "1s"]);
    let scav = server.submit(
        w,
        &[
            "--qos",
            "scavenger",
            "--gpus",
            "4",
            "--time",
            "10:00",
            "--",
            "sleep",
            "300",
        ],
    );
    let job = server.wait_state(w, scav, "running");
    // Charged at the scheme's scavenger discount: half of HK$10.00.
    assert_eq!(job["price_per_gpu_hour"], "HK$5.00", "{job:#}");
    assert_eq!(job["qos"], "scavenger");

    let normal = server.submit(w, &["--gpus", "2", "--time", "1:00", "--", "true"]);
    let done = server.wait_state(w, normal, "completed");
    assert_eq!(done["price_per_gpu_hour"], "HK$10.00");
    // Requeued with its id, as Slurm does: it runs again once the guaranteed job has finished.
    let again = server.wait_state(w, scav, "running");
    assert_eq!(again["restarts"], 1, "{again:#}");
    assert_eq!(again["qos"], "scavenger");
    let shown = server.ok(w, &["show", &scav.to_string()]);
    assert!(
        shown.contains(&format!("preempted for job {normal}")) && shown.contains("Restarts"),
        "{shown}"
    );
    server.ok(w, &["cancel", &scav.to_string()]);

    // --no-requeue: preempted and not queued again.
    let once = server.submit(
        w,
        &[
            "--qos",
            "scavenger",
            "--no-requeue",
            "--gpus",
            "4",
            "--",
            "sleep",
            "300",
        ],
    );
    server.wait_state(w, once, "running");
    let normal = server.submit(w, &["--gpus", "1", "--time", "1:00", "--", "true"]);
    server.wait_state(w, normal, "completed");
    let ended = server.wait_state(w, once, "preempted");
    assert!(
        !ended["reason"].as_str().unwrap().contains("requeued"),
        "{ended:#}"
    );
}

#[test]
fn backfill_starts_short_jobs_around_a_reservation_and_explains_every_wait() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &["--fake-gpus", "4", "--kill-grace", "1s"]);
    let big_running = server.submit(w, &["--gpus", "3", "--time", "10:00", "--", "sleep", "300"]);
    server.wait_state(w, big_running, "running");
    // Needs all four GPUs: first in line, reserved for when job 1 reaches its limit.
    let whole = server.submit(w, &["--gpus", "4", "--time", "10:00", "--", "true"]);
    server.wait_reason(w, whole, "Resources");
    // Would still run when the reservation starts: waits.
    let long = server.submit(w, &["--gpus", "1", "--time", "20:00", "--", "true"]);
    server.wait_reason(w, long, "Reservation");
    // Ends before it: backfilled at once.
    let short = server.submit(w, &["--gpus", "1", "--time", "1:00", "--", "true"]);
    server.wait_state(w, short, "completed");

    let q = queue(&server, w);
    let order: Vec<i64> = q["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    assert_eq!(order, vec![whole, long]);
    assert!(q["jobs"][0]["reserved_at_ms"].as_i64().is_some(), "{q:#}");
    let text = server.ok(w, &["queue", "--explain", &whole.to_string()]);
    assert!(
        text.contains("number 1 in the queue") && text.contains("Waiting: Resources"),
        "{text}"
    );
    assert!(
        text.contains("Reserved: expected to start within"),
        "{text}"
    );
    let text = server.ok(w, &["queue", "--explain", &long.to_string()]);
    assert!(text.contains("Waiting: Reservation"), "{text}");
    let listing = server.ok(w, &["queue"]);
    assert!(
        listing.contains("Reservation") && listing.contains("PRIORITY"),
        "{listing}"
    );
    let out = server.aisc(w, &["queue", "--explain", &big_running.to_string()]);
    assert!(!out.status.success(), "a running job is not in the queue");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));

    // When the running job ends, the reserved job starts first.
    server.ok(w, &["cancel", &big_running.to_string()]);
    server.wait_state(w, whole, "completed");
    server.wait_state(w, long, "completed");
}

#[test]
fn gpu_caps_and_the_high_qos_are_granted_by_administrators() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &["--fake-gpus", "4", "--kill-grace", "1s"]);
    let grant = open_grant(&server, w).to_string();

    // Bad input names the field and the limit, and changes nothing.
    let out = server.aisc(w, &["grants", "set", &grant, "--max-gpus", "0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("max_gpus") && err.contains("1 to 1000000"),
        "{err}"
    );
    let out = server.aisc(w, &["submit", "--qos", "urgent", "--", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("qos") && err.contains("high, normal or scavenger"),
        "{err}"
    );

    let said = server.ok(w, &["grants", "set", &grant, "--max-gpus", "2"]);
    assert!(said.contains("at most 2 GPUs at once"), "{said}");
    let first = server.submit(w, &["--gpus", "2", "--", "sleep", "300"]);
    server.wait_state(w, first, "running");
    let capped = server.submit(w, &["--gpus", "1", "--", "true"]);
    server.wait_reason(w, capped, "QuotaLimit");
    let text = server.ok(w, &["queue", "--explain", &capped.to_string()]);
    assert!(text.contains("QuotaLimit"), "{text}");

    // A user may not use the high QOS until the grant allows it.
    let mut c = std::process::Command::new(common::AISC)
        .args(["user", "create", "ann", "--password-stdin"])
        .current_dir(w)
        .env("AISC_URL", &server.url)
        .env("AISC_TOKEN", server.token())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    assert!(c.wait().unwrap().success());
    server.ok(w, &["member", "add", "default", "ann"]);
    let mut login = std::process::Command::new(common::AISC)
        .args(["login", "--user", "ann", "--password-stdin"])
        .current_dir(w)
        .env("AISC_URL", &server.url)
        .env("AISC_CONFIG_DIR", w.join("cfg-ann"))
        .env_remove("AISC_TOKEN")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    login
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    assert!(login.wait().unwrap().success());
    let t = std::fs::read_to_string(w.join("cfg-ann/token")).unwrap();
    let as_ann = |args: &[&str]| server.aisc_env(w, args, &[("AISC_TOKEN", t.trim())]);
    let out = as_ann(&["submit", "--qos", "high", "--", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("does not allow the high QOS"),
        "{err}"
    );
    server.ok(
        w,
        &[
            "grants",
            "set",
            &grant,
            "--max-gpus",
            "2",
            "--high-qos",
            "yes",
        ],
    );
    let out = as_ann(&["submit", "--qos", "high", "--", "true"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // With the cap lifted, the capped job runs.
    server.ok(w, &["grants", "set", &grant, "--max-gpus", "none"]);
    server.wait_state(w, capped, "completed");
}
