//! The local engine running real processes.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use aisc_engine::{EngineEvent, LaunchSpec, LocalEngine, Outcome, Recovery};
use aisc_model::{JobCommand, JobId};
use nix::sys::signal::Signal;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

fn spec(dir: &Path, id: i64, command: JobCommand) -> LaunchSpec {
    LaunchSpec {
        job: JobId(id),
        name: format!("t{id}"),
        command,
        workdir: dir.to_path_buf(),
        env: [("GREETING".to_string(), "hello".to_string())].into(),
        gpu_ids: vec![0, 2],
        fake_gpus: true,
        cpus: 2,
        job_dir: dir.join(format!("jobs/{id}")),
        stdout: dir.join(format!("out-{id}.log")),
        stderr: None,
    }
}

fn sh(script: &str) -> JobCommand {
    JobCommand::Argv(vec!["/bin/sh".into(), "-c".into(), script.into()])
}

async fn next_end(rx: &mut mpsc::UnboundedReceiver<EngineEvent>) -> (JobId, Outcome) {
    let ev = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("job ended in time");
    let Some(EngineEvent::Ended { job, outcome }) = ev else {
        panic!("channel closed")
    };
    (job, outcome)
}

#[tokio::test]
async fn a_job_runs_with_its_environment_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let engine = LocalEngine::new(tx);
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
    let engine = LocalEngine::new(tx);
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
    let engine = LocalEngine::new(tx);
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
    let engine = LocalEngine::new(tx);
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
    let (tx, _rx) = mpsc::unbounded_channel();
    let engine = LocalEngine::new(tx);
    let mut s = spec(dir.path(), 4, sh("true"));
    s.workdir = dir.path().join("nope");
    let e = engine.launch(&s).unwrap_err();
    assert!(e.to_string().contains("working directory"), "{e}");
}

#[tokio::test]
async fn another_engine_can_adopt_a_running_job_and_see_it_end() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let first = LocalEngine::new(tx);
    let s = spec(dir.path(), 5, sh("sleep 0.6; exit 4"));
    let l = first.launch(&s).unwrap();
    for _ in 0..100 {
        if s.job_dir.join("pid").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let (tx2, mut rx2) = mpsc::unbounded_channel();
    let second = LocalEngine::new(tx2);
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
