//! kill -9 the server while jobs run, restart it: nothing lost, nothing started twice.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::{Server, history};
use std::time::Duration;

#[test]
fn kill_nine_and_restart_keeps_every_job_and_starts_none_twice() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let mut server = Server::start(data.path(), &["--fake-gpus", "2"]);

    // Each job appends one line per start to its own file, so a second start would show.
    let run = |name: &str, body: &str| format!("echo start >> {name}.starts; {body}");
    let survivor = server.submit(
        w,
        &[
            "-G",
            "1",
            "--",
            "sh",
            "-c",
            &run("survivor", "sleep 2; echo done; exit 7"),
        ],
    );
    let ends_while_down = server.submit(
        w,
        &[
            "-G",
            "1",
            "--",
            "sh",
            "-c",
            &run("early", "sleep 0.5; exit 0"),
        ],
    );
    let queued = server.submit(
        w,
        &[
            "-G",
            "2",
            "--",
            "sh",
            "-c",
            &run("queued", "echo queued-ran"),
        ],
    );
    let held = server.submit(w, &["--hold", "--", "true"]);
    server.wait_state(w, survivor, "running");
    server.wait_state(w, ends_while_down, "running");
    assert_eq!(
        server.wait_state(w, queued, "pending")["reason"],
        "Resources"
    );

    server.kill9();
    std::thread::sleep(Duration::from_millis(1200)); // `early` ends while no server runs
    let server = Server::start(data.path(), &["--fake-gpus", "2"]);

    let e = server.wait_state(w, ends_while_down, "completed");
    assert_eq!(
        e["exit_code"], 0,
        "its exit status was read from the job directory: {e}"
    );
    let s = server.show(w, survivor);
    assert_eq!(s["state"], "running", "re-adopted, still running: {s}");
    let s = server.wait_state(w, survivor, "failed");
    assert_eq!(s["exit_code"], 7);
    assert_eq!(s["reason"], "exited with status 7");
    assert_eq!(server.ok(w, &["logs", &survivor.to_string()]), "done\n");

    let q = server.wait_state(w, queued, "completed");
    assert_eq!(server.ok(w, &["logs", &queued.to_string()]), "queued-ran\n");
    assert_eq!(
        history(&q)
            .iter()
            .filter(|h| h.contains("->running"))
            .count(),
        1
    );
    let h = server.show(w, held);
    assert_eq!(
        (h["state"].as_str(), h["reason"].as_str()),
        (Some("pending"), Some("Held"))
    );

    for name in ["survivor", "early", "queued"] {
        let starts = std::fs::read_to_string(w.join(format!("{name}.starts"))).unwrap();
        assert_eq!(starts, "start\n", "{name} started exactly once");
    }
}

#[test]
fn a_job_killed_while_the_server_is_down_ends_as_lost() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let mut server = Server::start(data.path(), &[]);
    let id = server.submit(w, &["--", "sh", "-c", "echo $$ > leader.pid; sleep 60"]);
    server.wait_state(w, id, "running");
    let job = server.show(w, id);
    server.kill9();
    // Kill the whole job (the wrapper is the group leader) while aisc is down.
    let pid = std::fs::read_to_string(server.data_dir.join(format!("jobs/{id}/pid"))).unwrap();
    let pgid: i32 = pid.trim().parse().unwrap();
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let server = Server::start(data.path(), &[]);
    let j = server.wait_state(w, id, "failed");
    assert_eq!(j["reason"], "lost on server restart");
    assert_eq!(j["started_at"], job["started_at"]);
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let first = Server::start(data.path(), &[]);
    let out = std::process::Command::new(common::AISC)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            first.data_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("another aisc server is using"));
}

#[test]
fn an_interactive_job_outlives_a_server_restart_and_is_attached_to_again() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    common::open_up(w);
    // The same address before and after, as a centre's server has.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let args = ["--fake-gpus", "2", "--listen", listen.as_str()];
    let mut server = Server::start(data.path(), &args);
    let first = server.spawn_aisc(
        w,
        &[
            "run",
            "-t",
            "5",
            "--",
            "sh",
            "-c",
            "echo waiting; read x; echo got $x",
        ],
        &server.token(),
    );
    server.wait_running(w, 1);
    std::thread::sleep(Duration::from_millis(500));
    server.kill9();
    // The user's side loses the server and says how to come back.
    let lost = first.wait_with_output().unwrap();
    assert!(!lost.status.success());
    let server = Server::start(data.path(), &args);
    assert_eq!(server.show(w, 1)["state"], "running", "re-adopted");
    // The job's agent dials the new server; the user attaches and types.
    let back = common::with_stdin(
        &server,
        w,
        &["attach", "1"],
        "hello\n",
        Some(&server.token()),
    );
    let said = String::from_utf8_lossy(&back.stdout);
    assert!(back.status.success(), "{back:?}");
    assert!(
        said.contains("waiting"),
        "what it showed before the restart: {said}"
    );
    assert!(said.contains("got hello"), "{said}");
    let j = server.wait_state(w, 1, "completed");
    assert_eq!(j["exit_code"], 0);
}
