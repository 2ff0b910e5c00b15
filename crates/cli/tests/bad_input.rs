//! Bad input gets a clear problem document naming the field and the limit, and stores nothing.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;
use serde_json::{Value, json};

struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let ctype = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = res.text().await.unwrap();
        (
            status,
            ctype,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    async fn submit(&self, body: &str) -> (u16, String, Value) {
        self.call(
            reqwest::Method::POST,
            "/api/v1/jobs",
            Some(&self.token),
            Some(body),
        )
        .await
    }

    async fn job_count(&self) -> usize {
        let (_, _, v) = self
            .call(
                reqwest::Method::GET,
                "/api/v1/jobs",
                Some(&self.token),
                None,
            )
            .await;
        v["jobs"].as_array().unwrap().len()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn refusals_name_the_field_and_limit_and_store_nothing() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--fake-gpus", "2"]);
    let api = Api {
        http: common::http(),
        url: server.url.clone(),
        token: server.token(),
    };
    runtime().block_on(async {
        let ok = json!({"command": ["true"], "chdir": "/tmp"});
        let with = |k: &str, v: Value| {
            let mut b = ok.clone();
            b[k] = v;
            b.to_string()
        };
        // (body, status, field, limit substring)
        let cases: Vec<(String, u16, &str, Option<&str>)> = vec![
            (with("gpus", json!("3")), 422, "gpus", Some("2")),
            (with("gpus", json!("0:5000")), 422, "gpus", None),
            (with("gpus", json!("-1")), 422, "gpus", None),
            (with("gpus", json!("a100:1")), 422, "gpus", None),
            (with("cpus", json!(0)), 422, "cpus", Some("1 to 65536")),
            (with("cpus", json!(-4)), 422, "cpus", None),
            (with("cpus", json!(100000)), 422, "cpus", Some("1 to 65536")),
            (with("cpus", json!("two")), 422, "cpus", None),
            (with("mem", json!("0")), 422, "mem", Some("1M to 64T")),
            (with("mem", json!("100T")), 422, "mem", Some("1M to 64T")),
            (with("mem", json!("4X")), 422, "mem", None),
            (with("time", json!("0")), 422, "time", Some("365 days")),
            (with("time", json!("soon")), 422, "time", None),
            (with("time", json!("400d")), 422, "time", Some("365 days")),
            (with("command", json!([])), 422, "command", None),
            (with("command", json!([""])), 422, "command", None),
            (with("chdir", json!("relative/dir")), 422, "chdir", None),
            (
                with("name", json!("x".repeat(300))),
                422,
                "name",
                Some("200"),
            ),
            (with("surprise", json!(1)), 422, "surprise", None),
            (
                json!({"script": "echo no shebang", "chdir": "/tmp"}).to_string(),
                422,
                "script",
                None,
            ),
            (
                json!({"script": "#!/bin/sh\n#SBATCH -c lots\n", "chdir": "/tmp"}).to_string(),
                422,
                "script",
                None,
            ),
        ];
        for (body, status, field, limit) in cases {
            let (got, ctype, p) = api.submit(&body).await;
            assert_eq!(got, status, "{body}: {p}");
            assert_eq!(ctype, "application/problem+json");
            assert_eq!(p["status"], status);
            assert!(
                p["field"].as_str().unwrap_or_default().starts_with(field),
                "{body}: {p}"
            );
            assert!(!p["detail"].as_str().unwrap_or_default().is_empty());
            if let Some(l) = limit {
                assert!(
                    p["limit"].as_str().unwrap_or_default().contains(l),
                    "{body}: {p}"
                );
            }
        }
        let (status, _, p) = api.submit("#!/bin/sh\n#SBATCH -c lots\n").await;
        assert_eq!(status, 400, "a bare script is not a JSON body: {p}");
        let (status, _, p) = api
            .submit(
                &json!({"script": "#!/bin/sh\n#SBATCH -J a\n#SBATCH -c lots\n", "chdir": "/tmp"})
                    .to_string(),
            )
            .await;
        assert_eq!(status, 422);
        assert!(p["detail"].as_str().unwrap().starts_with("line 3:"), "{p}");

        for malformed in ["{not json", "", "[1,2", "\"just a string"] {
            let (status, ctype, p) = api.submit(malformed).await;
            assert_eq!(status, 400, "{malformed:?}: {p}");
            assert_eq!(ctype, "application/problem+json");
        }
        assert_eq!(api.job_count().await, 0, "nothing was stored");

        let (status, ctype, p) = api
            .call(
                reqwest::Method::POST,
                "/api/v1/jobs",
                None,
                Some(&ok.to_string()),
            )
            .await;
        assert_eq!(
            (status, ctype.as_str()),
            (401, "application/problem+json"),
            "{p}"
        );
        let (status, _, _) = api
            .call(
                reqwest::Method::POST,
                "/api/v1/jobs",
                Some("aisc_wrong"),
                Some(&ok.to_string()),
            )
            .await;
        assert_eq!(status, 401);
        let (status, _, _) = api
            .call(reqwest::Method::GET, "/api/v1/jobs", Some(""), None)
            .await;
        assert_eq!(status, 401);
        assert_eq!(api.job_count().await, 0);

        let (status, _, p) = api
            .call(
                reqwest::Method::GET,
                "/api/v1/jobs/424242",
                Some(&api.token),
                None,
            )
            .await;
        assert_eq!(status, 404, "{p}");
        for bad_id in ["abc", "0", "-3"] {
            let (status, _, p) = api
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/jobs/{bad_id}"),
                    Some(&api.token),
                    None,
                )
                .await;
            assert_eq!(
                (status, p["field"].as_str()),
                (422, Some("id")),
                "{bad_id}: {p}"
            );
        }
        let (status, _, _) = api
            .call(
                reqwest::Method::POST,
                "/api/v1/jobs/424242/cancel",
                Some(&api.token),
                None,
            )
            .await;
        assert_eq!(status, 404);
        let (status, _, p) = api
            .call(
                reqwest::Method::GET,
                "/api/v1/jobs?limit=0",
                Some(&api.token),
                None,
            )
            .await;
        assert_eq!((status, p["field"].as_str()), (422, Some("limit")));
        let (status, _, p) = api
            .call(
                reqwest::Method::GET,
                "/api/v1/jobs?state=sleeping",
                Some(&api.token),
                None,
            )
            .await;
        assert_eq!((status, p["field"].as_str()), (422, Some("state")));
        let (status, _, _) = api
            .call(reqwest::Method::GET, "/api/v1/nope", Some(&api.token), None)
            .await;
        assert_eq!(status, 404);

        let (status, _, doc) = api
            .call(reqwest::Method::GET, "/api/v1/openapi.json", None, None)
            .await;
        assert_eq!(status, 200);
        for path in [
            "/api/v1/jobs",
            "/api/v1/jobs/{id}",
            "/api/v1/jobs/{id}/logs",
            "/api/v1/jobs/{id}/cancel",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} is documented");
        }
        assert!(doc["components"]["schemas"]["Problem"].is_object());
    });
}

