//! Draining and resuming nodes: a drained node keeps its running jobs, takes
//! no new ones, stays drained across a restart, and takes work again when
//! resumed; bad input is refused naming the field.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;
use serde_json::Value;

fn node_list(server: &Server, dir: &std::path::Path) -> Vec<Value> {
    let out = server.ok(dir, &["node", "list", "--json"]);
    serde_json::from_str::<Vec<Value>>(&out).unwrap()
}

#[test]
fn a_drained_node_keeps_its_jobs_takes_no_new_ones_and_stays_drained_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    let mut server = Server::start(&data, &["--fake-gpus", "2"]);
    let nodes = node_list(&server, dir);
    assert_eq!(nodes.len(), 1);
    let node = nodes[0]["name"].as_str().unwrap().to_string();
    assert_eq!(nodes[0]["state"], "up");

    let running = server.submit(dir, &["--gpus", "1", "--time", "5m", "--", "sleep", "60"]);
    server.wait_state(dir, running, "running");
    let out = server.ok(dir, &["node", "drain", &node, "--reason", "replace a fan"]);
    assert_eq!(out.trim(), format!("{node}: drain (replace a fan)"));
    let listed = server.ok(dir, &["node", "list"]);
    assert!(
        listed.contains("drain") && listed.contains("replace a fan") && listed.contains("1/2"),
        "{listed}"
    );
    assert_eq!(
        server.show(dir, running)["state"],
        "running",
        "draining stops no running job"
    );
    let waiting = server.submit(dir, &["--gpus", "1", "--time", "5m", "--", "true"]);
    server.wait_reason(dir, waiting, "Resources");
    let audit = server.ok(dir, &["audit", "list", "--action", "node."]);
    assert!(audit.contains("replace a fan"), "{audit}");

    server.ok(dir, &["cancel", &running.to_string()]);
    server.wait_state(dir, running, "cancelled");
    server.stop();
    let server = Server::start(&data, &["--fake-gpus", "2"]);
    assert_eq!(
        node_list(&server, dir)[0]["state"],
        "drain",
        "kept across a restart"
    );
    server.wait_reason(dir, waiting, "Resources");

    let out = server.ok(dir, &["node", "resume", &node]);
    assert_eq!(out.trim(), format!("{node}: up"));
    server.wait_state(dir, waiting, "completed");
    assert_eq!(node_list(&server, dir)[0]["drain_reason"], Value::Null);
}

#[test]
fn bad_drains_are_refused_naming_the_field_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(&dir.join("data"), &["--fake-gpus", "1"]);
    let node = node_list(&server, dir)[0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let long = "x".repeat(201);
    for reason in ["", "   ", long.as_str(), "two\nlines"] {
        let out = server.aisc(dir, &["node", "drain", &node, "--reason", reason]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("reason") && err.contains("200 characters"),
            "{err}"
        );
    }
    let out = server.aisc(dir, &["node", "drain", "no-such-node", "--reason", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-node"));
    assert_eq!(
        node_list(&server, dir)[0]["state"],
        "up",
        "nothing was drained"
    );
    let audit = server.ok(dir, &["audit", "list", "--action", "node."]);
    assert!(
        !audit.contains("node.drain"),
        "nothing refused is audited: {audit}"
    );
}
