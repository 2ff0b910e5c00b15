//! The Slurm engine against a real Slurm cluster: slurmctld, slurmdbd, four
//! slurmd with fake GPUs and slurmrestd, as `scripts/slurm-dev-cluster.sh up`
//! starts them (`.ci/run` does). Outside CI, without that cluster, each test
//! says what it needs and passes without running; in CI (`CI` or
//! `AISC_REQUIRE` naming `slurm`, as `.ci/run` does) a missing cluster fails them.
//!
//! The tests share the one cluster (and one stops slurmctld), so they take
//! turns.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use aisc_engine::slurm::tres;
use common::{Server, history};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static CLUSTER: Mutex<()> = Mutex::new(());

const USER: &str = "aiscdev1";
const MEMBER: &str = "aiscdev2";

struct Cluster {
    url: String,
    key: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/slurm-dev-cluster.sh")
}

/// The dev cluster, or `None` (with the reason printed) when it is not there.
fn cluster() -> Option<Cluster> {
    let url = std::env::var("AISC_SLURM_URL").unwrap_or_else(|_| "http://127.0.0.1:6820".into());
    let key = std::env::var("AISC_SLURM_JWT_KEY")
        .unwrap_or_else(|_| "/var/lib/aisc-slurm-dev/jwt.key".into());
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let up = std::net::TcpStream::connect(addr).is_ok()
        && Path::new(&key).exists()
        && Command::new("sacct").arg("--version").output().is_ok();
    if up {
        return Some(Cluster { url, key });
    }
    let msg = format!(
        "the Slurm engine tests need the dev Slurm cluster (slurmrestd at {url}, JWT key {key}): \
         start it as root with `scripts/slurm-dev-cluster.sh up`"
    );
    common::missing("slurm", &msg);
    None
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}", nanos % 1_000_000_000_000)
}

fn start(c: &Cluster, data: &Path) -> Server {
    Server::start(
        data,
        &[
            "--engine",
            "slurm",
            "--slurm-url",
            &c.url,
            "--slurm-jwt-key",
            &c.key,
            "--slurm-default-partition",
            "h100",
            "--slurm-sync-interval",
            "0",
            "--slurm-poll-ms",
            "200",
        ],
    )
}

/// A server on Slurm whose admin runs jobs as `aiscdev1`, with accounts synced.
fn ready(c: &Cluster, data: &Path, w: &Path) -> Server {
    let server = start(c, data);
    server.ok(w, &["user", "set-unix-name", "admin", USER]);
    server.ok(w, &["slurm", "sync"]);
    server
}

/// A working directory every test user may write to.
fn workdir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

