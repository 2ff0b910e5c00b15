//! Interactive jobs as a person uses them: `aisc run --pty bash` in a real
//! terminal (tmux), typed into and read off the screen; detach and `aisc
//! attach`; `aisc run --jobid` in an allocation; Ctrl-C, the window's size,
//! exit statuses; the time limit; and who may reach a terminal.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::{AISC, Server};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tmux session on a server of its own (never the user's), at a fixed size.
struct Tmux {
    socket: String,
    name: &'static str,
}

impl Tmux {
    fn available() -> bool {
        let ok = Command::new("tmux")
            .arg("-V")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            common::missing("tmux", "tmux is not installed (apt-get install tmux)");
        }
        ok
    }

    /// Runs `cmd` (a shell line) in a new 100x30 terminal with `env`.
    fn start(name: &'static str, cwd: &Path, cmd: &str, env: &[(&str, &str)]) -> Tmux {
        let socket = format!("aisc-test-{}-{name}", std::process::id());
        let mut c = Command::new("tmux");
        c.args([
            "-L",
            &socket,
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "100",
            "-y",
            "30",
        ]);
        c.arg("-c").arg(cwd);
        for (k, v) in env {
            c.args(["-e", &format!("{k}={v}")]);
        }
        // The pane stays after the command ends, so that its last words can be read.
        c.arg(format!("{cmd}; echo \"[exit $?]\"; sleep 600"));
        assert!(c.status().unwrap().success(), "tmux starts");
        Tmux { socket, name }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` and Enter, as a person would.
    fn line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", self.name, "-l", text]);
        self.tmux(&["send-keys", "-t", self.name, "Enter"]);
    }

    /// Presses a key (tmux's names: `C-c`, `C-]`).
    fn key(&self, key: &str) {
        self.tmux(&["send-keys", "-t", self.name, key]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", self.name, "-S", "-200"])
    }

    /// Waits until the screen shows `needle` (at most 30 s); returns the screen.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {needle:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn resize(&self, cols: u16, rows: u16) {
        self.tmux(&[
            "resize-window",
            "-t",
            self.name,
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

fn server(dir: &Path) -> Server {
    Server::start(dir, &["--fake-gpus", "2"])
}

fn env(srv: &Server) -> Vec<(&'static str, String)> {
    vec![("AISC_URL", srv.url.clone()), ("AISC_TOKEN", srv.token())]
}

fn job_state(srv: &Server, cwd: &Path, id: i64) -> String {
    srv.show(cwd, id)["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_shell_on_a_gpu_typed_into_detached_from_and_attached_to_again() {
    if !Tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    common::open_up(&work);
    let srv = server(dir.path());
    let vars = env(&srv);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let t = Tmux::start(
        "shell",
        &work,
        &format!("{AISC} run -G 1 -t 10 --pty bash --norc --noprofile"),
        &vars,
    );
    t.wait_for("aisc: job 1 running");
    t.line("PS1='READY> '");
    t.wait_for("READY> ");
    // Its GPU, its terminal, and not a trace of the relay's token.
    t.line("echo gpu=$CUDA_VISIBLE_DEVICES job=$SLURM_JOB_ID tty=$(tty) relay=$(env | grep -c AISC_RELAY)");
    let s = t.wait_for("gpu=0 job=1 tty=/dev/pts/");
    assert!(s.contains("relay=0"), "the agent's variables leak:\n{s}");
    // The window's size follows this terminal's.
    t.line("echo size=$(stty size)");
    t.wait_for("size=30 100");
    t.resize(120, 40);
    std::thread::sleep(Duration::from_millis(500));
    t.line("echo size=$(stty size)");
    t.wait_for("size=40 120");
    // Ctrl-C reaches the program in the foreground, not the session.
    t.line("sleep 300");
    std::thread::sleep(Duration::from_millis(500));
    t.key("C-c");
    t.line("echo after-sleep=$?");
    t.wait_for("after-sleep=130");
    // Ctrl-] detaches; the job runs on.
    t.line("echo before-detach");
    t.wait_for("before-detach");
    t.key("C-]");
    let s = t.wait_for("detached from job 1");
    assert!(s.contains("[exit 0]"), "detaching exits 0:\n{s}");
    assert_eq!(job_state(&srv, &work, 1), "running");

    // Commands in the allocation, from outside it: status and output come back.
    let out = srv.aisc(
        &work,
        &[
            "run",
            "--jobid",
            "1",
            "--",
            "sh",
            "-c",
            "echo step gpus=$CUDA_VISIBLE_DEVICES; exit 4",
        ],
    );
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "step gpus=0");
    let piped = common::with_stdin(
        &srv,
        &work,
        &["run", "--jobid", "1", "--", "tr", "a-z", "A-Z"],
        "piped in\n",
        Some(&srv.token()),
    );
    assert!(piped.status.success(), "{piped:?}");
    assert_eq!(String::from_utf8_lossy(&piped.stdout), "PIPED IN\n");

    // Back again: what was on the screen is there, and typing goes on.
    let again = Tmux::start("again", &work, &format!("{AISC} attach 1"), &vars);
    again.wait_for("before-detach");
    again.line("exit 7");
    let s = again.wait_for("[exit 7]");
    assert!(!s.contains("error"), "{s}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while job_state(&srv, &work, 1) == "running" {
        assert!(Instant::now() < deadline, "the job never ended");
        std::thread::sleep(Duration::from_millis(200));
    }
    // It is a job like any: its end, its usage, its place in the list and the audit trail.
    let job = srv.show(&work, 1);
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["exit_code"], 7, "{job}");
    let jobs = srv.ok(&work, &["jobs"]);
    assert!(
        jobs.lines()
            .any(|l| l.starts_with("1 ") && l.contains("bash")),
        "{jobs}"
    );
    let audit = srv.ok(&work, &["audit", "list", "--json"]);
    assert!(
        audit.contains("job:1"),
        "the submission is audited: {audit}"
    );
    // A late attacher learns how it ended.
    let late = srv.aisc(&work, &["attach", "1"]);
    assert_eq!(late.status.code(), Some(7), "{late:?}");
}

#[test]
fn commands_end_as_their_programs_do_and_the_time_limit_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    common::open_up(&work);
    let srv = server(dir.path());
    // Without a terminal: output and status, as srun gives them.
    let out = srv.aisc(
        &work,
        &["run", "--", "sh", "-c", "echo out; echo err >&2; exit 3"],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("out") && stdout.contains("err"), "{out:?}");
    // Output as fast as the program makes it, every byte, to a reader slower than the job.
    let out = srv.aisc(&work, &["run", "--", "head", "-c", "30000000", "/dev/zero"]);
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(out.stdout.len(), 30_000_000, "output lost on the way");
    // A program that does not exist: said at the terminal, status 127.
    let out = srv.aisc(&work, &["run", "--", "no-such-program-here"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no-such-program-here"),
        "{out:?}"
    );
    // The time limit ends the session; the user is told why.
    let started = Instant::now();
    let out = srv.aisc(&work, &["run", "-t", "3s", "--", "sleep", "120"]);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the limit was not kept"
    );
    assert!(!out.status.success(), "{out:?}");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("being stopped"), "{said}");
    let job = srv.wait_state(&work, 4, "timed_out");
    assert_eq!(job["reason"], "time limit of 00:00:03 reached", "{job}");
}

#[test]
fn a_terminal_is_its_owners_alone_and_bad_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    common::open_up(&work);
    let srv = server(dir.path());
    srv.user_with_password(&work, "mallory", "user", "mallory-password-1");
    let mallory = srv.login(&work, "mallory", "mallory-password-1");
    // A job that waits at a prompt: the admin's.
    let mut waiting = srv.spawn_aisc(
        &work,
        &[
            "run",
            "-t",
            "5",
            "--",
            "sh",
            "-c",
            "read line; echo got $line",
        ],
        &srv.token(),
    );
    srv.wait_running(&work, 1);
    // Another user: not found (it is not theirs to see).
    let other = srv.aisc_env(&work, &["attach", "1"], &[("AISC_TOKEN", &mallory)]);
    assert!(!other.status.success());
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("not found"),
        "{other:?}"
    );
    let other = srv.aisc_env(
        &work,
        &["run", "--jobid", "1", "--", "id"],
        &[("AISC_TOKEN", &mallory)],
    );
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("not found"),
        "{other:?}"
    );
    // The owner's read-only token: refused, naming why.
    let ro = srv.ok(&work, &["token", "create", "--label", "ro", "--read-only"]);
    let ro = ro.trim().to_string();
    let out = srv.aisc_env(&work, &["attach", "1"], &[("AISC_TOKEN", &ro)]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("read-only"),
        "{out:?}"
    );
    // The job side: no user's token opens it, nor a made-up relay token.
    let http = common::http();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("{}/api/v1/jobs/1/relay", srv.url);
        let r = http
            .get(&url)
            .bearer_auth(srv.token())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = http
            .get(&url)
            .header("x-aisc-relay-token", "0".repeat(64))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        // The owner's plain GET: told it is a WebSocket.
        let r = http
            .get(format!("{}/api/v1/jobs/1/attach", srv.url))
            .bearer_auth(srv.token())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("WebSocket"));
    });
    // A batch job has no terminal.
    let batch = srv.submit(&work, &["-H", "--", "true"]);
    let out = srv.aisc(&work, &["attach", &batch.to_string()]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not interactive"),
        "{out:?}"
    );
    // Bad input changes nothing: an array, an output file.
    for (flags, says) in [
        (vec!["run", "-a", "1-2", "--", "true"], "cannot be an array"),
        (vec!["run", "-o", "out.txt", "--", "true"], "-o/-e"),
    ] {
        let out = srv.aisc(&work, &flags);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{out:?}"
        );
    }
    // The owner's session was never disturbed.
    {
        use std::io::Write as _;
        let mut stdin = waiting.stdin.take().unwrap();
        writeln!(stdin, "hello").unwrap();
    }
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "got hello");
    let jobs = srv.ok(&work, &["jobs", "--json"]);
    assert_eq!(
        jobs.matches("\"id\"").count(),
        2,
        "nothing was submitted by the refused requests: {jobs}"
    );
}
