//! Funding schemes: created with their pool funded on the ledger.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;

#[test]
fn a_scheme_is_funded_on_creation_and_bad_rules_are_refused() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &[]);
    server.ok(
        w,
        &[
            "scheme",
            "create",
            "hk-gpu",
            "--title",
            "Hong Kong GPU subsidy",
            "--pool",
            "3,000,000,000",
            "--eligible",
            "university,research-institute,start-up",
            "--default-rate",
            "70",
            "--max-rate",
            "90",
            "--criterion",
            "impact:40",
            "--criterion",
            "feasibility:35",
            "--criterion",
            "team:25",
            "--opens",
            "2026-01-01",
            "--closes",
            "2099-12-31",
        ],
    );
    let s: serde_json::Value =
        serde_json::from_str(&server.ok(w, &["scheme", "show", "hk-gpu", "--json"])).unwrap();
    assert_eq!(s["funded"], "HK$3,000,000,000.00");
    assert_eq!(
        s["cents"],
        serde_json::json!([300_000_000_000i64, 0, 300_000_000_000i64])
    );
    assert_eq!(s["default_rate"], "70.00%");
    assert_eq!(s["open"], true);
    assert_eq!(s["criteria"].as_array().unwrap().len(), 3);
    let list = server.ok(w, &["scheme", "list"]);
    assert!(
        list.lines().any(|l| l.starts_with("hk-gpu")
            && l.contains("open")
            && l.contains("HK$3,000,000,000.00")),
        "{list}"
    );

    let base = [
        "scheme",
        "create",
        "x",
        "--pool",
        "100",
        "--eligible",
        "university",
        "--opens",
        "2026-01-01",
        "--closes",
        "2027-01-01",
    ];
    let refusals: [(&[&str], &str); 7] = [
        (&["--criterion", "impact:50"], "weights add up to 50"),
        (
            &["--criterion", "impact:100", "--default-rate", "95"],
            "default_rate",
        ),
        (
            &["--criterion", "impact:100", "--max-rate", "120"],
            "max_rate",
        ),
        (&["--criterion", "impact:100", "--pool", "0"], "pool"),
        (
            &["--criterion", "impact:100", "--eligible", "charity"],
            "eligible",
        ),
        (
            &["--criterion", "impact:100", "--closes", "2025-01-01"],
            "closes",
        ),
        (
            &["--criterion", "impact:60", "--criterion", "impact:40"],
            "appears twice",
        ),
    ];
    for (extra, want) in refusals {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        let out = server.aisc(w, &args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let names: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&server.ok(w, &["scheme", "list", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect();
    assert_eq!(
        names,
        vec!["hk-gpu", "local"],
        "the refused schemes were not created (local is the first start's)"
    );
}
