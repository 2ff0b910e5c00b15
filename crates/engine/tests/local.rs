//! The local engine running real processes.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use aisc_engine::confine::Confinement;
use aisc_engine::{LaunchSpec, LocalEngine, LocalEvent, Outcome, Recovery};
use aisc_model::{JobCommand, JobId};
use nix::sys::signal::Signal;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

/// As root, jobs run as a real unprivileged account: `aisc-test`, made once
/// on this machine if missing; the test's directory is opened up to it.
fn account(dir: &Path) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    static MADE: std::sync::Once = std::sync::Once::new();
    MADE.call_once(|| {
        if nix::unistd::User::from_name("aisc-test").unwrap().is_none() {
            let ok = std::process::Command::new("useradd")
                .args([
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "aisc-test",
                ])
                .status()
                .unwrap();
            assert!(ok.success() || nix::unistd::User::from_name("aisc-test").unwrap().is_some());
        }
    });
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    Some("aisc-test".into())
}

fn engine(tx: mpsc::UnboundedSender<LocalEvent>, hidden: Vec<std::path::PathBuf>) -> LocalEngine {
    let mut c = Confinement::new(
        vec![env!("CARGO_BIN_EXE_aisc-launch").into()],
        Confinement::mode_for_this_process(),
        hidden,
    );
    c.watchdog_margin_ms = 0;
    LocalEngine::new(tx, c)
}

fn spec(dir: &Path, id: i64, command: JobCommand) -> LaunchSpec {
    LaunchSpec {
        time_limit_ms: 0,
        grace_ms: 1000,
        mem_mb: 512,
        run_as: account(dir),
        job: JobId(id),
        name: format!("t{id}"),
        command,
        args: Vec::new(),
        workdir: dir.to_path_buf(),
        env: [("GREETING".to_string(), "hello".to_string())].into(),
        gpu_ids: vec![0, 2],
        fake_gpus: true,
        cpus: 2,
        node: "local".into(),
        tasks: 1,
        gpus_per_task: None,
        job_dir: dir.join(format!("jobs/{id}")),
        stdout: dir.join(format!("out-{id}.log")),
        stderr: None,
    }
}

fn sh(script: &str) -> JobCommand {
    JobCommand::Argv(vec!["/bin/sh".into(), "-c".into(), script.into()])
}

async fn next_end(rx: &mut mpsc::UnboundedReceiver<LocalEvent>) -> (JobId, Outcome) {
    let ev = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("job ended in time");
    let Some(LocalEvent::Ended { job, outcome }) = ev else {
        panic!("not an end: {ev:?}")
    };
    (job, outcome)
}

#[tokio::test]
async fn a_job_runs_with_its_environment_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = engine(tx, Vec::new());
    let s = spec(
        dir.path(),
        7,
        sh(
            "echo $GREETING job=$AISC_JOB_ID gpus=$CUDA_VISIBLE_DEVICES fake=$AISC_FAKE_GPUS; pwd; echo oops >&2",
        ),
    );
    let launched = engine.launch(&s).unwrap();
    assert!(launched.pid > 1);
    assert_eq!(next_end(&mut rx).await, (JobId(7), Outcome::Exited(0)));
    let out = std::fs::read_to_string(&s.stdout).unwrap();
    assert!(out.contains("hello job=7 gpus=0,2 fake=1"), "{out}");
    assert!(
        out.contains(&dir.path().display().to_string()),
        "runs in its working directory: {out}"
    );
    assert!(
        out.contains("oops"),
        "stderr merges into stdout by default: {out}"
    );
    assert_eq!(
        std::fs::read_to_string(s.job_dir.join("exit"))
            .unwrap()
            .trim(),
        "0"
    );
}

#[tokio::test]
async fn exit_status_and_separate_error_file() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = engine(tx, Vec::new());
    let mut s = spec(dir.path(), 1, sh("echo out; echo err >&2; exit 3"));
    s.stderr = Some(dir.path().join("err.log"));
    engine.launch(&s).unwrap();
    assert_eq!(next_end(&mut rx).await.1, Outcome::Exited(3));
    assert_eq!(std::fs::read_to_string(&s.stdout).unwrap(), "out\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("err.log")).unwrap(),
        "err\n"
    );
}

#[tokio::test]
async fn a_script_runs_through_its_interpreter() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = engine(tx, Vec::new());
    let s = spec(
        dir.path(),
        2,
        JobCommand::Script("#!/bin/sh\n#SBATCH -J x\necho from-script $SLURM_JOB_ID\n".into()),
    );
    engine.launch(&s).unwrap();
    assert_eq!(next_end(&mut rx).await.1, Outcome::Exited(0));
    assert_eq!(
        std::fs::read_to_string(&s.stdout).unwrap(),
        "from-script 2\n"
    );
}