/// Slurm's accounting for jobs named `name`: (job id, state, elapsed s, gres/gpu).
fn sacct(name: &str) -> Vec<(u32, String, u64, u64)> {
    let out = Command::new("sacct")
        .args(["-a", "-X", "-n", "-P", "-S", "now-2hours", "--name", name])
        .args(["-o", "JobID,State,ElapsedRaw,AllocTRES"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let gpus = tres(f.get(3)?, "gres/gpu").map_or(0, |g| g as u64);
            Some((
                f.first()?.parse().ok()?,
                f.get(1)?.split(' ').next()?.to_string(),
                f.get(2)?.parse().ok()?,
                gpus,
            ))
        })
        .collect()
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn slurm_id(job: &serde_json::Value) -> u32 {
    history(job)
        .iter()
        .find_map(|h| h.split("(Slurm job ").nth(1))
        .and_then(|s| s.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no Slurm job in {job:#}"))
}

#[test]
fn a_job_runs_on_slurm_as_its_user_and_is_charged_what_slurm_accounted() {
    let _turn = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let data = tempfile::tempdir().unwrap();
    let work = workdir();
    let w = work.path();
    let server = ready(&c, data.path(), w);
    let name = unique("run");
    let id = server.submit(
        w,
        &[
            "--name",
            &name,
            "--gpus",
            "2",
            "--cpus",
            "2",
            "--mem",
            "1G",
            "--time",
            "5m",
            "--",
            "sh",
            "-c",
            "echo user=$(id -un) gpus=$CUDA_VISIBLE_DEVICES aisc=$AISC_JOB_ID; sleep 2",
        ],
    );
    let job = server.wait_state(w, id, "completed");
    let h = history(&job).join("\n");
    assert!(
        h.contains(&format!(
            "handed to Slurm as user {USER}, account default, partition h100"
        )),
        "{h}"
    );
    let sid = slurm_id(&job);

    // Slurm ran it once, as the user, with two GPUs; its output is where aisc says.
    wait_until("sacct to list the job", 30, || !sacct(&name).is_empty());
    let acct = sacct(&name);
    assert_eq!(acct.len(), 1, "exactly one Slurm job: {acct:?}");
    let (acct_id, state, elapsed, gpus) = acct[0].clone();
    assert_eq!((acct_id, state.as_str(), gpus), (sid, "COMPLETED", 2));
    let out = std::fs::read_to_string(w.join(format!("aisc-{id}.out"))).unwrap();
    assert!(
        out.contains(&format!("user={USER} gpus=0,1 aisc={id}")),
        "{out}"
    );

    // The charge is Slurm's accounted elapsed time x GPUs, at the grant's price.
    assert_eq!(
        job["gpu_seconds"].as_f64(),
        Some((elapsed * 2) as f64),
        "{job:#}"
    );
    assert!(h.contains("usage from Slurm's accounting"), "{h}");
    let cents = |v: &serde_json::Value| -> f64 {
        let s = v
            .as_str()
            .unwrap()
            .trim_start_matches("HK$")
            .replace(',', "");
        s.parse::<f64>().unwrap() * 100.0
    };
    let charged = cents(&job["charge"]);
    // The exact cost is price per GPU-hour x GPU-seconds / 3,600; the first job
    // on a grant is charged the whole cents its total crosses (billing::carry):
    // the exact cost rounded down.
    let exact = cents(&job["price_per_gpu_hour"]) * (elapsed * 2) as f64 / 3_600.0;
    assert_eq!(
        charged,
        (exact + 1e-9).floor(),
        "charged {charged} cents for an exact cost of {exact}"
    );

    // A user with no Unix name cannot submit to Slurm, and nothing is stored.
    server.ok(w, &["user", "set-unix-name", "admin", "--clear"]);
    let before = server.ok(w, &["jobs", "--json"]);
    let out = server.aisc(w, &["submit", "--", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("user") && err.contains("Unix user name"),
        "{err}"
    );
    assert_eq!(server.ok(w, &["jobs", "--json"]), before);
}

#[test]
fn a_scripts_arguments_per_task_gpus_and_dependencies_reach_slurm() {
    let _turn = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let data = tempfile::tempdir().unwrap();
    let work = workdir();
    let w = work.path();
    let server = ready(&c, data.path(), w);
    let name = unique("args");
    std::fs::write(
        w.join("job.sh"),
        "#!/bin/sh\n#SBATCH -N 1 -n 1 --gpus-per-task=1 --mem-per-gpu=256M -o args-%j.out\n\
         echo \"args=$1/$2/$# gpus=$SLURM_GPUS_ON_NODE\"\n",
    )
    .unwrap();
    let id = server.submit(w, &["--name", &name, "-t", "5m", "job.sh", "a b", "--c"]);
    let after = format!("afterok:{id}");
    let next = server.submit(
        w,
        &["--name", &name, "-t", "5m", "-d", &after, "--", "true"],
    );
    let job = server.wait_state(w, id, "completed");
    let then = server.wait_state(w, next, "completed");
    // --signal goes to Slurm, which signals the job's step before the limit:
    // the step saves its work and ends on its own. B: is refused, saying why.
    std::fs::write(
        w.join("save.sh"),
        "#!/bin/sh\nsrun sh -c 'trap \"echo saved > saved-$SLURM_JOB_ID; exit 0\" USR1; \
         i=0; while [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done'\n",
    )
    .unwrap();
    let out = server.aisc(w, &["submit", "--signal=B:USR1@50", "save.sh"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("slurmrestd (Slurm 22.05) refuses B:"), "{err}");
    let saver = server.submit(
        w,
        &["--name", &name, "-t", "1", "--signal=USR1@50", "save.sh"],
    );
    let saved = server.wait_state(w, saver, "completed");
    let slurm = slurm_id(&saved);
    assert_eq!(
        std::fs::read_to_string(w.join(format!("saved-{slurm}"))).unwrap_or_default(),
        "saved\n",
        "{saved:#}"
    );
    assert!(
        then["started_at"].as_str() >= job["ended_at"].as_str() && job["ended_at"].is_string(),
        "afterok: it started once the first had ended: {then:#}"
    );
    assert_eq!(
        (job["gpus"].as_u64(), job["mem_mb"].as_u64()),
        (Some(1), Some(256))
    );
    let out = std::fs::read_to_string(w.join(format!("args-{id}.out"))).unwrap_or_default();
    assert_eq!(out, "args=a b/--c/2 gpus=1\n", "{job:#}");
}

#[test]
fn an_arrays_tasks_run_on_slurm_as_jobs_of_their_own_within_the_throttle() {
    let _turn = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let data = tempfile::tempdir().unwrap();
    let work = workdir();
    let w = work.path();
    let server = ready(&c, data.path(), w);
    let name = unique("array");
    std::fs::write(
        w.join("sweep.sh"),
        "#!/bin/sh\n#SBATCH --array=0-2%2 -o arr-%A_%a.out\n\
         echo \"task=$SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID count=$SLURM_ARRAY_TASK_COUNT\"\n",
    )
    .unwrap();
    let id = server.submit(w, &["--name", &name, "-t", "5m", "sweep.sh"]);
    let after = server.submit(
        w,
        &[
            "--name",
            &name,
            "-t",
            "5m",
            "-d",
            &format!("afterok:{id}"),
            "--",
            "true",
        ],
    );
    let mut slurm_ids = std::collections::BTreeSet::new();
    for t in 0..3 {
        let job = server.wait_state(w, format!("{id}_{t}"), "completed");
        slurm_ids.insert(slurm_id(&job));
        let out = std::fs::read_to_string(w.join(format!("arr-{id}_{t}.out"))).unwrap_or_default();
        assert_eq!(out, format!("task={t} of {id} count=3\n"), "{job:#}");
    }
    assert_eq!(slurm_ids.len(), 3, "each task is a Slurm job of its own");
    server.wait_state(w, after, "completed");
    wait_until("Slurm to account the tasks", 60, || sacct(&name).len() >= 4);
}

#[test]
fn a_two_node_job_runs_a_task_on_each_node_with_the_rendezvous_variables() {
    let _turn = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let data = tempfile::tempdir().unwrap();
    let work = workdir();
    let w = work.path();
    let server = ready(&c, data.path(), w);
    let name = unique("nodes");
    std::fs::write(
        w.join("train.sh"),
        "#!/bin/sh\n#SBATCH -N 2 --ntasks-per-node=1 --gpus-per-node=1 -c 1 --mem=256M -o mn-%j.out\n\
         echo \"master=$MASTER_ADDR port=$MASTER_PORT world=$WORLD_SIZE\"\n\
         srun sh -c 'echo \"task=$SLURM_PROCID local=$SLURM_LOCALID nodes=$SLURM_NNODES ntasks=$SLURM_NTASKS node=$SLURMD_NODENAME gpus=$CUDA_VISIBLE_DEVICES\"' | sort\n",
    )
    .unwrap();
    let id = server.submit(w, &["--name", &name, "-t", "5m", "train.sh"]);
    let job = server.wait_state(w, id, "completed");
    assert_eq!(
        (job["gpus"].as_u64(), job["mem_mb"].as_u64()),
        (Some(2), Some(512)),
        "{job:#}"
    );
    let out = std::fs::read_to_string(w.join(format!("mn-{id}.out"))).unwrap_or_default();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let field = |line: &str, key: &str| {
        line.split(' ')
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .unwrap_or_default()
            .to_string()
    };
    let (head, tasks) = (lines[0], &lines[1..]);
    assert_eq!(field(head, "world"), "2", "{out}");
    let port: u16 = field(head, "port").parse().expect("a port");
    assert!((15_000..35_000).contains(&port), "{out}");
    for (rank, line) in tasks.iter().enumerate() {
        assert_eq!(field(line, "task"), rank.to_string(), "{out}");
        assert_eq!(field(line, "local"), "0", "{out}");
        assert_eq!(field(line, "nodes"), "2", "{out}");
        assert_eq!(field(line, "ntasks"), "2", "{out}");
        assert!(
            !field(line, "gpus").is_empty(),
            "each task sees its GPU: {out}"
        );
    }
    let nodes: std::collections::BTreeSet<String> =
        tasks.iter().map(|l| field(l, "node")).collect();
    assert_eq!(nodes.len(), 2, "one task on each node: {out}");
    assert_eq!(field(head, "master"), field(tasks[0], "node"), "{out}");
    wait_until("Slurm to account the job", 60, || {
        sacct(&name).first().is_some_and(|j| j.3 == 2)
    });
}

#[test]
fn a_requeued_exclusive_job_runs_again_on_slurm_with_its_id() {
    let _turn = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let data = tempfile::tempdir().unwrap();
    let work = workdir();
    let w = work.path();
    let server = ready(&c, data.path(), w);
    let name = unique("requeue");
    let id = server.submit(
        w,
        &[
            "--name",
            &name,
            "--exclusive",
            "--time",
            "10m",
            "-o",
            "rq-%j.out",
            "--",
            "sh",
            "-c",
            "echo run ${SLURM_RESTART_COUNT:-0} gpus $CUDA_VISIBLE_DEVICES; sleep 300",
        ],
    );
    let job = server.wait_state(w, id, "running");
    // A whole node: its 8 GPUs, and Slurm told that no other job shares it.
    assert_eq!(job["gpus"], 8, "{job:#}");
    let first = slurm_id(&job);
    let shown = std::process::Command::new("scontrol")
        .args(["show", "job", &first.to_string()])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("OverSubscribe=NO"), "{shown}");
    server.ok(w, &["requeue", &id.to_string()]);
    wait_until("the job to run again", 90, || {
        let j = server.show(w, id);
        j["state"] == "running" && j["restarts"] == 1
    });
    let again = server.show(w, id);
    let latest = history(&again)
        .iter()
        .filter_map(|h| h.split("(Slurm job ").nth(1))
        .filter_map(|s| s.trim_end_matches(')').parse::<u32>().ok())
        .next_back();
    assert!(
        latest.is_some_and(|l| l != first),
        "a new Slurm job for the next run: {again:#}"
    );
    wait_until("the next run's output", 30, || {
        std::fs::read_to_string(w.join(format!("rq-{id}.out")))
            .is_ok_and(|o| o.contains("run 1 gpus"))
    });
    let out = std::fs::read_to_string(w.join(format!("rq-{id}.out"))).unwrap();
    assert!(
        out.starts_with("run 0 gpus"),
        "the first run's output is kept: {out}"
    );
    server.ok(w, &["cancel", &id.to_string()]);
    server.wait_state(w, id, "cancelled");
    wait_until("Slurm to account both runs", 60, || {
        let runs = sacct(&name);
        runs.iter()
            .any(|(j, s, _, _)| *j == first && s == "CANCELLED")
            && runs.len() == 2
    });
}

#[test]
fn a_cancel_goes_to_slurm() {
    let _turn = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let data = tempfile::tempdir().unwrap();
    let work = workdir();
    let w = work.path();
    let server = ready(&c, data.path(), w);
    let name = unique("cancel");
    let id = server.submit(w, &["--name", &name, "--time", "10m", "--", "sleep", "300"]);
    let job = server.wait_state(w, id, "running");
    let sid = slurm_id(&job);
    server.ok(w, &["cancel", &id.to_string()]);
    let job = server.wait_state(w, id, "cancelled");
    assert!(
        job["reason"]
            .as_str()
            .unwrap()
            .starts_with("cancelled by admin"),
        "{job:#}"
    );
    wait_until("Slurm to account the cancel", 30, || {
        sacct(&name)
            .iter()
            .any(|(j, s, _, _)| *j == sid && s == "CANCELLED")
    });
}

#[test]
fn an_interactive_job_runs_in_slurm_and_reaches_its_user_through_the_relay() {
    let _turn = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let data = tempfile::tempdir().unwrap();
    let work = workdir();
    let w = work.path();
    let server = ready(&c, data.path(), w);
    // A command on a pseudo-terminal on a Slurm node, its output and status back here.
    let name = unique("pty");
    let out = server.aisc(
        w,
        &[
            "run",
            "--name",
            &name,
            "-G",
            "1",
            "--pty",
            "--",
            "sh",
            "-c",
            "echo tty=$(tty) user=$(id -un) gpus=$SLURM_GPUS_ON_NODE$CUDA_VISIBLE_DEVICES; exit 6",
        ],
    );
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("tty=/dev/pts/"), "{said}");
    assert!(said.contains(&format!("user={USER}")), "{said}");
    wait_until("Slurm to account it with its GPU", 30, || {
        sacct(&name).iter().any(|(_, _, _, g)| *g == 1)
    });
    // An allocation held in Slurm; a command run in it from outside.
    let alloc = ["alloc", "--time", "5m", "--", "sleep", "300"];
    let mut held = server.spawn_aisc(w, &alloc, &server.token());
    wait_until("the allocation to run", 60, || {
        server.aisc(w, &["show", "2"]).status.success() && server.show(w, 2)["state"] == "running"
    });
    let mut step = None;
    wait_until("a step to run in the allocation", 60, || {
        let out = server.aisc(
            w,
            &[
                "run",
                "--jobid",
                "2",
                "--",
                "sh",
                "-c",
                "echo in=$SLURM_JOB_ID",
            ],
        );
        let ok = out.status.success();
        step = Some(out);
        ok
    });
    let step = step.unwrap();
    let said = String::from_utf8_lossy(&step.stdout);
    let sid = slurm_id(&server.show(w, 2));
    assert_eq!(said.trim(), format!("in={sid}"), "{step:?}");
    server.ok(w, &["cancel", "2"]);
    server.wait_state(w, 2, "cancelled");
    let _ = held.kill();
    let _ = held.wait();
}

#[test]
fn an_output_file_slurm_cannot_open_is_the_jobs_reason_and_the_servers_files_are_refused() {
    let _turn = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let data = tempfile::tempdir().unwrap();
    let work = workdir();
    let w = work.path();
    let server = ready(&c, data.path(), w);
    // A directory the job's user cannot write to: Slurm cannot open the file there.
    std::fs::create_dir(w.join("closed")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(w.join("closed"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let id = server.submit(w, &["-o", "closed/out.log", "--", "echo", "x"]);
    let job = server.wait_state(w, id, "failed");
    assert!(
        job["reason"]
            .as_str()
            .unwrap()
            .contains("could not open its output or error file"),
        "{job:#}"
    );
    // The server's own files are refused before anything reaches Slurm.
    let secret = server.data_dir.join("admin-token").display().to_string();
    let out = server.aisc(w, &["submit", "-o", &secret, "--", "true"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("output: "),
        "{out:?}"
    );
}

/// Approves a grant of `hours` GPU-hours for a new project; returns the grant's id.
fn grant(server: &Server, w: &Path, project: &str, hours: &str) -> String {
    common::World::new(server, w)
        .class("h100", "H100", 8, 64, "500G")
        .nodes(4)
        .price("100")
        .project(project, "admin")
        .pool("100000")
        .hours(hours)
        .grant()
}

/// The account's GrpTRESMins on gres/gpu.
fn gpu_minutes(account: &str) -> Option<i64> {
    account_tres(account, "grptresmins")
}

/// The account's `field` (grptresmins, grptres) on gres/gpu.
fn account_tres(account: &str, field: &str) -> Option<i64> {
    let out = Command::new("sacctmgr")
        .args([
            "-n",
            "-P",
            "list",
            "assoc",
            &format!("account={account}"),
            &format!("format=user,{field}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let (user, tres_field) = l.split_once('|')?;
        if !user.is_empty() {
            return None;
        }
        tres(tres_field, "gres/gpu")
    })
}

#[test]
fn grants_become_slurm_limits_that_hold_jobs_and_follow_what_was_charged() {
    let _turn = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let data = tempfile::tempdir().unwrap();
    let work = workdir();
    let w = work.path();
    let server = ready(&c, data.path(), w);
    let project = unique("lim");
    let grant_id = grant(&server, w, &project, "1");
    server.ok(w, &["user", "create", "ann"]);
    server.ok(w, &["user", "set-unix-name", "ann", MEMBER]);
    server.ok(w, &["member", "add", &project, "ann"]);

    // The drift a sync would mend, then the sync, then nothing left to do.
    let plan = server.ok(w, &["slurm", "sync", "--dry-run"]);
    assert!(
        plan.contains(&format!("planned: add account {project} (parent local)")),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("planned: add user {MEMBER} to account {project}")),
        "{plan}"
    );
    assert!(plan.contains("GrpTRESMins gres/gpu to 60 "), "{plan}");
    assert_eq!(gpu_minutes(&project), None, "a dry run changes nothing");
    server.ok(w, &["slurm", "sync"]);
    assert_eq!(gpu_minutes(&project), Some(60));
    assert!(
        server
            .ok(w, &["slurm", "sync", "--dry-run"])
            .contains("nothing to change")
    );

    // A job submitted straight to Slurm under the project is held to the grant:
    // 1 GPU for 2 hours is more than the 60 GPU-minutes left.
    let sbatch = |limit: &str| -> u32 {
        let out = Command::new("su")
            .args(["-s", "/bin/sh", MEMBER, "-c"])
            .arg(format!(
                "cd /tmp && sbatch --parsable -A {project} -p h100 -G 1 -t {limit} --wrap 'sleep 1'"
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sbatch: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    let big = sbatch("120");
    wait_until("Slurm to hold the job over the grant", 30, || {
        let out = Command::new("squeue")
            .args(["-h", "-j", &big.to_string(), "-o", "%T %r"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "PENDING AssocGrpGRESMinutes"
    });
    let _ = Command::new("scancel").arg(big.to_string()).status();

    // Through aisc, a job within the grant runs; what it used comes off the limit at the next sync.
    let name = unique("within");
    let id = server.submit(
        w,
        &[
            "-A", &project, "--name", &name, "--gpus", "1", "--time", "30m", "--", "sleep", "1",
        ],
    );
    let job = server.wait_state(w, id, "completed");
    let used_ms = (job["gpu_seconds"].as_f64().unwrap() * 1000.0) as i64;
    assert!(used_ms >= 1000, "{job:#}");
    let left = (3_600_000 - used_ms) / 60_000;
    let done = server.ok(w, &["slurm", "sync"]);
    assert!(done.contains(&format!("from 60 to {left}")), "{done}");
    assert_eq!(gpu_minutes(&project), Some(left));

    // A cap on GPUs held at once becomes GrpTRES, so jobs waiting in Slurm's queue keep to it too.
    server.ok(w, &["grants", "set", &grant_id, "--max-gpus", "2"]);
    let done = server.ok(w, &["slurm", "sync"]);
    assert!(done.contains("GrpTRES gres/gpu from none to 2"), "{done}");
    assert_eq!(account_tres(&project, "grptres"), Some(2));
    server.ok(w, &["grants", "set", &grant_id, "--max-gpus", "none"]);
    server.ok(w, &["slurm", "sync"]);
    assert_eq!(account_tres(&project, "grptres"), None);
}

fn stop_slurmctld() {
    let pid = std::fs::read_to_string("/run/slurm/slurmctld.pid").unwrap();
    let pid = pid.trim();
    let _ = Command::new("kill").arg(pid).status();
    wait_until("slurmctld to stop", 30, || {
        let out = Command::new("scontrol").arg("ping").output().unwrap();
        !String::from_utf8_lossy(&out.stdout).contains("is UP")
    });
}

fn cluster_up() {
    let out = Command::new("bash")
        .arg(script())
        .arg("up")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cluster up: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_slurmctld_outage_in_the_middle_of_a_batch_loses_nothing() {
    let _turn = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let data = tempfile::tempdir().unwrap();
    let work = workdir();
    let w = work.path();
    let server = ready(&c, data.path(), w);
    let batch = unique("outage");
    let submit = |i: usize| {
        server.submit(
            w,
            &[
                "--name",
                &format!("{batch}-{i}"),
                "--time",
                "5m",
                "--",
                "sleep",
                "1",
            ],
        )
    };
    let mut ids: Vec<i64> = (0..4).map(submit).collect();
    stop_slurmctld();
    ids.extend((4..8).map(submit));
    // While slurmctld is down, jobs wait with the reason, and the server still answers.
    wait_until("a job to wait with EngineUnavailable", 60, || {
        ids.iter().any(|id| {
            server.show(w, *id)["reason"]
                .as_str()
                .unwrap_or("")
                .starts_with("EngineUnavailable")
        })
    });
    cluster_up();
    for id in &ids {
        let job = server.wait_state(w, *id, "completed");
        assert!(
            history(&job).iter().any(|h| h.contains("Slurm job")),
            "{job:#}"
        );
    }
    // Every job ran exactly once on Slurm.
    for i in 0..8 {
        let name = format!("{batch}-{i}");
        // slurmdbd may list a job a moment after slurmctld reported its end.
        wait_until("sacct to list the job", 30, || !sacct(&name).is_empty());
        let acct = sacct(&name);
        assert_eq!(acct.len(), 1, "job {i} of the batch: {acct:?}");
    }
}

#[test]
fn a_restarted_server_adopts_its_slurm_jobs_instead_of_submitting_again() {
    let _turn = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let data = tempfile::tempdir().unwrap();
    let work = workdir();
    let w = work.path();
    let mut server = ready(&c, data.path(), w);
    let batch = unique("restart");
    let ids: Vec<i64> = (0..4)
        .map(|i| {
            server.submit(
                w,
                &[
                    "--name",
                    &format!("{batch}-{i}"),
                    "--time",
                    "5m",
                    "--",
                    "sleep",
                    "3",
                ],
            )
        })
        .collect();
    wait_until("every job to be handed to Slurm", 30, || {
        ids.iter()
            .all(|id| server.show(w, *id)["state"] != "pending")
    });
    server.kill9();
    let server = start(&c, data.path());
    for id in &ids {
        server.wait_state(w, *id, "completed");
    }
    for i in 0..4 {
        let name = format!("{batch}-{i}");
        // slurmdbd may list a job a moment after slurmctld reported its end.
        wait_until("sacct to list the job", 30, || !sacct(&name).is_empty());
        let acct = sacct(&name);
        assert_eq!(acct.len(), 1, "job {i}: {acct:?}");
    }
}
