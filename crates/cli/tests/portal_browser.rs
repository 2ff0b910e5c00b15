//! The portal end to end in real headless Chromium (Debian's `chromium`),
//! driven through `chromedriver` (WebDriver): an administrator creates a
//! scheme and drains a node, a PI applies for a grant, a reviewer with a
//! conflict of interest is refused, another reviewer scores it, the
//! administrator approves it, the PI submits a job, watches its log follow
//! live until it completes and sees the grant's balance change; a member of
//! another project sees none of it. Every page visited is saved as a PNG under
//! `target/tmp/portal-screenshots/` (or `$AISC_SCREENSHOT_DIR`), and each is
//! checked for labelled fields and for overflow at a phone's width.
//!
//! Outside CI, without Chromium and chromedriver, the test says what it needs
//! and passes without running; in CI (`AISC_REQUIRE` naming `browser`) a
//! missing browser fails it. `.ci/run` installs both.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "a password long enough";

/// `chromedriver` on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Chromium and chromedriver, or `None` (with the reason printed) when absent.
fn driver() -> Option<(Driver, PathBuf)> {
    let chromium = which(
        "AISC_CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    );
    let chromedriver = which("AISC_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        let msg = "the portal's browser test needs Debian's chromium and chromium-driver \
                   (`apt-get install chromium chromium-driver`; .ci/run installs them)";
        common::missing("browser", msg);
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        },
        chromium,
    ))
}

