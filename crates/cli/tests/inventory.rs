//! Resource classes, capacity derived from the inventory, and versioned prices.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;

#[test]
fn capacity_follows_the_inventory_and_prices_follow_their_dates() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &[]);
    // The first start added this host as the `local` class: one node, one GPU slot, no declared peak.
    server.ok(
        w,
        &[
            "class",
            "create",
            "h800",
            "--model",
            "H800",
            "--gpus-per-node",
            "8",
            "--cpus-per-node",
            "128",
            "--mem-per-node",
            "2T",
            "--tflops-bf16",
            "989.5",
            "--tflops-fp8",
            "1979",
            "--nodes",
            "375",
        ],
    );
    let cap = server.ok(w, &["capacity"]);
    assert!(
        cap.starts_with(
            "3001 GPUs in 2 resource classes: peak 2968.5 PFLOPS BF16, 5937.0 PFLOPS FP8"
        ),
        "{cap}"
    );
    server.ok(w, &["class", "nodes", "h800", "380"]);
    assert!(
        server.ok(w, &["capacity"]).starts_with("3041 GPUs"),
        "bought 5 more nodes"
    );

    // An old price, the current one, and a future one: the current one is in force.
    server.ok(
        w,
        &["price", "set", "h800", "30.00", "--from", "2020-01-01"],
    );
    server.ok(
        w,
        &["price", "set", "h800", "25.50", "--from", "2025-06-01"],
    );
    server.ok(w, &["price", "set", "h800", "20", "--from", "2099-01-01"]);
    let classes: serde_json::Value =
        serde_json::from_str(&server.ok(w, &["class", "list", "--json"])).unwrap();
    assert_eq!(classes[0]["price_cents"], 2550);
    assert_eq!(classes[0]["price_per_gpu_hour"], "HK$25.50");
    let history = server.ok(w, &["price", "list", "h800"]);
    assert_eq!(history.lines().count(), 4, "{history}");
    assert!(
        history.lines().nth(1).unwrap().contains("HK$20.00"),
        "newest first: {history}"
    );
    // Setting the same date again replaces that price.
    server.ok(w, &["price", "set", "h800", "24", "--from", "2025-06-01"]);
    let classes: serde_json::Value =
        serde_json::from_str(&server.ok(w, &["class", "list", "--json"])).unwrap();
    assert_eq!(classes[0]["price_cents"], 2400);

    let refusals: [(&[&str], &str); 6] = [
        (
            &[
                "class",
                "create",
                "bad",
                "--model",
                "X",
                "--gpus-per-node",
                "0",
                "--cpus-per-node",
                "1",
                "--mem-per-node",
                "1G",
                "--nodes",
                "1",
            ],
            "gpus_per_node",
        ),
        (
            &[
                "class",
                "create",
                "bad",
                "--model",
                "X",
                "--gpus-per-node",
                "8",
                "--cpus-per-node",
                "1",
                "--mem-per-node",
                "lots",
                "--nodes",
                "1",
            ],
            "mem_per_node",
        ),
        (
            &[
                "class",
                "create",
                "h800",
                "--model",
                "X",
                "--gpus-per-node",
                "8",
                "--cpus-per-node",
                "1",
                "--mem-per-node",
                "1G",
                "--nodes",
                "1",
            ],
            "already exists",
        ),
        (
            &["price", "set", "h800", "25.001", "--from", "2026-01-01"],
            "per_gpu_hour",
        ),
        (
            &["price", "set", "h800", "25", "--from", "2026-02-30"],
            "effective",
        ),
        (
            &["price", "set", "a100", "25", "--from", "2026-01-01"],
            "resource class a100 not found",
        ),
    ];
    for (args, want) in refusals {
        let out = server.aisc(w, args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
