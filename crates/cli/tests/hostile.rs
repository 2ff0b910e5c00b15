//! A hostile tenant: a plain project member tries every path a job, a file
//! name or a form field gives them towards the centre's secrets, another
//! tenant's data, or a stalled control loop. Nothing of the server's secrets
//! comes back, and the centre keeps scheduling.
//!
//! Runs as root (jobs run as a Unix account, in a private mount namespace
//! and a cgroup) and as an ordinary user (jobs confined by Landlock); CI runs
//! it both ways (`.ci/run`).
#![allow(clippy::unwrap_used)] // a test: a panic is a failed test

mod common;

use common::Server;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

const PASSWORD: &str = "a long enough password";

/// A server with a member `mallory` in project `default`; returns her token.
fn centre(data: &Path, w: &Path) -> (Server, String) {
    let server = Server::start(data, &["--fake-gpus", "2", "--kill-grace", "1s"]);
    server.user_with_password(w, "mallory", "user", PASSWORD);
    server.ok(w, &["member", "add", "default", "mallory"]);
    let token = server.login(w, "mallory", PASSWORD);
    (server, token)
}

fn as_user(server: &Server, w: &Path, token: &str, args: &[&str]) -> std::process::Output {
    server.aisc_env(w, args, &[("AISC_TOKEN", token)])
}