async fn browser(driver: &Driver, chromium: &Path) -> Client {
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium.display().to_string(),
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,800", "--lang=en-GB"],
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// The browser, the server and where screenshots go.
struct Tour {
    c: Client,
    base: String,
    shots: PathBuf,
    n: u32,
}

impl Tour {
    async fn go(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_string()
    }

    async fn text(&self, css: &str) -> String {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} not on the page: {e}"))
            .text()
            .await
            .unwrap()
    }

    async fn body(&self) -> String {
        self.text("body").await
    }

    /// Types into a field (replacing what was there).
    async fn fill(&self, css: &str, value: &str) {
        let e = self
            .c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    /// Sets a date field (typing into one depends on the browser's locale).
    async fn date(&self, css: &str, value: &str) {
        self.c
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![json!(css), json!(value)],
            )
            .await
            .unwrap();
    }

    async fn choose(&self, css: &str, value: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .select_by_value(value)
            .await
            .unwrap();
    }

    /// Clicks a form's submit button and waits for the next page.
    async fn submit(&self, form_css: &str) {
        let button = format!("{form_css} button[type=submit]");
        // Marks this document, so that the wait below sees when the next one has replaced it.
        self.c
            .execute("window.__aiscBefore = true;", vec![])
            .await
            .unwrap();
        self.c
            .find(Locator::Css(&button))
            .await
            .unwrap_or_else(|e| panic!("{button}: {e}"))
            .click()
            .await
            .unwrap();
        self.settle().await;
    }

    async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = self
                .c
                .execute(
                    "return !window.__aiscBefore && document.readyState === 'complete'",
                    vec![],
                )
                .await;
            if matches!(ready, Ok(Value::Bool(true))) {
                return;
            }
            assert!(Instant::now() < deadline, "the page never finished loading");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves the whole page as `NN-name.png` and checks what every page must have.
    async fn shot(&mut self, name: &str) {
        self.n += 1;
        // The window is stretched to the page's height for the picture, then put back.
        let (w, h) = self.c.get_window_size().await.unwrap();
        let (w, h) = (u32::try_from(w).unwrap(), u32::try_from(h).unwrap());
        let tall = self
            .c
            .execute("return document.documentElement.scrollHeight", vec![])
            .await
            .unwrap()
            .as_u64()
            .map_or(h, |px| u32::try_from(px).unwrap_or(h).clamp(h, 6_000));
        self.c.set_window_size(w, tall).await.unwrap();
        self.c
            .execute("window.scrollTo(0, 0);", vec![])
            .await
            .unwrap();
        let png = self.c.screenshot().await.unwrap();
        self.c.set_window_size(w, h).await.unwrap();
        std::fs::write(self.shots.join(format!("{:02}-{name}.png", self.n)), png).unwrap();
        self.accessible(name).await;
    }

    /// Every visible field has a label, and the page has one main landmark.
    async fn accessible(&self, name: &str) {
        let unlabelled = self
            .c
            .execute(
                "return [...document.querySelectorAll('input, select, textarea')]
                   .filter(e => e.type !== 'hidden')
                   .filter(e => !(e.id && document.querySelector('label[for=\"' + e.id + '\"]')) && !e.getAttribute('aria-label'))
                   .map(e => e.name || e.outerHTML);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(unlabelled, json!([]), "{name}: fields without a label");
        let mains = self
            .c
            .execute("return document.querySelectorAll('main').length", vec![])
            .await
            .unwrap();
        assert_eq!(mains, json!(1), "{name}: one main landmark");
    }

    async fn login(&mut self, user: &str) {
        self.go("/").await;
        assert_eq!(self.path().await, "/login", "signed out, / asks to log in");
        self.fill("#user", user).await;
        self.fill("#password", PASSWORD).await;
        self.submit("form[action='/login']").await;
        assert_eq!(self.path().await, "/", "{user} lands on the dashboard");
        assert!(self.text("header .who").await.contains(user));
    }

    async fn logout(&self) {
        self.submit("form[action='/logout']").await;
        assert_eq!(self.path().await, "/login");
        self.go("/jobs").await;
        assert_eq!(
            self.path().await,
            "/login",
            "logged out: no session any more"
        );
    }

    /// Polls `js` (a boolean expression) until it holds.
    async fn until(&self, what: &str, js: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self
                .c
                .execute(&format!("return Boolean({js});"), vec![])
                .await
                .unwrap();
            if v == json!(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: still false after {secs} s: {}",
                self.body().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A grant's figure on the project page, as shown (`HK$1.67`).
    async fn grant_figure(&self, grant: i64, field: &str) -> String {
        self.text(&format!(
            "tr[data-grant='{grant}'] td[data-field='{field}']"
        ))
        .await
    }
}

fn cents(shown: &str) -> i64 {
    let digits: String = shown
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{shown:?} is no amount"))
}

fn hk_month() -> String {
    let now = time::OffsetDateTime::now_utc() + time::Duration::hours(8);
    format!("{:04}-{:02}", now.year(), u8::from(now.month()))
}

/// A token of `user`'s, from a password login through the API.
fn token_of(server: &Server, dir: &Path, user: &str) -> String {
    let out = common::with_stdin(
        server,
        dir,
        &["login", "--user", user, "--password-stdin"],
        PASSWORD,
        None,
    );
    assert!(out.status.success(), "{out:?}");
    std::fs::read_to_string(dir.join("cfg/token"))
        .unwrap()
        .trim()
        .to_string()
}

/// The centre's people and organisations, made through the CLI as the admin.
fn set_up(server: &Server, dir: &Path) {
    for (name, role) in [
        ("ops", "admin"),
        ("ann", "user"),
        ("rev", "reviewer"),
        ("coi", "reviewer"),
        ("bob", "user"),
    ] {
        server.user_with_password(dir, name, role, PASSWORD);
    }
    server.ok(dir, &["org", "create", "hku", "--kind", "university"]);
    server.ok(dir, &["org", "create", "acme", "--kind", "enterprise"]);
    server.ok(dir, &["org", "admin-add", "hku", "coi"]);
    server.ok(
        dir,
        &["project", "create", "alpha", "--org", "hku", "--pi", "ann"],
    );
    server.ok(
        dir,
        &["project", "create", "beta", "--org", "acme", "--pi", "bob"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_through_the_portal_in_chromium() {
    let Some((driver, chromium)) = driver() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--fake-gpus", "2"]);
    let dir = tmp.path();
    set_up(&server, dir);
    let shots = std::env::var_os("AISC_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots"));
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let mut t = Tour {
        c: browser(&driver, &chromium).await,
        base: server.url.clone(),
        shots: shots.clone(),
        n: 0,
    };

    // The administrator: the dashboard, a scheme made through the admin page, a node drained and resumed.
    t.go("/").await;
    t.shot("login").await;
    t.login("ops").await;
    let dash = t.body().await;
    assert!(
        dash.contains("PFLOPS") && dash.contains("jobs queued"),
        "{dash}"
    );
    assert!(
        t.c.find(Locator::Css("figure svg")).await.is_ok(),
        "utilisation chart drawn"
    );
    t.shot("dashboard-admin").await;
    t.go("/admin").await;
    t.c.find(Locator::Css(
        "details:has(form[action='/admin/scheme']) summary",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let f = "form[action='/admin/scheme']";
    t.fill(&format!("{f} #f-name"), "hkgpu").await;
    t.fill(&format!("{f} #f-title"), "HK GPU subsidy").await;
    t.fill(&format!("{f} #f-pool"), "1000000").await;
    t.fill(&format!("{f} #f-eligible"), "university").await;
    t.fill(&format!("{f} #f-default_rate"), "70%").await;
    t.fill(&format!("{f} #f-max_rate"), "90%").await;
    t.fill(&format!("{f} #f-criteria"), "impact:60, feasibility:40")
        .await;
    t.date(&format!("{f} #f-opens"), "2026-01-01").await;
    t.date(&format!("{f} #f-closes"), "2099-01-01").await;
    t.submit(f).await;
    assert!(
        t.text("#schemes").await.contains("HK GPU subsidy (hkgpu)"),
        "the new scheme is listed"
    );
    let node_row = "#nodes tbody tr";
    let node = t.c.find(Locator::Css(node_row)).await.unwrap();
    let node_name = node.attr("data-node").await.unwrap().unwrap();
    t.fill(
        &format!("{node_row} form[action$='/drain'] input[name=reason]"),
        "firmware update",
    )
    .await;
    t.submit(&format!("{node_row} form[action$='/drain']"))
        .await;
    let row = t.text(&format!("tr[data-node='{node_name}']")).await;
    assert!(
        row.contains("drain") && row.contains("firmware update"),
        "{row}"
    );
    t.shot("admin-node-drained").await;
    t.submit(&format!(
        "tr[data-node='{node_name}'] form[action$='/resume']"
    ))
    .await;
    assert!(
        t.text(&format!("tr[data-node='{node_name}']"))
            .await
            .contains("up")
    );
    // A new user, then another role for them.
    t.c.find(Locator::Css(
        "details:has(form[action='/admin/user']) summary",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let f = "form[action='/admin/user']";
    t.fill(&format!("{f} #f-name"), "carol").await;
    t.fill(&format!("{f} #f-password"), PASSWORD).await;
    t.submit(f).await;
    t.c.find(Locator::Css(
        "details:has(form[action='/admin/role']) summary",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let f = "form[action='/admin/role']";
    t.choose(&format!("{f} #f-user"), "carol").await;
    t.choose(&format!("{f} #f-role"), "auditor").await;
    t.submit(f).await;
    let users = t.text("#users table").await;
    assert!(
        users.lines().any(|l| l.starts_with("carol auditor set")),
        "{users}"
    );
    t.logout().await;

    // The auditor reads the trail and its chain status, and may change nothing.
    t.login("carol").await;
    t.go("/audit?actor=ops").await;
    assert!(
        t.text("[data-chain]")
            .await
            .starts_with("Hash chain intact"),
        "the chain is verified"
    );
    let trail = t.text("table").await;
    assert!(
        trail.contains("node.drain") && trail.contains("scheme.create"),
        "{trail}"
    );
    assert!(
        trail.lines().skip(1).all(|l| l.contains("ops")),
        "only ops's events: {trail}"
    );
    t.shot("audit-as-auditor").await;
    t.go("/admin").await;
    assert!(
        t.c.find_all(Locator::Css("main form[method=post]"))
            .await
            .unwrap()
            .is_empty(),
        "an auditor sees no form that changes anything"
    );
    t.logout().await;

    // The PI applies for a grant, one justification per criterion.
    t.login("ann").await;
    t.go("/applications/new?scheme=hkgpu").await;
    let f = "form[action='/applications/new'][method='post']";
    t.choose(&format!("{f} #f-project"), "alpha").await;
    t.choose(&format!("{f} #f-class"), "local").await;
    t.fill(&format!("{f} #f-gpu_hours"), "50").await;
    t.date(&format!("{f} #f-starts"), &common::today()).await;
    t.date(&format!("{f} #f-ends"), "2099-01-01").await;
    t.fill(
        &format!("{f} #f-j_impact"),
        "Open Cantonese speech models for public services.",
    )
    .await;
    t.fill(
        &format!("{f} #f-j_feasibility"),
        "Data collected; the training recipe runs at small scale.",
    )
    .await;
    t.shot("apply-form").await;
    t.submit(f).await;
    let app_path = t.path().await;
    let Some(app) = app_path
        .strip_prefix("/applications/")
        .and_then(|s| s.parse::<i64>().ok())
    else {
        panic!("after applying: {app_path}: {}", t.body().await)
    };
    assert!(t.text("p.status").await.contains("submitted"));
    t.logout().await;

    // A reviewer of the applicant's own organisation is told why there is no form to score with.
    t.login("coi").await;
    t.go(&format!("/applications/{app}")).await;
    let note = t.text("[data-conflict]").await;
    assert!(note.contains("conflict of interest"), "{note}");
    let f = format!("form[action='/applications/{app}/review']");
    assert!(
        t.c.find(Locator::Css(&f)).await.is_err(),
        "no review form for a conflicted reviewer"
    );
    t.shot("review-conflict-refused").await;
    t.logout().await;
    // The server refuses such a review all the same (the form is only spared).
    let out = server.aisc_env(
        dir,
        &[
            "review",
            &app.to_string(),
            "--score",
            "impact=10",
            "--score",
            "feasibility=10",
        ],
        &[("AISC_TOKEN", &token_of(&server, dir, "coi"))],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("conflict of interest"),
        "{out:?}"
    );

    // An independent reviewer scores it.
    t.login("rev").await;
    t.go("/applications").await;
    assert!(
        t.text("table").await.contains("alpha"),
        "reviewers see applications to review"
    );
    t.go(&format!("/applications/{app}")).await;
    t.fill(&format!("{f} #f-s_impact"), "8").await;
    t.fill(&format!("{f} #f-s_feasibility"), "7").await;
    t.fill(&format!("{f} #f-comment"), "Clear plan.").await;
    t.submit(&f).await;
    let reviews = t.text("section[aria-labelledby=reviews]").await;
    assert!(
        reviews.contains("rev") && !reviews.contains("coi"),
        "{reviews}"
    );
    t.shot("application-reviewed").await;
    t.logout().await;

    // The committee approves it at 80 %.
    t.login("ops").await;
    t.go(&format!("/applications/{app}")).await;
    let f = format!("form[action='/applications/{app}/decision']");
    t.choose(&format!("{f} #f-decision"), "approve").await;
    t.fill(&format!("{f} #f-rate"), "80%").await;
    t.fill(&format!("{f} #f-reason"), "Strong and feasible.")
        .await;
    t.submit(&f).await;
    assert!(t.text("p.status").await.contains("approved"));
    t.shot("application-approved").await;
    t.logout().await;

    // The PI sees the grant, submits a job, watches its log follow live, sees the balance change.
    t.login("ann").await;
    t.go("/projects/alpha").await;
    let grant: i64 =
        t.c.find(Locator::Css("tr[data-grant]"))
            .await
            .expect("the approved grant is listed")
            .attr("data-grant")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
    let before = cents(&t.grant_figure(grant, "remaining").await);
    assert_eq!(before, 50 * 1000, "50 GPU-hours at HK$10.00");
    assert_eq!(cents(&t.grant_figure(grant, "used").await), 0);
    t.shot("project-before-job").await;
    t.go("/jobs/new").await;
    let f = "form[action='/jobs/new']";
    t.fill(&format!("{f} #f-name"), "portal-hello").await;
    t.fill(
        &format!("{f} #f-command"),
        "echo first-line-from-the-job; sleep 4; echo last-line-from-the-job",
    )
    .await;
    t.choose(&format!("{f} #f-account"), "alpha").await;
    t.fill(&format!("{f} #f-gpus"), "1").await;
    t.fill(&format!("{f} #f-time"), "10:00").await;
    t.shot("submit-form").await;
    t.submit(f).await;
    let job_path = t.path().await;
    let Some(job) = job_path
        .strip_prefix("/jobs/")
        .and_then(|s| s.parse::<i64>().ok())
    else {
        panic!("after submitting: {job_path}: {}", t.body().await)
    };
    // The page was opened before the job ended: the script appends the log as it comes.
    t.until(
        "the first line appears",
        "document.querySelector('pre.log').textContent.includes('first-line-from-the-job')",
        30,
    )
    .await;
    t.until(
        "the log follows to the end",
        "document.querySelector('pre.log').textContent.includes('last-line-from-the-job')",
        30,
    )
    .await;
    t.until(
        "the page shows the job completed",
        "document.querySelector('[data-job-state]').dataset.jobState === 'completed'",
        30,
    )
    .await;
    t.settle().await;
    let timeline = t.text("ol.timeline").await;
    assert!(
        timeline.contains("running") && timeline.contains("completed"),
        "{timeline}"
    );
    let placement = t.text("section[aria-labelledby=where]").await;
    assert!(placement.contains("fake GPUs"), "{placement}");
    t.shot("job-completed").await;
    t.go("/jobs").await;
    assert!(t.text("table").await.contains("portal-hello"));
    t.shot("jobs-list").await;
    t.go("/projects/alpha").await;
    let used = cents(&t.grant_figure(grant, "used").await);
    let after = cents(&t.grant_figure(grant, "remaining").await);
    assert!(used > 0, "the job was charged");
    assert_eq!(after, before - used, "remaining fell by what was charged");
    t.shot("project-after-job").await;
    t.go(&format!("/projects/alpha/statement?month={}", hk_month()))
        .await;
    let statement = t.text("table").await;
    assert!(statement.contains("portal-hello"), "{statement}");
    t.shot("statement").await;
    t.logout().await;

    // A member of another project sees none of it.
    t.login("bob").await;
    t.go("/jobs").await;
    assert!(!t.body().await.contains("portal-hello"));
    t.go("/projects").await;
    assert!(!t.body().await.contains("alpha"));
    for page in [
        format!("/jobs/{job}"),
        "/projects/alpha".to_string(),
        format!("/applications/{app}"),
        format!("/projects/alpha/statement?month={}", hk_month()),
    ] {
        t.go(&page).await;
        let h1 = t.text("h1").await;
        assert_eq!(h1, "Not found", "{page} as bob");
    }
    t.shot("other-tenant-not-found").await;
    t.go("/admin").await;
    assert_eq!(t.text("h1").await, "Not allowed");

    // Their own account: the password changes only with the current one.
    t.go("/account").await;
    let f = "form[action='/account/password']";
    t.fill(&format!("{f} #f-current"), "not my password").await;
    t.fill(&format!("{f} #f-password"), "a new password for bob")
        .await;
    t.fill(&format!("{f} #f-again"), "a new password for bob")
        .await;
    t.submit(f).await;
    assert!(t.text("#form-error").await.starts_with("current:"));
    t.fill(&format!("{f} #f-current"), PASSWORD).await;
    t.fill(&format!("{f} #f-password"), "a new password for bob")
        .await;
    t.fill(&format!("{f} #f-again"), "a new password for bob")
        .await;
    t.submit(f).await;
    assert!(
        t.text("[role=status]")
            .await
            .contains("password was changed")
    );
    assert!(
        t.text("section[aria-labelledby=tokens]")
            .await
            .contains("this session")
    );
    t.shot("account").await;

    // Keyboard first: the first Tab reaches "Skip to content"; the page reads on a phone.
    t.go("/").await;
    t.c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("\u{e004}")
        .await
        .unwrap();
    let focused =
        t.c.execute("return document.activeElement.textContent", vec![])
            .await
            .unwrap();
    assert_eq!(focused, json!("Skip to content"));
    t.c.set_window_size(390, 844).await.unwrap();
    for page in ["/", "/jobs", "/projects", "/applications"] {
        t.go(page).await;
        let overflow = t
            .c
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "{page} scrolls sideways on a phone by {overflow} px"
        );
    }
    t.go("/").await;
    t.shot("dashboard-phone").await;
    t.c.close().await.unwrap();
    drop(driver);
    let saved = std::fs::read_dir(&shots).unwrap().count();
    assert_eq!(saved as u32, t.n, "one screenshot per page");
    eprintln!("{saved} screenshots in {}", shots.display());
}
