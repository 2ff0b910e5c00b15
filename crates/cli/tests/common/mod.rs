//! A real `aisc serve` on an ephemeral port with a temporary data directory,
//! driven through the real `aisc` binary.

#![allow(dead_code, clippy::unwrap_used)] // a test harness: each test uses part of it; a panic is a failed test

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const AISC: &str = env!("CARGO_BIN_EXE_aisc");

pub struct Server {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    pub log: Arc<Mutex<String>>,
    pub args: Vec<String>,
}

/// With `AISC_TEST_BACKEND=postgres`, every server of these tests runs on a
/// PostgreSQL database of its own (on the server `AISC_TEST_POSTGRES` names),
/// made at its first start and named after its data directory, so that a
/// restart on the same directory finds the same database.
pub fn postgres_for(data_dir: &Path) -> Option<String> {
    if std::env::var("AISC_TEST_BACKEND").ok()? != "postgres" {
        return None;
    }
    assert!(
        std::env::var("AISC_TEST_POSTGRES").is_ok(),
        "AISC_TEST_BACKEND=postgres needs AISC_TEST_POSTGRES (a postgres:// URL)"
    );
    postgres_db(data_dir)
}

/// A PostgreSQL database named after `data_dir` on the server
/// `AISC_TEST_POSTGRES` names (made if missing), or `None` without one.
pub fn postgres_db(data_dir: &Path) -> Option<String> {
    let server = std::env::var("AISC_TEST_POSTGRES").ok()?;
    let name = database_name(data_dir);
    let exists = psql(
        &server,
        &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
    );
    if exists.trim() != "1" {
        psql(&server, &format!("CREATE DATABASE {name}"));
    }
    let (base, _) = server.rsplit_once('/').expect("a URL with a database");
    Some(format!("{base}/{name}"))
}

/// Whether the run must have the real service `tier` (`postgres`, `slurm`,
/// `browser`, `schemathesis`): `AISC_REQUIRE` names it, comma-separated, or
/// is `all` (`.ci/run` names them all).
pub fn required(tier: &str) -> bool {
    std::env::var("AISC_REQUIRE")
        .is_ok_and(|v| v.split(',').map(str::trim).any(|t| t == tier || t == "all"))
}

/// A test whose service is missing: it fails when the run requires `tier`
/// (see [`required`]), else it says what it needs and is skipped.
pub fn missing(tier: &str, why: &str) {
    assert!(!required(tier), "{why} (AISC_REQUIRE names {tier})");
    eprintln!("SKIPPED: {why}");
}

/// `aisc apply` for `hours` GPU-hours of `class` for `project` under
/// `scheme` (one criterion, `impact`), from `from` to `to`.
pub fn apply_args(
    project: &str,
    scheme: &str,
    class: &str,
    hours: &str,
    from: &str,
    to: &str,
) -> Vec<String> {
    [
        "apply",
        "--project",
        project,
        "--scheme",
        scheme,
        "--class",
        class,
        "--gpu-hours",
        hours,
        "--from",
        from,
        "--to",
        to,
        "--justify",
        "impact=x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Today's date in Hong Kong (the centre's calendar), YYYY-MM-DD: the
/// earliest day an application may start.
pub fn today() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 8 * 3600 * 1000;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// As root, the server runs jobs as their users' Unix accounts: the tests'
/// jobs run as `aisc-test` (made once on this machine if missing, uid >= 1000),
/// the account `--default-unix-name` names.
pub fn test_account() -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    static MADE: std::sync::Once = std::sync::Once::new();
    MADE.call_once(|| {
        if nix::unistd::User::from_name("aisc-test")
            .ok()
            .flatten()
            .is_none()
        {
            let _ = Command::new("useradd")
                .args([
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "aisc-test",
                ])
                .status();
        }
        assert!(
            nix::unistd::User::from_name("aisc-test")
                .ok()
                .flatten()
                .is_some(),
            "the test account aisc-test could not be made"
        );
    });
    Some("aisc-test")
}

/// Lets the test account work in `dir` (a test's own temporary directory).
pub fn open_up(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if test_account().is_some() && dir.starts_with(std::env::temp_dir()) {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777));
    }
}