fn submit_as(server: &Server, w: &Path, token: &str, args: &[&str]) -> i64 {
    let mut all = vec!["submit"];
    all.extend_from_slice(args);
    let out = as_user(server, w, token, &all);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Waits until the job has ended; returns it.
fn ended(server: &Server, w: &Path, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let j = server.show(w, id);
        if j["ended_at"].is_string() {
            return j;
        }
        assert!(Instant::now() < deadline, "job {id} never ended: {j:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every stream of a job's log as its owner reads it through the API.
fn all_logs(server: &Server, w: &Path, token: &str, id: i64) -> String {
    let mut text = String::new();
    for stream in [None, Some("--stderr")] {
        let id = id.to_string();
        let mut args = vec!["logs", id.as_str()];
        args.extend(stream);
        let out = as_user(server, w, token, &args);
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        text.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    text
}

#[test]
fn a_members_job_reaches_none_of_the_servers_secrets_and_cannot_stall_it() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (server, token) = centre(data.path(), w);
    let srv = server.data_dir.clone();
    let admin_token = server.token();
    let master_key = std::fs::read_to_string(srv.join("master.key")).unwrap();
    let key_line = master_key.lines().next().unwrap().to_string();
    let secrets = |text: &str| {
        assert!(
            !text.contains(&admin_token),
            "the admin token leaked: {text}"
        );
        assert!(!text.contains(&key_line), "the master key leaked: {text}");
    };
    let untouched = || {
        let now = std::fs::read_to_string(srv.join("admin-token")).unwrap();
        assert_eq!(now.trim(), admin_token, "the token file is untouched");
    };
    let d = srv.display().to_string();
    let server_pid = server.child.id();

    // 1. Output and error files naming the server's secrets: refused at
    // submission, naming the field; and through a link to the server's
    // directory (which names no secret), refused by the launcher.
    for (flag, field) in [("-o", "output"), ("-e", "error")] {
        let target = format!("{d}/admin-token");
        let out = as_user(&server, w, &token, &["submit", flag, &target, "--", "true"]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{field}: ")) && err.contains("server's own directory"),
            "{err}"
        );
    }
    std::os::unix::fs::symlink(&srv, w.join("srv-link")).unwrap();
    for (flag, file) in [("-o", "admin-token"), ("-e", "master.key")] {
        let target = format!("srv-link/{file}");
        let id = submit_as(&server, w, &token, &["--hold", flag, &target, "--", "true"]);
        let rel = as_user(&server, w, &token, &["release", &id.to_string()]);
        assert!(rel.status.success(), "{rel:?}");
        let j = ended(&server, w, id);
        assert_eq!(j["state"], "failed", "{j:#}");
        assert!(
            j["reason"].as_str().unwrap().contains("could not start"),
            "{j:#}"
        );
        secrets(&all_logs(&server, w, &token, id));
    }
    untouched();

    // 2. The job itself: reads, writes and signals aimed at the server.
    let script = format!(
        "echo uid=$(id -u); \
         cat {d}/admin-token {d}/master.key 2>&1 | head -c 300; \
         ls {d} 2>&1 | head -c 300; \
         touch {d}/planted 2>&1 && echo planted; \
         cat /proc/{server_pid}/environ 2>&1 | head -c 300; \
         kill -TERM {server_pid} 2>&1 && echo signalled; \
         echo done"
    );
    let id = submit_as(&server, w, &token, &["--", "sh", "-c", &script]);
    let j = ended(&server, w, id);
    let log = all_logs(&server, w, &token, id);
    assert_eq!(j["state"], "completed", "{j:#}\n{log}");
    secrets(&log);
    assert!(log.contains("done"), "{log}");
    let said = |word: &str| log.lines().any(|l| l == word);
    assert!(!said("planted") && !srv.join("planted").exists(), "{log}");
    assert!(!said("signalled"), "{log}");
    assert!(
        !log.contains("AISC_"),
        "the server's environment leaked: {log}"
    );
    if nix::unistd::geteuid().is_root() {
        assert!(!log.contains("uid=0"), "jobs never run as root: {log}");
    }
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(server_pid as i32), None).is_ok(),
        "the server is alive"
    );

    // 3. Its working directory in the data directory: refused at submission,
    // and through a link, by the launcher (the directory is not there for it).
    let out = as_user(
        &server,
        w,
        &token,
        &["submit", "-D", &d, "--", "cat", "admin-token"],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("workdir: "),
        "{out:?}"
    );
    let link = w.join("srv-link").display().to_string();
    let id = submit_as(
        &server,
        w,
        &token,
        &["-D", &link, "--", "cat", "admin-token"],
    );
    let j = ended(&server, w, id);
    secrets(&all_logs(&server, w, &token, id));
    assert_ne!(j["state"], "completed", "{j:#}");

    // A working directory in the server user's home: not the job's to write.
    let planted = "/root/aisc-hostile-planted";
    let id = submit_as(&server, w, &token, &["-D", "/root", "--", "touch", planted]);
    let j = ended(&server, w, id);
    assert_ne!(j["state"], "completed", "{j:#}");
    assert!(!Path::new(planted).exists(), "the job wrote into /root");

    // 4. A symlink to a secret as the output file: refused, the secret untouched.
    std::os::unix::fs::symlink(srv.join("admin-token"), w.join("out.log")).unwrap();
    let id = submit_as(
        &server,
        w,
        &token,
        &["-o", "out.log", "--", "echo", "overwrite"],
    );
    let j = ended(&server, w, id);
    assert!(
        j["reason"].as_str().unwrap().contains("symbolic link"),
        "{j:#}"
    );
    secrets(&all_logs(&server, w, &token, id));
    untouched();

    // 5. A FIFO as the output file: refused at once; the centre keeps scheduling.
    nix::unistd::mkfifo(
        &w.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o666),
    )
    .unwrap();
    let id = submit_as(&server, w, &token, &["-o", "fifo", "--", "echo", "x"]);
    let other = server.submit(w, &["--gpus", "2", "--time", "1m", "--", "true"]);
    let j = ended(&server, w, id);
    assert!(j["reason"].as_str().unwrap().contains("FIFO"), "{j:#}");
    assert_eq!(
        server.wait_state(w, other, "completed")["state"],
        "completed"
    );
    let started = Instant::now();
    server.ok(w, &["queue"]);
    server.ok(w, &["nodes"]);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_member_reads_their_own_output_file_and_not_one_swapped_in_later() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (server, token) = centre(data.path(), w);
    let id = submit_as(
        &server,
        w,
        &token,
        &["-o", "mine.log", "--", "echo", "my-result"],
    );
    assert_eq!(ended(&server, w, id)["state"], "completed");
    let out = as_user(&server, w, &token, &["logs", &id.to_string()]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "my-result\n");
    // Swapped for a link to the admin token after the job ran: never served.
    std::fs::remove_file(w.join("mine.log")).unwrap();
    std::os::unix::fs::symlink(server.data_dir.join("admin-token"), w.join("mine.log")).unwrap();
    let out = as_user(&server, w, &token, &["logs", &id.to_string()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(!text.contains(&server.token()), "{text}");
    assert!(text.contains("no longer the file the job wrote"), "{text}");
}

#[test]
fn auditors_see_metadata_not_content_and_centre_reads_of_content_are_audited() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (server, token) = centre(data.path(), w);
    server.user_with_password(w, "audrey", "auditor", PASSWORD);
    let auditor = server.login(w, "audrey", PASSWORD);
    // A project the centre's administrator has no part in, with a grant of its own.
    common::World::new(&server, w)
        .project("lab", "mallory")
        .applicant(&token)
        .grant();
    let id = submit_as(
        &server,
        w,
        &token,
        &["-A", "lab", "--", "echo", "private-result"],
    );
    assert_eq!(ended(&server, w, id)["state"], "completed");

    let show = as_user(&server, w, &auditor, &["show", &id.to_string(), "--json"]);
    let j: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(j["state"], "completed", "metadata is there: {j:#}");
    assert!(j["gpu_seconds"].is_number());
    assert!(j["command"].is_null() && j["script"].is_null(), "{j:#}");
    let logs = as_user(&server, w, &auditor, &["logs", &id.to_string()]);
    assert!(!logs.status.success());
    assert!(!String::from_utf8_lossy(&logs.stdout).contains("private-result"));

    // The centre's administrator may read it, and that read is on the record.
    let log = server.ok(w, &["logs", &id.to_string()]);
    assert!(log.contains("private-result"));
    server.ok(w, &["show", &id.to_string()]);
    let audit = server.ok(w, &["audit", "list", "--action", "job.read"]);
    assert!(
        audit.contains("job.read_logs") && audit.contains("job.read_content"),
        "{audit}"
    );
    // The owner's own reads are theirs, not the centre's: not audited as such.
    as_user(&server, w, &token, &["logs", &id.to_string()]);
    let after = server.ok(
        w,
        &[
            "audit", "list", "--action", "job.read", "--actor", "mallory",
        ],
    );
    assert!(!after.contains("job.read"), "{after}");
}

#[test]
fn a_member_cannot_delete_or_replace_another_members_file_but_the_pi_can() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (server, mallory) = centre(data.path(), w);
    server.user_with_password(w, "bob", "user", PASSWORD);
    server.ok(w, &["member", "add", "default", "bob"]);
    let bob = server.login(w, "bob", PASSWORD);
    std::fs::write(w.join("bob.txt"), "bob's data\n").unwrap();
    std::fs::write(w.join("evil.txt"), "overwritten\n").unwrap();
    let put = as_user(
        &server,
        w,
        &bob,
        &["data", "put", "bob.txt", "r/b.txt", "-A", "default", "-q"],
    );
    assert!(put.status.success(), "{put:?}");

    // Mallory reads it (members read a project's files) but neither deletes nor replaces it.
    let get = as_user(
        &server,
        w,
        &mallory,
        &["data", "get", "r/b.txt", "got.txt", "-A", "default", "-q"],
    );
    assert!(get.status.success(), "{get:?}");
    let rm = as_user(
        &server,
        w,
        &mallory,
        &["data", "rm", "r/b.txt", "-A", "default"],
    );
    assert!(!rm.status.success());
    assert!(
        String::from_utf8_lossy(&rm.stderr).contains("only its uploader"),
        "{rm:?}"
    );
    let over = as_user(
        &server,
        w,
        &mallory,
        &["data", "put", "evil.txt", "r/b.txt", "-A", "default", "-q"],
    );
    assert!(!over.status.success(), "{over:?}");
    let get = as_user(
        &server,
        w,
        &bob,
        &["data", "get", "r/b.txt", "back.txt", "-A", "default", "-q"],
    );
    assert!(get.status.success());
    assert_eq!(
        std::fs::read_to_string(w.join("back.txt")).unwrap(),
        "bob's data\n"
    );

    // The project's PI (the admin here) may.
    server.ok(w, &["data", "rm", "r/b.txt", "-A", "default"]);
}