#[tokio::test]
async fn signalling_the_group_kills_children_too() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = engine(tx, Vec::new());
    let s = spec(dir.path(), 3, sh("sleep 30 & echo $! > child.pid; wait"));
    let l = engine.launch(&s).unwrap();
    let child_pid_file = dir.path().join("child.pid");
    for _ in 0..100 {
        if child_pid_file.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let child: i32 = std::fs::read_to_string(&child_pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(engine.signal(l.pid, Signal::SIGTERM));
    assert_eq!(next_end(&mut rx).await.1, Outcome::Signaled(15));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "the grandchild died with the group: {stat}"
    );
}

#[tokio::test]
async fn a_missing_working_directory_is_an_error_not_a_start() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = engine(tx, Vec::new());
    let mut s = spec(dir.path(), 4, sh("true"));
    s.workdir = dir.path().join("nope");
    s.stdout = s.job_dir.join("output.log");
    engine.launch(&s).unwrap();
    let reason = not_started(&mut rx).await;
    assert!(reason.contains("working directory"), "{reason}");
}

async fn not_started(rx: &mut mpsc::UnboundedReceiver<LocalEvent>) -> String {
    let ev = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("answered in time");
    match ev {
        Some(LocalEvent::NotStarted { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn another_engine_can_adopt_a_running_job_and_see_it_end() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let first = engine(tx, Vec::new());
    let s = spec(dir.path(), 5, sh("sleep 1.5; exit 4"));
    let l = first.launch(&s).unwrap();
    for _ in 0..100 {
        if s.job_dir.join("pid").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let (tx2, mut rx2) = mpsc::unbounded_channel();
    let second = engine(tx2, Vec::new());
    // Without the recorded identity it trusts the pid file, checked against the environment.
    assert_eq!(
        second.recover(JobId(5), &s.job_dir, None),
        Recovery::Alive(l)
    );
    assert_eq!(
        second.recover(JobId(5), &s.job_dir, Some((l.pid, l.pid_start))),
        Recovery::Alive(l)
    );
    // A wrong start time means a different process: not alive, and no exit status yet.
    assert_eq!(
        second.recover(JobId(5), &s.job_dir, Some((l.pid, l.pid_start + 1))),
        Recovery::Ended(Outcome::Lost)
    );
    assert_eq!(next_end(&mut rx).await.1, Outcome::Exited(4));
    let (job, outcome) = next_end(&mut rx2).await;
    assert_eq!(
        (job, outcome),
        (JobId(5), Outcome::Exited(4)),
        "the exit file tells the adopter"
    );
    assert_eq!(
        second.recover(JobId(5), &s.job_dir, None),
        Recovery::Ended(Outcome::Exited(4))
    );
    assert_eq!(
        second.recover(JobId(6), &dir.path().join("jobs/6"), None),
        Recovery::NeverStarted
    );
}

#[tokio::test]
async fn an_output_path_that_is_a_fifo_or_a_symlink_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = engine(tx, Vec::new());
    let fifo = dir.path().join("f");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    let mut s = spec(dir.path(), 8, sh("echo x"));
    s.stdout = fifo;
    engine.launch(&s).unwrap();
    let reason = not_started(&mut rx).await;
    assert!(reason.contains("is a FIFO"), "{reason}");
    let secret = dir.path().join("jobs/secret");
    std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
    std::fs::write(&secret, "key").unwrap();
    let link = dir.path().join("link.log");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let mut s = spec(dir.path(), 9, sh("echo x"));
    s.stderr = Some(link);
    engine.launch(&s).unwrap();
    let reason = not_started(&mut rx).await;
    assert!(reason.contains("symbolic link"), "{reason}");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "key");
}

#[tokio::test]
async fn srun_runs_a_step_as_the_jobs_tasks_each_with_its_own_gpus() {
    let dir = tempfile::tempdir().unwrap();
    let srv = dir.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Its directory is hidden like the server's own: `srun` is still found there.
    let engine = engine(tx, vec![srv.clone()]);
    let mut s = spec(
        dir.path(),
        11,
        JobCommand::Script(
            "#!/bin/sh\n\
             echo batch $SLURM_PROCID of $SLURM_NTASKS on $SLURM_JOB_NODELIST world=$WORLD_SIZE master=$MASTER_ADDR:$MASTER_PORT\n\
             srun sh -c 'echo task $SLURM_PROCID/$SLURM_LOCALID of $SLURM_NTASKS gpus $CUDA_VISIBLE_DEVICES' | sort\n\
             srun sh -c 'exit $((SLURM_PROCID + 3))'; echo worst $?\n\
             srun -l -n 1 sh -c 'echo labelled; echo to-err >&2'\n\
             srun --exclusive true 2>/dev/null || echo refused $?\n\
             srun -n 3 true 2>/dev/null || echo too-many\n\
             srun --gpus-per-task=2 true 2>/dev/null || echo too-many-gpus\n"
                .into(),
        ),
    );
    s.job_dir = srv.join("jobs/11");
    s.tasks = 2;
    s.gpus_per_task = Some(1);
    engine.launch(&s).unwrap();
    assert_eq!(next_end(&mut rx).await.1, Outcome::Exited(0));
    let out = std::fs::read_to_string(&s.stdout).unwrap();
    assert!(
        out.contains("batch 0 of 2 on local world=2 master=127.0.0.1:15011\n"),
        "{out}"
    );
    assert!(
        out.contains("task 0/0 of 2 gpus 0\ntask 1/1 of 2 gpus 2\n"),
        "each task its own GPU: {out}"
    );
    assert!(out.contains("worst 4\n"), "the worst status: {out}");
    assert!(
        out.contains("0: labelled\n") && out.contains("0: to-err\n"),
        "{out}"
    );
    assert!(out.contains("refused 1\n"), "{out}");
    assert!(out.contains("too-many\ntoo-many-gpus\n"), "{out}");
}

#[test]
fn srun_outside_a_job_says_so() {
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", aisc_engine::SRUN, "srun", "true"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("srun: not inside a job"), "{err}");
}

#[tokio::test]
async fn a_job_cannot_see_the_hidden_directory_but_reads_its_own_script() {
    let dir = tempfile::tempdir().unwrap();
    let srv = dir.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    std::fs::write(srv.join("admin-token"), "top-secret").unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = engine(tx, vec![srv.clone()]);
    let mut s = spec(
        dir.path(),
        10,
        JobCommand::Script(format!(
            "#!/bin/sh\nid -u\ncat {srv}/admin-token || echo no-token\ntouch {srv}/planted || echo no-write\necho script-ran\n",
            srv = srv.display()
        )),
    );
    s.job_dir = srv.join("jobs/10");
    engine.launch(&s).unwrap();
    assert_eq!(next_end(&mut rx).await.1, Outcome::Exited(0));
    let out = std::fs::read_to_string(&s.stdout).unwrap();
    assert!(!out.contains("top-secret"), "{out}");
    assert!(
        out.contains("no-token") && out.contains("no-write") && out.contains("script-ran"),
        "{out}"
    );
    assert!(!srv.join("planted").exists());
    if nix::unistd::geteuid().is_root() {
        let uid = nix::unistd::User::from_name("aisc-test")
            .unwrap()
            .unwrap()
            .uid;
        assert!(
            out.starts_with(&format!("{uid}\n")),
            "runs as its account: {out}"
        );
    }
}

#[tokio::test]
async fn the_watchdog_stops_a_job_at_its_time_limit_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = engine(tx, Vec::new());
    let mut s = spec(dir.path(), 11, sh("trap '' TERM; sleep 30"));
    s.time_limit_ms = 300;
    s.grace_ms = 300;
    let started = std::time::Instant::now();
    engine.launch(&s).unwrap();
    let (_, outcome) = next_end(&mut rx).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(outcome, Outcome::Signaled(_) | Outcome::Exited(_)),
        "{outcome:?}"
    );
    assert!(LocalEngine::stopped_by_watchdog(&s.job_dir));
}