impl Server {
    /// Starts a server on `data_dir` with extra `serve` arguments.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_env(data_dir, extra, &[])
    }

    /// Starts a server with extra `serve` arguments and environment variables.
    /// The server's own directory is `srv` inside the `data_dir` given, so
    /// that the given directory, where the tests run their jobs, is not the
    /// server's (which no job may reach).
    pub fn start_env(given: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let data_dir = &given.join("srv");
        let _ = std::fs::create_dir_all(given);
        open_up(given);
        let mut args = vec!["serve".to_string()];
        // An ephemeral port unless the test names one (a restart on the same address).
        if !extra.contains(&"--listen") {
            args.extend(["--listen".into(), "127.0.0.1:0".into()]);
        }
        args.push("--data-dir".into());
        args.push(data_dir.display().to_string());
        if let Some(account) = test_account()
            && !extra.contains(&"--default-unix-name")
        {
            args.push("--default-unix-name".into());
            args.push(account.into());
        }
        if !extra.contains(&"--database")
            && let Some(url) = postgres_for(given)
        {
            args.push("--database".into());
            args.push(url);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new(AISC)
            .args(&args)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("aisc serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let _ = tx.send(url);
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("server did not start: {}", log.lock().unwrap()));
        Server {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
            log,
            args,
        }
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin-token"))
            .expect("admin token")
            .trim()
            .to_string()
    }

    /// Runs `aisc ARGS` against this server from `cwd`.
    pub fn aisc(&self, cwd: &Path, args: &[&str]) -> Output {
        self.aisc_env(cwd, args, &[])
    }

    /// Runs `aisc ARGS` with extra environment variables.
    pub fn aisc_env(&self, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        open_up(cwd);
        Command::new(AISC)
            .args(args)
            .current_dir(cwd)
            .env("AISC_URL", &self.url)
            .env("AISC_TOKEN", self.token())
            .env("AISC_CONFIG_DIR", cwd.join(".aisc-config"))
            .envs(env.iter().copied())
            .output()
            .expect("aisc runs")
    }

    /// `aisc ARGS`, which must succeed; returns stdout.
    pub fn ok(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.aisc(cwd, args);
        assert!(
            out.status.success(),
            "aisc {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log.lock().unwrap()
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Creates a user with a role and a password (as the admin, through `aisc user create`).
    pub fn user_with_password(&self, cwd: &Path, name: &str, role: &str, password: &str) {
        let out = with_stdin(
            self,
            cwd,
            &["user", "create", name, "--role", role, "--password-stdin"],
            password,
            Some(&self.token()),
        );
        assert!(out.status.success(), "{out:?}");
    }

    /// Logs `user` in with `password` (through `aisc login`); returns their token.
    pub fn login(&self, cwd: &Path, user: &str, password: &str) -> String {
        let cfg = cwd.join(format!("cfg-{user}"));
        let mut child = Command::new(AISC)
            .args(["login", "--user", user, "--password-stdin"])
            .current_dir(cwd)
            .env("AISC_URL", &self.url)
            .env("AISC_CONFIG_DIR", &cfg)
            .env_remove("AISC_TOKEN")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("aisc runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("aisc reads");
        let out = child.wait_with_output().expect("aisc runs");
        assert!(out.status.success(), "login {user}: {out:?}");
        std::fs::read_to_string(cfg.join("token"))
            .expect("a token")
            .trim()
            .to_string()
    }

    /// Makes scheme `name` (open 2020 to 2099, eligible: research institutes,
    /// like `local`; approval needs no review) with a pool of `pool` HK$.
    pub fn scheme_without_review(&self, cwd: &Path, name: &str, pool: &str) {
        self.ok(
            cwd,
            &[
                "scheme",
                "create",
                name,
                "--pool",
                pool,
                "--eligible",
                "research-institute",
                "--criterion",
                "impact:100",
                "--opens",
                "2020-01-01",
                "--closes",
                "2099-01-01",
                "--min-reviews",
                "0",
            ],
        );
    }

    /// Applies for `hours` GPU-hours of `class` for `project` under `scheme`,
    /// from today, as `token`'s user (the admin's when `None`), and approves it
    /// as the admin; returns the grant's id.
    pub fn approved_grant(
        &self,
        cwd: &Path,
        token: Option<&str>,
        project: &str,
        scheme: &str,
        class: &str,
        hours: &str,
    ) -> String {
        let args = apply_args(project, scheme, class, hours, &today(), "2099-01-01");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = match token {
            Some(t) => self.aisc_env(cwd, &args, &[("AISC_TOKEN", t)]),
            None => self.aisc(cwd, &args),
        };
        assert!(out.status.success(), "apply: {out:?}");
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        self.ok(cwd, &["decide", &id, "--approve"]);
        id
    }

    /// Submits and returns the id printed alone on stdout.
    pub fn submit(&self, cwd: &Path, args: &[&str]) -> i64 {
        let mut all = vec!["submit"];
        all.extend_from_slice(args);
        let out = self.ok(cwd, &all);
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("submit printed {out:?}, not an id"))
    }

    pub fn show(&self, cwd: &Path, id: impl std::fmt::Display) -> Value {
        serde_json::from_str(&self.ok(cwd, &["show", &id.to_string(), "--json"]))
            .expect("show --json is JSON")
    }

    /// Starts `aisc ARGS` as the holder of `token`, its input, output and
    /// error piped: a command the test types into (`aisc run`, `aisc alloc`).
    pub fn spawn_aisc(&self, cwd: &Path, args: &[&str], token: &str) -> Child {
        open_up(cwd);
        Command::new(AISC)
            .args(args)
            .current_dir(cwd)
            .env("AISC_URL", &self.url)
            .env("AISC_TOKEN", token)
            .env("AISC_CONFIG_DIR", cwd.join(".aisc-config"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("aisc runs")
    }

    /// Waits until job `id` exists (a command started apart is submitting
    /// it), then until it runs; returns its JSON.
    pub fn wait_running(&self, cwd: &Path, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.aisc(cwd, &["show", &id.to_string()]).status.success() {
            assert!(Instant::now() < deadline, "job {id} was never submitted");
            std::thread::sleep(Duration::from_millis(100));
        }
        self.wait_state(cwd, id, "running")
    }

    /// Polls until the job is in `state`; returns its JSON.
    pub fn wait_state(&self, cwd: &Path, id: impl std::fmt::Display, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let job = self.show(cwd, &id);
            if job["state"] == state {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never became {state}: {job:#}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls until the job's reason is `reason` (a pass records it a moment after submission).
    pub fn wait_reason(&self, cwd: &Path, id: impl std::fmt::Display, reason: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let job = self.show(cwd, &id);
            if job["reason"] == reason {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never waited for {reason}: {job:#}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    pub fn stop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The reasons of a job's recorded transitions, as "from->to: reason".
pub fn history(job: &Value) -> Vec<String> {
    job["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            format!(
                "{}->{}: {}",
                e["from"].as_str().unwrap_or("-"),
                e["to"].as_str().unwrap_or("?"),
                e["reason"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Drops, when it goes (declare it before the servers, so that it goes after
/// them), the PostgreSQL databases `postgres_db` made for these data directories.
pub struct DropDatabases(pub Vec<PathBuf>);

impl Drop for DropDatabases {
    fn drop(&mut self) {
        let Ok(server) = std::env::var("AISC_TEST_POSTGRES") else {
            return;
        };
        for dir in &self.0 {
            let name = database_name(dir);
            let _ = Command::new("psql")
                .args([&server, "-qc"])
                .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .output();
        }
    }
}

fn database_name(data_dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut h);
    format!("aisc_cli_{:016x}", h.finish())
}

/// A connection of its own to the database of the server on `data_dir`
/// (SQLite or PostgreSQL): to change what aisc would never change.
pub async fn raw_db(data_dir: &Path) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let db = if data_dir.join("srv/aisc.db").exists() {
        data_dir.join("srv/aisc.db")
    } else {
        data_dir.join("aisc.db")
    };
    let url = postgres_for(data_dir).unwrap_or_else(|| format!("sqlite://{}", db.display()));
    sqlx::AnyConnection::connect(&url).await.unwrap()
}

/// Runs `sql` on the database at `url` with psql; returns its rows, `|`-separated.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-XAt", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `aisc ARGS` with `input` on standard input and `token` (else none) in the environment.
pub fn with_stdin(
    server: &Server,
    cwd: &std::path::Path,
    args: &[&str],
    input: &str,
    token: Option<&str>,
) -> Output {
    let mut cmd = Command::new(AISC);
    cmd.args(args)
        .current_dir(cwd)
        .env("AISC_URL", &server.url)
        .env("AISC_CONFIG_DIR", cwd.join("cfg"))
        .env_remove("AISC_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = token {
        cmd.env("AISC_TOKEN", t);
    }
    let mut child = cmd.spawn().expect("aisc runs");
    child
        .stdin
        .take()
        .expect("aisc runs")
        .write_all(input.as_bytes())
        .expect("aisc runs");
    child.wait_with_output().expect("aisc runs")
}

/// An HTTP client for tests, built as the CLI's is.
pub fn http() -> reqwest::Client {
    http_with(|b| b)
}

/// An HTTP client for tests with more settings.
pub fn http_with(f: impl Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder) -> reqwest::Client {
    aisc_engine::http_client(|| f(reqwest::Client::builder())).expect("an HTTP client")
}

/// A funded project in one call: a resource class and its list price (when
/// asked for), a project in organisation `local`, scheme `s` (no review
/// needed) with a pool, and an approved grant from today. Defaults: the
/// built-in class `local`, project `default`'s PI `admin`, a pool of HK$1000,
/// one GPU-hour, applied for by the admin.
#[allow(missing_debug_implementations)]
pub struct World<'a> {
    server: &'a Server,
    cwd: &'a Path,
    class: String,
    class_args: Option<Vec<String>>,
    price: Option<String>,
    project: String,
    pi: String,
    create_project: bool,
    scheme: String,
    pool: String,
    hours: String,
    applicant: Option<String>,
}

impl<'a> World<'a> {
    /// Project `default` funded from class `local`, unless told otherwise.
    pub fn new(server: &'a Server, cwd: &'a Path) -> Self {
        World {
            server,
            cwd,
            class: "local".into(),
            class_args: None,
            price: None,
            project: "default".into(),
            pi: "admin".into(),
            create_project: false,
            scheme: "s".into(),
            pool: "1000".into(),
            hours: "1".into(),
            applicant: None,
        }
    }

    /// A class of its own: `aisc class create NAME --model MODEL` with one
    /// node of `gpus` GPUs, `cpus` cores and `mem` memory.
    pub fn class(mut self, name: &str, model: &str, gpus: u32, cpus: u32, mem: &str) -> Self {
        self.class = name.into();
        self.class_args = Some(
            [
                "class",
                "create",
                name,
                "--model",
                model,
                "--gpus-per-node",
                &gpus.to_string(),
                "--cpus-per-node",
                &cpus.to_string(),
                "--mem-per-node",
                mem,
                "--nodes",
                "1",
            ]
            .map(String::from)
            .to_vec(),
        );
        self
    }

    /// How many nodes the class has (after `class`).
    pub fn nodes(mut self, n: u32) -> Self {
        if let Some(a) = self.class_args.as_mut()
            && let Some(last) = a.last_mut()
        {
            *last = n.to_string();
        }
        self
    }

    /// The class's list price per GPU-hour from 2020, HK$.
    pub fn price(mut self, hkd: &str) -> Self {
        self.price = Some(hkd.into());
        self
    }

    /// A new project in `local`, led by `pi`.
    pub fn project(mut self, name: &str, pi: &str) -> Self {
        self.project = name.into();
        self.pi = pi.into();
        self.create_project = true;
        self
    }

    /// The scheme's pool, HK$.
    pub fn pool(mut self, hkd: &str) -> Self {
        self.pool = hkd.into();
        self
    }

    /// The GPU-hours applied for.
    pub fn hours(mut self, hours: &str) -> Self {
        self.hours = hours.into();
        self
    }

    /// Applies with this token (its user must be a member of the project).
    pub fn applicant(mut self, token: &str) -> Self {
        self.applicant = Some(token.into());
        self
    }

    /// Makes it all; returns the grant's id.
    pub fn grant(self) -> String {
        let (s, w) = (self.server, self.cwd);
        if let Some(args) = &self.class_args {
            s.ok(w, &args.iter().map(String::as_str).collect::<Vec<_>>());
        }
        if let Some(p) = &self.price {
            s.ok(w, &["price", "set", &self.class, p, "--from", "2020-01-01"]);
        }
        if self.create_project {
            s.ok(
                w,
                &[
                    "project",
                    "create",
                    &self.project,
                    "--org",
                    "local",
                    "--pi",
                    &self.pi,
                ],
            );
        }
        s.scheme_without_review(w, &self.scheme, &self.pool);
        s.approved_grant(
            w,
            self.applicant.as_deref(),
            &self.project,
            &self.scheme,
            &self.class,
            &self.hours,
        )
    }
}