#[test]
fn an_expired_token_is_refused_at_once_even_when_cached() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (server, mallory) = centre(data.path(), w);
    let out = as_user(
        &server,
        w,
        &mallory,
        &["token", "create", "--expires", "2s"],
    );
    assert!(out.status.success(), "{out:?}");
    let short = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(as_user(&server, w, &short, &["jobs"]).status.success());
    std::thread::sleep(Duration::from_millis(2_300));
    let late = as_user(&server, w, &short, &["jobs"]);
    assert!(!late.status.success(), "{late:?}");
    assert!(String::from_utf8_lossy(&late.stderr).contains("expired"));
}

#[test]
fn short_jobs_are_billed_to_the_cent_of_their_gpu_time() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (server, token) = centre(data.path(), w);
    let ids: Vec<i64> = (0..12)
        .map(|_| submit_as(&server, w, &token, &["--gpus", "1", "--", "sleep", "0.3"]))
        .collect();
    let mut gpu_ms = 0u64;
    let mut price = 0u64;
    for id in &ids {
        let j = ended(&server, w, *id);
        assert_eq!(j["state"], "completed", "{j:#}");
        gpu_ms += (j["gpu_seconds"].as_f64().unwrap() * 1000.0).round() as u64;
        price = cents(j["price_per_gpu_hour"].as_str().unwrap());
    }
    // Wait for every settlement, then read what the ledger charged the grant.
    std::thread::sleep(Duration::from_millis(500));
    let grants: Value = serde_json::from_str(&server.ok(w, &["grants", "--json"])).unwrap();
    let used: u64 = grants
        .as_array()
        .unwrap()
        .iter()
        .map(|g| cents(g["used"].as_str().unwrap()))
        .sum();
    let exact_tenths_of_a_cent = gpu_ms * price * 1000 / 3_600_000;
    assert!(gpu_ms > 3_000, "{gpu_ms} GPU-ms");
    assert!(used > 0, "short jobs are not free");
    assert_eq!(
        used,
        exact_tenths_of_a_cent / 1000,
        "charged {used} cents for {gpu_ms} GPU-ms at {price} cents an hour"
    );
}

/// `HK$1,234.56` as cents.
fn cents(text: &str) -> u64 {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}