/// As root on a cgroup v1 host: the job is in a cgroup of its own with its
/// memory limit, and may open only its own GPUs' device files (here device
/// nodes with the NVIDIA major: an allowed one answers "no such device",
/// there being no driver; a denied one "operation not permitted").
#[tokio::test]
async fn as_root_a_job_gets_a_cgroup_with_its_limits_and_only_its_gpus_devices() {
    let cgroups = aisc_engine::confine::cgroup::Cgroups::detect();
    if !matches!(cgroups, aisc_engine::confine::cgroup::Cgroups::V1(_)) {
        eprintln!("skipped: needs root on a cgroup v1 host ({cgroups:?})");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, minor) in [("nv0", 0), ("nv1", 1)] {
        let node = dir.path().join(name);
        nix::sys::stat::mknod(
            &node,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(195, minor),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = engine(tx, Vec::new());
    let mut s = spec(
        dir.path(),
        12,
        sh(
            "m=$(grep :memory: /proc/self/cgroup | cut -d: -f3); echo $m; \
            cat /sys/fs/cgroup/memory$m/memory.limit_in_bytes; cat nv0; cat nv1; true",
        ),
    );
    s.fake_gpus = false;
    s.gpu_ids = vec![1];
    s.mem_mb = 256;
    engine.launch(&s).unwrap();
    assert_eq!(next_end(&mut rx).await.1, Outcome::Exited(0));
    let out = std::fs::read_to_string(&s.stdout).unwrap();
    assert!(out.contains("aisc/job-12-"), "in its own cgroup: {out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"268435456"), "256 MiB of memory: {out}");
    assert!(out.contains("nv0: Operation not permitted"), "{out}");
    assert!(out.contains("nv1: No such device or address"), "{out}");
    engine.release(JobId(12), &s.job_dir);
    let name = aisc_engine::confine::cgroup_name(12, &s.job_dir);
    assert!(
        !std::path::Path::new("/sys/fs/cgroup/memory/aisc")
            .join(name)
            .exists(),
        "the cgroup is removed"
    );
}
