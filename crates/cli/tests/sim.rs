//! `aisc sim` as a user runs it: a slice of the Philly trace through every
//! policy with a budget forecast, files written and consistent; bad input
//! refused with the line, field or flag named, and nothing written.
#![allow(clippy::unwrap_used)] // a panic is a failed test

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aisc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aisc"))
        .args(args)
        .output()
        .unwrap()
}

fn philly() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/traces/philly/philly.csv"
    ))
}

/// The first `n` jobs of the Philly trace, cut at run time.
fn philly_slice(dir: &Path, n: usize) -> PathBuf {
    let text = std::fs::read_to_string(philly()).unwrap();
    let cut: Vec<&str> = text.lines().take(n + 1).collect();
    let path = dir.join("philly-slice.csv");
    std::fs::write(&path, cut.join("\n") + "\n").unwrap();
    path
}

#[test]
fn a_philly_slice_runs_every_policy_and_writes_a_consistent_report() {
    let dir = tempfile::tempdir().unwrap();
    let trace = philly_slice(dir.path(), 3_000);
    let out = dir.path().join("out");
    let o = aisc(&[
        "sim",
        "--trace",
        trace.to_str().unwrap(),
        "--format",
        "philly",
        "--cluster",
        "40x8",
        "--groups",
        "4",
        "--policy",
        "all",
        "--load",
        "0.8",
        "--seed",
        "1",
        "--measure",
        "all",
        "--scheme-pool",
        "1000000",
        "--subsidy-rate",
        "0.7",
        "--price",
        "h800=25",
        "--out",
        out.to_str().unwrap(),
        "--no-progress",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for p in [
        "fairshare",
        "fifo-backfill",
        "sjf",
        "srtf",
        "srsf",
        "tiresias",
    ] {
        assert!(stdout.contains(p), "{p} missing from the table:\n{stdout}");
    }
    assert!(stdout.contains("Budget (fairshare)"), "{stdout}");

    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 7);
    assert!((report["target_load"].as_f64().unwrap() - 0.8).abs() < 1e-12);
    for run in runs {
        let s = &run["summary"];
        assert_eq!(s["unfinished"], 0, "{}", run["policy"]);
        assert_eq!(s["measured"], s["jobs"]);
        assert!(s["jobs"].as_u64().unwrap() > 2_000);
        let u = s["utilisation"].as_f64().unwrap();
        assert!(u > 0.0 && u <= 1.0, "utilisation {u}");
        assert!(s["p99_jct_s"].as_f64().unwrap() >= s["median_jct_s"].as_f64().unwrap());
        // The budget: months add up to the totals, and the subsidy is 70 % of
        // each charge rounded to the cent, so within half a cent per job.
        let b = &run["budget"];
        let months = b["months"].as_array().unwrap();
        let sum = |k: &str| months.iter().map(|m| m[k].as_i64().unwrap()).sum::<i64>();
        assert_eq!(sum("charge_cents"), b["charge_cents"].as_i64().unwrap());
        assert_eq!(sum("subsidy_cents"), b["subsidy_cents"].as_i64().unwrap());
        let jobs = sum("jobs") as f64;
        let charge = b["charge_cents"].as_f64().unwrap();
        let subsidy = b["subsidy_cents"].as_f64().unwrap();
        if b["runs_out"].is_null() {
            assert!((subsidy - 0.7 * charge).abs() <= jobs * 0.5 + 1.0);
        } else {
            assert_eq!(b["pool_left_cents"], 0);
            assert_eq!(b["subsidy_cents"], b["pool_cents"]);
        }
        let tenants = b["tenants"].as_array().unwrap();
        let t: i64 = tenants
            .iter()
            .map(|t| t["subsidy_cents"].as_i64().unwrap())
            .sum();
        assert_eq!(t, b["subsidy_cents"].as_i64().unwrap());
    }

    // One row per job and policy.
    let csv = std::fs::read_to_string(out.join("jobs.csv")).unwrap();
    let jobs = runs[0]["summary"]["jobs"].as_u64().unwrap() as usize;
    assert_eq!(csv.lines().count(), 1 + 7 * jobs);
    for chart in [
        "queue.svg",
        "utilisation.svg",
        "jct_cdf.svg",
        "wait_cdf.svg",
        "tenant_slowdown.svg",
    ] {
        let svg = std::fs::read_to_string(out.join(chart)).unwrap();
        // Lines for the time series and CDFs, bars (beyond the background) for tenants.
        let drawn = svg.matches("<polyline").count() >= 7 || svg.matches("<rect").count() > 7;
        assert!(
            svg.starts_with("<svg") && drawn,
            "{chart} has nothing drawn"
        );
    }
}

#[test]
fn bad_input_names_the_line_field_or_flag_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("bad.csv");
    std::fs::write(
        &trace,
        "submit_time,duration,num_gpus,tenant\n0,60,1,a\n10,abc,1,b\n20,60,2,c\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let t = trace.to_str().unwrap();
    let o = out.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "sim",
            "--trace",
            t,
            "--format",
            "generic",
            "--cluster",
            "2x8",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", o, "--no-progress"]);
        aisc(&args)
    };
    let err = |r: &Output| String::from_utf8_lossy(&r.stderr).to_string();

    let r = run(&[]);
    assert!(!r.status.success());
    assert!(
        err(&r).contains("line 3") && err(&r).contains("duration"),
        "{}",
        err(&r)
    );
    assert!(
        !out.exists(),
        "nothing is written when the trace is refused"
    );

    for (extra, needle) in [
        (vec!["--load", "0"], "--load"),
        (vec!["--load", "1000"], "--load"),
        (vec!["--seeds", "0"], "--seeds"),
        (vec!["--groups", "3"], "--groups"),
        (vec!["--policy", "lottery"], "--policy"),
        (vec!["--price", "h800=25"], "--scheme-pool"),
        (
            vec!["--scheme-pool", "1000", "--price", "h800=abc"],
            "--price",
        ),
        (
            vec![
                "--scheme-pool",
                "1000",
                "--price",
                "h800=25",
                "--subsidy-rate",
                "70",
            ],
            "--subsidy-rate",
        ),
        (vec!["--las-thresholds", "7200,3250"], "--las-thresholds"),
        (vec!["--limit-factor", "0.5"], "--limit-factor"),
        (vec!["--compat", "muri"], "--compat"),
    ] {
        let mut e = extra.clone();
        e.push("--skip-bad-rows");
        let r = run(&e);
        assert!(!r.status.success(), "{extra:?} was accepted");
        assert!(err(&r).contains(needle), "{extra:?}: {}", err(&r));
        assert!(!out.exists(), "{extra:?} wrote files");
    }
    let r = aisc(&[
        "sim",
        "--trace",
        t,
        "--format",
        "generic",
        "--cluster",
        "2x99",
    ]);
    assert!(!r.status.success());
    assert!(err(&r).contains("1 to 64"), "{}", err(&r));

    // Skipping bad rows counts them and runs the rest.
    let r = run(&["--skip-bad-rows", "--measure", "all"]);
    assert!(r.status.success(), "{}", err(&r));
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["trace"]["bad_rows"], 1);
    assert_eq!(report["runs"][0]["summary"]["jobs"], 2);
    assert!(
        report["trace"]["bad_examples"][0]
            .as_str()
            .unwrap()
            .starts_with("line 3: duration")
    );
}