#[test]
fn the_cli_reports_refusals_in_one_line_and_exits_non_zero() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let cases: [(&[&str], &str); 6] = [
        (&["submit", "--cpus", "0", "--", "true"], "cpus:"),
        (
            &["submit", "--gpus", "1", "--", "true"],
            "this host has no GPUs",
        ),
        (&["submit", "--time", "1:2:3:4", "--", "true"], "time:"),
        (&["submit"], "nothing to run"),
        (&["show", "999"], "job 999 not found"),
        (&["show", "x1"], "not a job id"),
    ];
    for (args, want) in cases {
        let out = server.aisc(work.path(), args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
    let out = server.aisc_env(work.path(), &["jobs"], &[("AISC_TOKEN", "aisc_wrong")]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid, expired or revoked token"));
    let out = server.aisc_env(
        work.path(),
        &["jobs"],
        &[("AISC_URL", "http://127.0.0.1:1")],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the aisc server"));
}

#[test]
fn out_of_range_fields_a_hostile_tenant_tried_are_refused_naming_the_field() {
    let data = tempfile::tempdir().unwrap();
    let w = data.path();
    let server = Server::start(w, &["--fake-gpus", "2"]);
    let refused = |args: &[&str], field: &str| {
        let out = server.aisc(w, args);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(err.contains(&format!("{field}: ")), "{args:?}: {err}");
        err
    };
    // A Slurm clock field out of its range, as Slurm refuses it.
    let err = refused(&["submit", "--time", "1-25:61:61", "--", "true"], "time");
    assert!(err.contains("hours must be below 24"), "{err}");
    refused(&["submit", "--time", "2:60:00", "--", "true"], "time");
    // Unix names: never root, never a system account.
    refused(&["user", "set-unix-name", "admin", "root"], "unix_name");
    let err = refused(&["user", "set-unix-name", "admin", "daemon"], "unix_name");
    assert!(err.contains("system account"), "{err}");
    // A password of NUL bytes.
    let out = common::with_stdin(
        &server,
        w,
        &["user", "create", "nul", "--password-stdin"],
        &"\0".repeat(12),
        Some(&server.token()),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("printable"),
        "{out:?}"
    );
    // Application dates: not in the past, not past the scheme's close.
    server.scheme_without_review(w, "s", "1000");
    let apply = |from: &str, to: &str| common::apply_args("default", "s", "local", "1", from, to);
    let args = apply("2020-01-01", "2099-01-01");
    let err = refused(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        "starts",
    );
    assert!(err.contains("in the past"), "{err}");
    let args = apply(&common::today(), "2100-01-01");
    let err = refused(&args.iter().map(String::as_str).collect::<Vec<_>>(), "ends");
    assert!(err.contains("after scheme s closes"), "{err}");
    let jobs = server.ok(w, &["jobs", "--json"]);
    assert!(!jobs.contains("\"id\""), "nothing was submitted: {jobs}");
}

#[test]
fn a_huge_user_name_in_a_failed_login_is_cut_in_the_servers_log() {
    let data = tempfile::tempdir().unwrap();
    let w = data.path();
    let server = Server::start_env(w, &[], &[("RUST_LOG", "warn")]);
    let name = "x".repeat(10_000);
    let out = common::with_stdin(
        &server,
        w,
        &["login", "--user", &name, "--password-stdin"],
        "not the password at all",
        None,
    );
    assert!(!out.status.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("failed login"), "{log}");
    assert!(!log.contains(&"x".repeat(100)), "the whole name was logged");
}
