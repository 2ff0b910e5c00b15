//! The portal over plain HTTP, without a browser: security headers, the
//! session cookie's attributes, CSRF, logout, open redirects, bad form input
//! and the statement's CSV download. The browser flows are in
//! `portal_browser.rs`.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use std::path::Path;

const PASSWORD: &str = "a password long enough";

fn http() -> reqwest::Client {
    common::http_with(|b| b.redirect(Policy::none()))
}

fn user(server: &Server, dir: &Path, name: &str, role: &str) {
    server.user_with_password(dir, name, role, PASSWORD);
}

/// The `Set-Cookie` line for `name`, if any.
fn set_cookie(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// The value of the first hidden `_csrf` field in a page.
fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").expect("a CSRF field") + 20;
    html[at..].split('"').next().unwrap().to_string()
}

struct Login {
    cookie: String,
    csrf: String,
}

impl Login {
    /// A page, as this session's browser asks for it.
    async fn get(&self, c: &reqwest::Client, url: String) -> reqwest::Response {
        c.get(url)
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    /// A form, as this session's browser sends it.
    async fn post<F: serde::Serialize + ?Sized>(
        &self,
        c: &reqwest::Client,
        url: String,
        form: &F,
    ) -> reqwest::Response {
        c.post(url)
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

/// Logs in through the form, as a browser would; returns the session cookie and a page's CSRF token.
async fn login(
    c: &reqwest::Client,
    base: &str,
    user: &str,
    next: &str,
) -> (reqwest::Response, Option<Login>) {
    let page = c.get(format!("{base}/login")).send().await.unwrap();
    let login_cookie =
        cookie_pair(&set_cookie(page.headers(), "aisc_login").expect("a login cookie"));
    let csrf = csrf_in(&page.text().await.unwrap());
    let form = [
        ("_csrf", csrf.as_str()),
        ("user", user),
        ("password", PASSWORD),
        ("next", next),
    ];
    let req = c
        .post(format!("{base}/login"))
        .header("cookie", login_cookie)
        .form(&form);
    let res = req.send().await.unwrap();
    let Some(session) = set_cookie(res.headers(), "aisc_session") else {
        return (res, None);
    };
    let cookie = cookie_pair(&session);
    let home = c
        .get(format!("{base}/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let csrf = csrf_in(&home.text().await.unwrap());
    (res, Some(Login { cookie, csrf }))
}

/// A server with an administrator `ops` signed in to the portal.
async fn ops_signed_in() -> (tempfile::TempDir, Server, reqwest::Client, Login) {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--fake-gpus", "1"]);
    user(&server, tmp.path(), "ops", "admin");
    let c = http();
    let s = login(&c, &server.url, "ops", "/")
        .await
        .1
        .expect("ops logged in");
    (tmp, server, c, s)
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_pages_use_nothing_inline_or_foreign() {
    let (_tmp, server, c, s) = ops_signed_in().await;
    let base = &server.url;
    for path in [
        "/",
        "/jobs",
        "/jobs/new",
        "/projects",
        "/projects/default",
        "/applications",
        "/admin",
        "/audit",
        "/login",
        "/static/portal.css",
        "/static/portal.js",
        "/api/v1/whoami",
        "/nowhere",
    ] {
        let res = s.get(&c, format!("{base}{path}")).await;
        let h = res.headers().clone();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"))
            .to_str()
            .unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        let kind = h
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        if kind.starts_with("text/html") {
            let html = res.text().await.unwrap();
            for foreign in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
                assert!(
                    !html.contains(foreign),
                    "{path} loads something from elsewhere: {foreign}"
                );
            }
            assert!(
                !html.contains(" style=\"") && !html.contains("<style"),
                "{path}: inline style the CSP would block"
            );
            for script in html.split("<script").skip(1) {
                assert!(
                    script.trim_start().starts_with("src=\"/static/"),
                    "{path}: inline script: {script:.60}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_session_is_a_strict_http_only_cookie_and_logout_ends_it() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--fake-gpus", "1"]);
    user(&server, tmp.path(), "ann", "user");
    let (c, base) = (http(), server.url.clone());

    // Signed out, a page sends you to log in and back.
    let res = c
        .get(format!("{base}/jobs?state=running"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()[LOCATION],
        "/login?next=/jobs%3Fstate%3Drunning"
    );

    // A login form without its CSRF token, or with a wrong password, signs nobody in.
    let res = c
        .post(format!("{base}/login"))
        .form(&[("user", "ann"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(set_cookie(res.headers(), "aisc_session").is_none());
    let page = c.get(format!("{base}/login")).send().await.unwrap();
    let login_cookie = cookie_pair(&set_cookie(page.headers(), "aisc_login").unwrap());
    let csrf = csrf_in(&page.text().await.unwrap());
    let res = c
        .post(format!("{base}/login"))
        .header("cookie", &login_cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("user", "ann"),
            ("password", "not the password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(set_cookie(res.headers(), "aisc_session").is_none());
    assert!(
        res.text().await.unwrap().contains("role=\"alert\""),
        "the form says why"
    );

    let (res, s) = login(&c, &base, "ann", "/jobs").await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()[LOCATION],
        "/jobs",
        "back where the user was going"
    );
    let line = set_cookie(res.headers(), "aisc_session").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(line.contains(attr), "{attr} missing: {line}");
    }
    assert!(!line.contains("Secure"), "plain http on loopback: {line}");
    let s = s.unwrap();
    // The token behind the cookie is stored hashed: the database never holds the secret.
    let value = s.cookie.replace("%3A", ":");
    let secret = value.split_once(':').unwrap().1.to_string();
    assert!(secret.len() >= 20, "{secret}");
    let mut db = Vec::new();
    for file in ["aisc.db", "aisc.db-wal"] {
        db.extend(std::fs::read(server.data_dir.join(file)).unwrap_or_default());
    }
    assert!(
        !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "session secret in the database"
    );

    let page = s.get(&c, format!("{base}/")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("ann (user)"));

    // Logout needs the session's CSRF token; without it the session stays.
    let res = s
        .post(&c, format!("{base}/logout"), &[("_csrf", "forged")])
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(s.get(&c, format!("{base}/")).await.status(), 200);
    let res = s
        .post(&c, format!("{base}/logout"), &[("_csrf", s.csrf.as_str())])
        .await;
    assert_eq!(res.status(), 303);
    let cleared = set_cookie(res.headers(), "aisc_session").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie is dead on the server too (its token was revoked), not only forgotten by the browser.
    let res = s.get(&c, format!("{base}/")).await;
    assert_eq!(res.status(), 303);
    let res = c
        .get(format!("{base}/api/v1/whoami"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Only local paths are followed after login.
    // Nor anything a browser reads otherwise: a tab or newline (dropped, so
    // `/\t/evil` is `//evil`) or one a header cannot carry (once a 500).
    for foreign in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example/",
        "/\n/x",
        "/ /evil.example",
    ] {
        let (res, _) = login(&c, &base, "ann", foreign).await;
        assert_eq!(res.status(), 303, "{foreign:?}");
        assert_eq!(res.headers()[LOCATION], "/", "{foreign:?} is not followed");
    }
}

#[tokio::test]
async fn behind_https_the_session_cookie_is_secure() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        &tmp.path().join("data"),
        &[
            "--fake-gpus",
            "1",
            "--public-url",
            "https://aisc.example.org",
        ],
    );
    user(&server, tmp.path(), "ann", "user");
    let (res, _) = login(&http(), &server.url, "ann", "/").await;
    let line = set_cookie(res.headers(), "aisc_session").unwrap();
    assert!(
        line.contains("Secure") && line.contains("HttpOnly"),
        "{line}"
    );
}

#[tokio::test]
async fn a_form_without_the_sessions_token_or_from_another_site_changes_nothing() {
    let (tmp, server, c, s) = ops_signed_in().await;
    let (dir, base) = (tmp.path(), server.url.clone());
    let org = |csrf: &str| {
        vec![
            ("_csrf", csrf.to_string()),
            ("name", "forged-org".into()),
            ("kind", "university".into()),
        ]
    };

    let res = s.post(&c, format!("{base}/admin/org"), &org("")).await;
    assert_eq!(res.status(), 403);
    let res = s
        .post(&c, format!("{base}/admin/org"), &org("0123abcd"))
        .await;
    assert_eq!(res.status(), 403);
    let res = c
        .post(format!("{base}/admin/org"))
        .header("cookie", &s.cookie)
        .header("sec-fetch-site", "cross-site")
        .form(&org(&s.csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        403,
        "a browser's cross-site form is refused even with a token"
    );
    assert!(
        !server.ok(dir, &["org", "list"]).contains("forged-org"),
        "nothing was created"
    );

    let res = c
        .post(format!("{base}/admin/org"))
        .header("cookie", &s.cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&org(&s.csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        server.ok(dir, &["org", "list"]).contains("forged-org"),
        "the real form works"
    );
    let audit = server.ok(dir, &["audit", "list", "--actor", "ops"]);
    assert!(
        audit.contains("forged-org"),
        "the portal's change is audited as its user: {audit}"
    );
}

#[tokio::test]
async fn a_running_job_is_requeued_from_its_page_and_keeps_its_id() {
    let (tmp, server, c, s) = ops_signed_in().await;
    let (dir, base) = (tmp.path(), server.url.clone());
    let id = server.submit(dir, &["--", "sleep", "300"]);
    server.wait_state(dir, id, "running");
    let html = c
        .get(format!("{base}/jobs/{id}"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("action=\"/jobs/{id}/requeue\"")),
        "{html}"
    );
    let forged = s
        .post(&c, format!("{base}/jobs/{id}/requeue"), &[("_csrf", "x")])
        .await;
    assert_eq!(forged.status(), 403, "not without the session's token");
    let form = [("_csrf", s.csrf.clone())];
    let res = s.post(&c, format!("{base}/jobs/{id}/requeue"), &form).await;
    assert_eq!(res.status(), 303);
    // Its run stopped, it runs again: the same id, one restart.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let job = server.show(dir, id);
        if job["state"] == "running" && job["restarts"] == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{job:#}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.ok(dir, &["cancel", &id.to_string()]);
}

#[tokio::test]
async fn a_waiting_job_is_held_and_released_from_its_page() {
    let (tmp, server, c, s) = ops_signed_in().await;
    let (dir, base) = (tmp.path(), server.url.clone());
    let id = server.submit(dir, &["--begin", "now+1day", "--", "true"]);
    server.wait_reason(dir, id, "BeginTime");
    let page = |c: &reqwest::Client| {
        c.get(format!("{base}/jobs/{id}"))
            .header("cookie", &s.cookie)
            .send()
    };
    let html = page(&c).await.unwrap().text().await.unwrap();
    assert!(
        html.contains(&format!("action=\"/jobs/{id}/hold\"")),
        "{html}"
    );
    let form = [("_csrf", s.csrf.clone())];
    let res = s.post(&c, format!("{base}/jobs/{id}/hold"), &form).await;
    assert_eq!(res.status(), 303);
    assert_eq!(server.show(dir, id)["reason"], "Held");
    let html = page(&c).await.unwrap().text().await.unwrap();
    assert!(
        html.contains(&format!("action=\"/jobs/{id}/release\"")),
        "{html}"
    );
    let res = s.post(&c, format!("{base}/jobs/{id}/release"), &form).await;
    assert_eq!(res.status(), 303);
    server.wait_reason(dir, id, "BeginTime");
    let forged = s
        .post(&c, format!("{base}/jobs/{id}/hold"), &[("_csrf", "x")])
        .await;
    assert_eq!(forged.status(), 403, "not without the session's token");
    assert_eq!(server.show(dir, id)["reason"], "BeginTime");
}

#[tokio::test]
async fn bad_form_input_names_the_field_keeps_what_was_typed_and_changes_nothing() {
    let (tmp, server, c, s) = ops_signed_in().await;
    let (dir, base) = (tmp.path(), server.url.clone());

    let form = [
        ("_csrf", s.csrf.as_str()),
        ("command", "echo hi"),
        ("account", "default"),
        ("gpus", "lots"),
        ("time", "10m"),
        ("chdir", "/tmp"),
    ];
    let res = s.post(&c, format!("{base}/jobs/new"), &form).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let error = html
        .split("id=\"form-error\" tabindex=\"-1\" autofocus>")
        .nth(1)
        .expect("an error box")
        .split('<')
        .next()
        .unwrap();
    assert!(error.starts_with("gpus:"), "{error}");
    assert!(
        html.contains(
            "id=\"f-gpus\" name=\"gpus\" type=\"text\" value=\"lots\" aria-invalid=\"true\""
        ),
        "the field keeps its text and is marked"
    );
    assert!(html.contains("value=\"echo hi\""), "what was typed is kept");

    let form = [
        ("_csrf", s.csrf.as_str()),
        ("command", "echo hi"),
        ("script", "#!/bin/sh\necho hi\n"),
        ("account", "default"),
        ("time", "10m"),
        ("chdir", "/tmp"),
    ];
    let res = s.post(&c, format!("{base}/jobs/new"), &form).await;
    assert_eq!(res.status(), 422, "a command and a script at once");

    let form = [
        ("_csrf", s.csrf.as_str()),
        ("name", "s1"),
        ("pool", "1000"),
        ("eligible", "university"),
        ("default_rate", "70%"),
        ("max_rate", "90%"),
        ("criteria", "impact:sixty"),
        ("opens", "2026-01-01"),
        ("closes", "2027-01-01"),
    ];
    let res = s.post(&c, format!("{base}/admin/scheme"), &form).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text().await.unwrap().contains("criteria: "),
        "the criteria field is named"
    );

    let jobs = server.ok(dir, &["jobs", "--json"]);
    assert!(!jobs.contains("echo hi"), "no job was submitted: {jobs}");
    assert!(
        !server.ok(dir, &["scheme", "list"]).contains("s1"),
        "no scheme was made"
    );
}

#[tokio::test]
async fn a_statement_downloads_as_csv_matching_the_page() {
    let (tmp, server, c, s) = ops_signed_in().await;
    let (dir, base) = (tmp.path(), server.url.clone());
    let id = server.submit(
        dir,
        &[
            "--gpus",
            "1",
            "--time",
            "5m",
            "--name",
            "for-the-statement",
            "--",
            "sleep",
            "8",
        ],
    );
    server.wait_state(dir, id, "completed");
    let month = {
        let now = time::OffsetDateTime::now_utc() + time::Duration::hours(8);
        format!("{:04}-{:02}", now.year(), u8::from(now.month()))
    };
    let page = s
        .get(
            &c,
            format!("{base}/projects/default/statement?month={month}"),
        )
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("for-the-statement"));
    let csv_url = format!("{base}/projects/default/statement?month={month}&format=csv");
    let res = s.get(&c, csv_url).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"statement-default-{month}.csv\"").as_str()
    );
    let csv = res.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("job,name,grant,"));
    let row = lines.next().expect("one charged job");
    assert!(
        row.starts_with(&format!("{id},\"for-the-statement\",")),
        "{row}"
    );
    let tenant = row.rsplit(',').next().unwrap();
    // The dashboard's pool shows the same subsidy as spent (one scheme, one job).
    let field = |html: &str, name: &str| -> String {
        let at = html
            .find(&format!("data-field=\"{name}\">"))
            .unwrap_or_else(|| panic!("no {name}"));
        html[at..]
            .split('>')
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_string()
    };
    let subsidy = field(&html, "subsidy-total");
    let dash = s.get(&c, format!("{base}/")).await.text().await.unwrap();
    assert_eq!(field(&dash, "spent"), subsidy);
    assert_ne!(
        subsidy, "HK$0.00",
        "an 8-second job at HK$10.00 per GPU-hour (2 cents) is subsidised"
    );
    assert!(
        html.contains(&format!("HK${tenant}")),
        "the page shows the CSV's amount HK${tenant}"
    );
}

#[tokio::test]
async fn an_expired_session_asks_to_log_in_again() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--fake-gpus", "1"]);
    user(&server, tmp.path(), "ann", "user");
    let (c, base) = (http(), server.url.clone());
    let page = c.get(format!("{base}/login")).send().await.unwrap();
    let login_cookie = cookie_pair(&set_cookie(page.headers(), "aisc_login").unwrap());
    let csrf = csrf_in(&page.text().await.unwrap());
    let form = [
        ("_csrf", csrf.as_str()),
        ("user", "ann"),
        ("password", PASSWORD),
        ("next", "/jobs"),
    ];
    let res = c
        .post(format!("{base}/login"))
        .header("cookie", login_cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    let cookie = cookie_pair(&set_cookie(res.headers(), "aisc_session").unwrap());
    // The session's token, as stored: 8 hours from now.
    let mut raw = common::raw_db(&server.data_dir).await;
    let (created, expires): (i64, i64) = sqlx::query_as(
        "SELECT created_ms, expires_ms FROM api_tokens WHERE label = 'portal session'",
    )
    .fetch_one(&mut raw)
    .await
    .unwrap();
    assert_eq!(expires - created, 8 * 3_600_000);
    // Eight hours later (moved back rather than waited for), before the server has seen it used.
    sqlx::query("UPDATE api_tokens SET expires_ms = 1 WHERE label = 'portal session'")
        .execute(&mut raw)
        .await
        .unwrap();
    let res = c
        .get(format!("{base}/jobs"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/login?next=/jobs");
}

#[tokio::test]
async fn a_jobs_environment_values_reach_the_job_and_are_never_shown_back() {
    let (tmp, server, c, s) = ops_signed_in().await;
    let dir = tmp.path();
    let secret = "s3cr3t-value-9f2c";
    let out = server.aisc_env(
        dir,
        &[
            "submit",
            "--name",
            "with-secret",
            "--export",
            "ALL",
            "--",
            "sh",
            "-c",
            "printf '%s' \"$API_KEY\" | tr a-z A-Z",
        ],
        &[("API_KEY", secret)],
    );
    assert!(out.status.success(), "{out:?}");
    let id: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    server.wait_state(dir, id, "completed");
    // The job got it (its output shows it upper-cased, so the value itself appears nowhere else).
    assert_eq!(
        server.ok(dir, &["logs", &id.to_string()]),
        secret.to_uppercase()
    );
    let shown = server.ok(dir, &["show", &id.to_string(), "--json"]);
    assert!(shown.contains("API_KEY"), "the name is shown: {shown}");
    let base = &server.url;
    let api = c
        .get(format!("{base}/api/v1/jobs/{id}"))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let page = s
        .get(&c, format!("{base}/jobs/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let audit = server.ok(dir, &["audit", "list", "--limit", "1000"]);
    let server_log = server.log.lock().unwrap().clone();
    for (what, text) in [
        ("show", &shown),
        ("the API", &api),
        ("the portal", &page),
        ("the audit trail", &audit),
        ("the server's log", &server_log),
    ] {
        assert!(!text.contains(secret), "{what} shows the value");
    }
}

#[tokio::test]
async fn every_page_warns_of_an_interactive_job_near_its_limit_to_its_owner_only() {
    let (tmp, server, c, ops) = ops_signed_in().await;
    let dir = tmp.path();
    common::open_up(dir);
    user(&server, dir, "other", "admin");
    server.ok(dir, &["member", "add", "default", "ops"]);
    let token = server.login(dir, "ops", PASSWORD);
    // One after the other, so that job 1 is the hour-long one and job 2 the 10-minute one.
    let mut started = Vec::new();
    for (id, limit) in [(1, "60"), (2, "10")] {
        let run = ["run", "-t", limit, "--", "sh", "-c", "read line"];
        started.push(server.spawn_aisc(dir, &run, &token));
        server.wait_running(dir, id);
    }
    // The banner comes once the job's agent has dialled in: a moment after it runs.
    let mut page = String::new();
    for _ in 0..100 {
        page = ops
            .get(&c, format!("{}/jobs", server.url))
            .await
            .text()
            .await
            .unwrap();
        if page.contains("class=\"banner\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        page.contains("Interactive job 2</a> reaches its time limit in 10 minutes"),
        "{page}"
    );
    assert!(
        !page.contains("Interactive job 1<"),
        "an hour away is not near: {page}"
    );
    // Another user's pages say nothing of it, administrator or not.
    let (_, other) = login(&c, &server.url, "other", "/").await;
    let other = other.expect("other logged in");
    let page = other
        .get(&c, format!("{}/", server.url))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("class=\"banner\""), "{page}");
    for mut child in started {
        let _ = child.kill();
        let _ = child.wait();
    }
    server.ok(dir, &["cancel", "1", "2"]);
}
