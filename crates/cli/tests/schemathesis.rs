//! Schemathesis (from PyPI) against the live `/api/v1/openapi.json`, with an
//! administrator's token: thousands of generated requests, and none may get a
//! 5xx or an answer that breaks the documented schema.
//!
//! It needs the `schemathesis` command: `AISC_SCHEMATHESIS` names it, else it
//! is looked for on PATH. Without it the test says so and passes, unless
//! `AISC_REQUIRE` naming `schemathesis` (as in `.ci/run`, which installs it).
//! `AISC_SCHEMATHESIS_SECONDS` bounds the run (default 60).
#![allow(clippy::unwrap_used)] // a test: a panic is a failed test

mod common;

use common::Server;
use std::process::Command;

fn schemathesis() -> Option<String> {
    if let Ok(p) = std::env::var("AISC_SCHEMATHESIS") {
        return Some(p);
    }
    Command::new("schemathesis")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "schemathesis".to_string())
}

#[test]
fn generated_requests_get_no_server_error_and_no_answer_outside_the_schema() {
    let Some(bin) = schemathesis() else {
        common::missing(
            "schemathesis",
            "schemathesis not found (pip install schemathesis, or set AISC_SCHEMATHESIS)",
        );
        return;
    };
    let data = tempfile::tempdir().unwrap();
    // Rate limits off: the run is a flood by design.
    let server = Server::start(
        &data.path().join("data"),
        &[
            "--fake-gpus",
            "2",
            "--rate-limit-token",
            "0",
            "--rate-limit-address",
            "0",
        ],
    );
    let secs = std::env::var("AISC_SCHEMATHESIS_SECONDS").unwrap_or_else(|_| "60".into());
    let out = Command::new(&bin)
        .current_dir(data.path())
        .args([
            "run",
            &format!("{}/api/v1/openapi.json", server.url),
            "-H",
            &format!("Authorization: Bearer {}", server.token()),
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-time",
            &secs,
            "--workers",
            "2",
            "--seed",
            "20261201",
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("schemathesis runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let tail: String = text
        .lines()
        .rev()
        .take(60)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{tail}\nserver log:\n{}",
        server.log.lock().unwrap()
    );
    assert!(text.contains("passed"), "no test case ran:\n{tail}");
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    eprintln!("{tail}");
}
