//! From application to grant: weighted review with conflicts of interest,
//! approval reserving the pool, and nothing ever over-committed.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;
use std::path::Path;

fn fails_with(server: &Server, w: &Path, args: &[&str], env: &[(&str, &str)], want: &str) {
    let out = server.aisc_env(w, args, env);
    assert!(!out.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(want), "{args:?}: {err}");
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Logs `user` in with their password; returns their token.
fn login(server: &Server, w: &Path, user: &str) -> String {
    let mut child = std::process::Command::new(common::AISC)
        .args(["login", "--user", user, "--password-stdin"])
        .current_dir(w)
        .env("AISC_URL", &server.url)
        .env("AISC_CONFIG_DIR", w.join(format!("cfg-{user}")))
        .env_remove("AISC_TOKEN")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    std::fs::read_to_string(w.join(format!("cfg-{user}/token")))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn applications_are_reviewed_approved_and_never_over_commit_the_pool() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &[]);
    let admin = |args: &[&str]| server.ok(w, args);
    admin(&[
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
        "--nodes",
        "4",
    ]);
    admin(&["price", "set", "h800", "25.00", "--from", "2020-01-01"]);
    admin(&["org", "create", "hku", "--kind", "university"]);
    admin(&["org", "create", "acme", "--kind", "enterprise"]);
    for (user, role) in [
        ("prof", "user"),
        ("rev", "reviewer"),
        ("rev2", "reviewer"),
        ("boss", "user"),
    ] {
        let out = {
            let mut c = std::process::Command::new(common::AISC)
                .args(["user", "create", user, "--role", role, "--password-stdin"])
                .current_dir(w)
                .env("AISC_URL", &server.url)
                .env("AISC_TOKEN", server.token())
                .stdin(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"a long enough password\n")
                .unwrap();
            c.wait().unwrap()
        };
        assert!(out.success());
    }
    admin(&["project", "create", "nlp", "--org", "hku", "--pi", "prof"]);
    admin(&["project", "create", "cv", "--org", "hku", "--pi", "prof"]);
    admin(&["member", "add", "cv", "rev2"]); // rev2 belongs to hku: a conflict of interest
    admin(&[
        "project", "create", "widgets", "--org", "acme", "--pi", "boss",
    ]);
    admin(&[
        "scheme",
        "create",
        "hk-gpu",
        "--pool",
        "10000",
        "--eligible",
        "university",
        "--default-rate",
        "70",
        "--max-rate",
        "90",
        "--criterion",
        "impact:60",
        "--criterion",
        "team:40",
        "--opens",
        "2020-01-01",
        "--closes",
        "2099-01-01",
    ]);

    let prof = login(&server, w, "prof");
    let rev = login(&server, w, "rev");
    let rev2 = login(&server, w, "rev2");
    let boss = login(&server, w, "boss");
    let as_ = |t: &str, args: &[&str]| {
        let out = server.aisc_env(w, args, &[("AISC_TOKEN", t)]);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let today = common::today();
    let apply = |hours: &str| -> Vec<String> {
        [
            "apply",
            "--project",
            "nlp",
            "--scheme",
            "hk-gpu",
            "--class",
            "h800",
            "--gpu-hours",
            hours,
            "--from",
            today.as_str(),
            "--to",
            "2099-01-01",
            "--justify",
            "impact=new Cantonese models",
            "--justify",
            "team=three postdocs",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };

    // 400 GPU-hours at HK$25 = HK$10,000; at 70 % that is HK$7,000 of the HK$10,000 pool.
    let first = as_(&prof, &args(&apply("400"))).trim().to_string();
    fails_with(
        &server,
        w,
        &["review", &first, "--score", "impact=8", "--score", "team=5"],
        &[("AISC_TOKEN", prof.as_str())],
        "only reviewers",
    );
    fails_with(
        &server,
        w,
        &["review", &first, "--score", "impact=8", "--score", "team=5"],
        &[("AISC_TOKEN", rev2.as_str())],
        "conflict of interest",
    );
    fails_with(
        &server,
        w,
        &["review", &first, "--score", "impact=8"],
        &[("AISC_TOKEN", rev.as_str())],
        "no score for team",
    );
    // Not approved without the scheme's minimum number of reviews (1 by default).
    fails_with(
        &server,
        w,
        &["decide", &first, "--approve"],
        &[],
        "needs at least 1",
    );
    as_(
        &rev,
        &[
            "review",
            &first,
            "--score",
            "impact=8",
            "--score",
            "team=5",
            "--comment",
            "strong",
        ],
    );
    fails_with(
        &server,
        w,
        &["review", &first, "--score", "impact=1", "--score", "team=1"],
        &[("AISC_TOKEN", rev.as_str())],
        "already exists",
    );
    let app: serde_json::Value =
        serde_json::from_str(&as_(&rev, &["application", "show", &first, "--json"])).unwrap();
    assert_eq!(app["mean_score"], "6.80");

    fails_with(
        &server,
        w,
        &["decide", &first, "--approve", "--rate", "95"],
        &[],
        "rate",
    );
    fails_with(&server, w, &["decide", &first, "--reject"], &[], "reason");
    fails_with(
        &server,
        w,
        &["decide", &first, "--approve"],
        &[("AISC_TOKEN", prof.as_str())],
        "centre administrators",
    );
    admin(&["decide", &first, "--approve", "--rate", "80"]);
    fails_with(&server, w, &["decide", &first, "--approve"], &[], "already");

    let grants: serde_json::Value =
        serde_json::from_str(&as_(&prof, &["grants", "--json"])).unwrap();
    assert_eq!(grants[0]["amount"], "HK$10,000.00");
    assert_eq!(grants[0]["rate"], "80.00%");
    assert_eq!(
        grants[0]["cents"],
        serde_json::json!([1_000_000, 0, 0, 1_000_000, 0, 800_000])
    );
    let table = as_(&prof, &["grants"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&first) && l.contains("HK$10,000.00")),
        "{table}"
    );
    let scheme: serde_json::Value =
        serde_json::from_str(&admin(&["scheme", "show", "hk-gpu", "--json"])).unwrap();
    assert_eq!(
        scheme["cents"],
        serde_json::json!([1_000_000, 800_000, 200_000])
    );

    // The pool has HK$2,000 left: asking for 400 more GPU-hours (HK$7,000 of subsidy) is refused up front,
    fails_with(
        &server,
        w,
        &args(&apply("400")),
        &[("AISC_TOKEN", prof.as_str())],
        "uncommitted",
    );
    // and approving at a rate the pool cannot cover is refused, changing nothing.
    let second = as_(&prof, &args(&apply("100"))).trim().to_string();
    as_(
        &rev,
        &[
            "review", &second, "--score", "impact=7", "--score", "team=7",
        ],
    );
    fails_with(
        &server,
        w,
        &["decide", &second, "--approve", "--rate", "90"],
        &[],
        "cannot cover",
    );
    let app: serde_json::Value =
        serde_json::from_str(&admin(&["application", "show", &second, "--json"])).unwrap();
    assert_eq!(app["state"], "submitted");
    admin(&["decide", &second, "--approve", "--rate", "80"]); // HK$2,500 x 80 % = HK$2,000: exactly what is left
    let scheme: serde_json::Value =
        serde_json::from_str(&admin(&["scheme", "show", "hk-gpu", "--json"])).unwrap();
    assert_eq!(
        scheme["cents"],
        serde_json::json!([1_000_000, 1_000_000, 0])
    );

    // An ineligible organisation kind, and people with no say, are refused.
    let mut widgets = apply("1");
    widgets[2] = "widgets".into();
    fails_with(
        &server,
        w,
        &args(&widgets),
        &[("AISC_TOKEN", boss.as_str())],
        "not eligible",
    );
    fails_with(
        &server,
        w,
        &args(&apply("1")),
        &[("AISC_TOKEN", boss.as_str())],
        "project nlp not found",
    );
    // A scheme that has closed takes no applications.
    admin(&[
        "scheme",
        "create",
        "old",
        "--pool",
        "100",
        "--eligible",
        "university",
        "--criterion",
        "impact:100",
        "--opens",
        "2020-01-01",
        "--closes",
        "2021-01-01",
    ]);
    let mut late = apply("1");
    late[4] = "old".into();
    fails_with(
        &server,
        w,
        &args(&late),
        &[("AISC_TOKEN", prof.as_str())],
        "not open",
    );
    let audit = admin(&["audit", "list", "--limit", "100"]);
    for action in [
        "application.submit",
        "application.review",
        "application.decide",
    ] {
        assert!(audit.contains(action), "{action}");
    }
}
