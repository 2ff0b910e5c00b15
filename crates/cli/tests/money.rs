//! Jobs cost money: a lien while they run, the real charge when they end,
//! split between the scheme and the project, on statements that match the ledger.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn a_job_holds_its_worst_case_then_pays_what_it_used_split_by_the_subsidy() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &["--fake-gpus", "2"]);
    // The open grant of a new centre: class local at HK$10.00 per GPU-hour, 70 % subsidy.
    let grants = json(&server.ok(w, &["grants", "--json"]));
    assert_eq!(grants.as_array().unwrap().len(), 1);
    let g = grants[0]["id"].as_i64().unwrap();
    assert_eq!(grants[0]["rate"], "70.00%");
    let before = grants[0]["cents"][3].as_i64().unwrap();

    // 2 GPUs for at most 1 hour: the lien is 2 GPU-hours = HK$20.00, held while it runs.
    let id = server.submit(w, &["--gpus", "2", "--time", "1h", "--", "sleep", "1.5"]);
    let job = server.wait_state(w, id, "running");
    assert_eq!(job["lien"], "HK$20.00");
    let text = server.ok(w, &["show", &id.to_string()]);
    assert!(
        text.contains(&format!(
            "Cost        grant {g} at HK$10.00 per GPU-hour, worst case HK$20.00"
        )),
        "{text}"
    );
    assert_eq!(job["grant"], g);
    let held = json(&server.ok(w, &["grants", "--json"]));
    assert_eq!(held[0]["cents"][2], 2_000, "held while running");
    assert_eq!(held[0]["cents"][3].as_i64().unwrap(), before - 2_000);

    let job = server.wait_state(w, id, "completed");
    let gpu_seconds = job["gpu_seconds"].as_f64().unwrap();
    // HK$10 per GPU-hour = 1000 cents / 3600 s; rounded half to even.
    let expect = (gpu_seconds * 1000.0 / 3600.0).round() as i64;
    let charged = json(&server.ok(w, &["grants", "--json"]));
    let cents = charged[0]["cents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect::<Vec<_>>();
    assert!(
        (cents[1] - expect).abs() <= 1,
        "used {} for {gpu_seconds} GPU-seconds, expected about {expect}",
        cents[1]
    );
    assert_eq!(cents[2], 0, "the lien is released");
    assert_eq!(cents[3], before - cents[1], "remaining = amount - used");
    assert_eq!(
        job["charge"],
        json(&format!("\"HK${}.{:02}\"", cents[1] / 100, cents[1] % 100))
    );

    // The month's statement lists it and matches the ledger to the cent.
    let month = &job["ended_at"].as_str().unwrap()[..7];
    let st = json(&server.ok(
        w,
        &[
            "statement",
            "--project",
            "default",
            "--month",
            month,
            "--json",
        ],
    ));
    assert_eq!(st["lines"].as_array().unwrap().len(), 1);
    let [charge, subsidy, tenant] = [0, 1, 2].map(|i| st["cents"][i].as_i64().unwrap());
    assert_eq!(charge, cents[1]);
    assert_eq!(subsidy + tenant, charge, "the split adds up");
    assert_eq!(subsidy, cents[4], "subsidy spent on the grant");
    let csv = server.ok(
        w,
        &[
            "statement",
            "--project",
            "default",
            "--month",
            month,
            "--csv",
        ],
    );
    assert!(
        csv.starts_with("job,name,grant,charged_at,gpu_seconds"),
        "{csv}"
    );
    assert!(csv.lines().last().unwrap().starts_with("total,"), "{csv}");
    assert_eq!(csv.lines().count(), 3);
    let table = server.ok(w, &["statement", "--project", "default", "--month", month]);
    assert!(table.lines().any(|l| l.starts_with("TOTAL")), "{table}");
    let empty = json(&server.ok(
        w,
        &[
            "statement",
            "--project",
            "default",
            "--month",
            "2020-01",
            "--json",
        ],
    ));
    assert_eq!(empty["cents"], serde_json::json!([0, 0, 0]));
    let out = server.aisc(
        w,
        &["statement", "--project", "default", "--month", "2026-13"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("month:"));
}

#[test]
fn a_grant_that_cannot_cover_a_job_keeps_it_waiting_and_a_restart_never_charges_twice() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let mut server = Server::start(data.path(), &["--fake-gpus", "2"]);
    // A small grant: 1 GPU-hour of h800 at HK$100 = HK$100.00.
    let app = common::World::new(&server, w)
        .class("h800", "H800", 8, 8, "64G")
        .price("100")
        .project("tiny", "admin")
        .grant();
    let grant: i64 = app.trim().parse().unwrap();

    // Two jobs of 1 GPU for 40 minutes: each holds HK$66.67; the second does not fit until the first ends.
    let first = server.submit(
        w,
        &[
            "-A", "tiny", "--gpus", "1", "--time", "40m", "--", "sleep", "1",
        ],
    );
    let second = server.submit(
        w,
        &["-A", "tiny", "--gpus", "1", "--time", "40m", "--", "true"],
    );
    server.wait_state(w, first, "running");
    assert_eq!(
        server.wait_state(w, second, "pending")["reason"],
        "GrantExhausted"
    );
    // Another project's jobs are not held up by it.
    let other = server.submit(w, &["--gpus", "1", "--", "true"]);
    server.wait_state(w, other, "completed");
    server.wait_state(w, first, "completed");
    server.wait_state(w, second, "completed");
    let g = json(&server.ok(w, &["grants", "--json"]));
    let tiny = g
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == grant)
        .unwrap()
        .clone();
    let used = tiny["cents"][1].as_i64().unwrap();
    assert!(used > 0 && tiny["cents"][2] == 0, "{tiny}");

    // kill -9 and restart: nothing is charged again.
    server.kill9();
    let server = Server::start(data.path(), &["--fake-gpus", "2"]);
    let again = json(&server.ok(w, &["grants", "--json"]));
    let tiny2 = again
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == grant)
        .unwrap()
        .clone();
    assert_eq!(tiny2["cents"], tiny["cents"]);
    let month = &server.show(w, second)["ended_at"].as_str().unwrap()[..7].to_string();
    let st = json(&server.ok(
        w,
        &["statement", "--project", "tiny", "--month", month, "--json"],
    ));
    assert_eq!(
        st["lines"].as_array().unwrap().len(),
        2,
        "each job charged once"
    );
    assert_eq!(st["cents"][0].as_i64().unwrap(), used);
}
