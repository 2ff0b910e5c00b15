//! The control loop driven through the fake engine: what it decides, whatever
//! runs the jobs. A real store (SQLite in a temporary directory); no process.

use super::{CancelOutcome, Command, Controller, Queued};
use crate::clock::now_ms;
use aisc_engine::fake::{FakeEngine, FakeHandle};
use aisc_engine::{End, EngineEvent, How, Measured, Started};
use aisc_model::{JobCommand, JobId, JobSpec, JobState, Resources, UserId};
use aisc_sched::{Node, NodeState};
use aisc_store::{Durability, JobRow, NewAudit, NewJob, NewUser, Store};
use aisc_vault::{KeySource, MasterKeys};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

struct World {
    _dir: tempfile::TempDir,
    store: Store,
    owner: UserId,
    tx: mpsc::Sender<Command>,
    fake: FakeHandle,
}

fn audit(action: &str) -> NewAudit {
    NewAudit {
        at_ms: now_ms(),
        actor: "ann".into(),
        action: action.into(),
        target: String::new(),
        summary: action.into(),
        source: "test".into(),
    }
}

fn spec(gpus: u32, time_limit_s: u64, hold: bool) -> JobSpec {
    let resources = Resources {
        gpus,
        cpus: 1,
        mem_mb: 64,
    };
    let command = JobCommand::Argv(vec!["true".into()]);
    JobSpec {
        hold,
        requeue: false,
        ..JobSpec::new("train", command, "/tmp", resources, time_limit_s)
    }
}

async fn open(dir: &tempfile::TempDir) -> Store {
    let masters =
        MasterKeys::load(KeySource::File(dir.path().join("master.key")), true).expect("master key");
    Store::open(&dir.path().join("aisc.db"), Durability::Normal, masters)
        .await
        .expect("store")
}

/// A loop over one 2-GPU node, run on `engine`, with a 300 ms kill grace.
async fn run(store: &Store, engine: FakeEngine) -> mpsc::Sender<Command> {
    let node = Node {
        name: "n1".into(),
        capacity: Resources {
            gpus: 2,
            cpus: 8,
            mem_mb: 16384,
        },
        gpu_type: None,
        class: None,
        group: 0,
        state: NodeState::Up,
    };
    let dir = std::env::temp_dir();
    let mut c = Controller::new(
        store.clone(),
        Box::new(engine),
        vec![node],
        dir,
        Duration::from_millis(300),
        aisc_sched::Policy::default(),
    );
    c.recover().await.expect("recover");
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(c.run(rx));
    tx
}

async fn world(engine: (FakeEngine, FakeHandle)) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let user = NewUser {
        name: "ann".into(),
        role: "user".into(),
        password_hash: None,
        created_ms: now_ms(),
    };
    let owner = store.create_user(user, None).await.expect("user");
    let tx = run(&store, engine.0).await;
    World {
        _dir: dir,
        store,
        owner,
        tx,
        fake: engine.1,
    }
}

impl World {
    async fn submit(&self, spec: JobSpec) -> JobId {
        let now = now_ms();
        let new = NewJob {
            owner: self.owner,
            spec: spec.clone(),
            reason: "Priority".into(),
            submit_ms: now,
            project: None,
            charging: None,
            array_waiting: None,
        };
        let id = self
            .store
            .submit(new, audit("job.submit"))
            .await
            .expect("submit");
        let q = Queued {
            id,
            user: "ann".into(),
            owner: self.owner,
            org: None,
            held: spec.hold,
            spec,
            project: None,
            charging: None,
            submit_ms: now,
            restarts: 0,
        };
        self.tx
            .send(Command::Submitted(Box::new(q)))
            .await
            .expect("loop");
        id
    }

    async fn cancel(&self, id: JobId) -> CancelOutcome {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Cancel {
            id,
            task: None,
            by: "ann".into(),
            audit: audit("job.cancel"),
            reply,
        };
        self.tx.send(cmd).await.expect("loop");
        rx.await.expect("answer").expect("cancel")
    }

    /// The job once it is in `state` (fails after 10 s).
    async fn when(&self, id: JobId, state: JobState) -> JobRow {
        for _ in 0..1000 {
            let row = self.store.job(id).await.expect("job");
            if row.state == state {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let row = self.store.job(id).await.expect("job");
        panic!(
            "job {id} is {:?} ({}), not {state:?}",
            row.state, row.reason
        );
    }

    /// The engine's signals once there are `n` (fails after 10 s).
    async fn signals(&self, n: usize) -> Vec<(JobId, How)> {
        for _ in 0..1000 {
            let s = self.fake.signals();
            if s.len() >= n {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{n} signals expected, got {:?}", self.fake.signals());
    }
}

#[tokio::test]
async fn a_job_starts_on_the_engine_and_its_exit_status_decides_its_end() {
    let w = world(FakeEngine::new()).await;
    let ok = w.submit(spec(1, 60, false)).await;
    let bad = w.submit(spec(1, 60, false)).await;
    let row = w.when(ok, JobState::Running).await;
    assert_eq!(row.node.as_deref(), Some("n1"));
    w.when(bad, JobState::Running).await;
    assert_eq!(w.fake.started(), vec![ok, bad]);
    w.fake.exit(ok, 0);
    w.fake.exit(bad, 3);
    let row = w.when(ok, JobState::Completed).await;
    assert_eq!(row.reason, "exited with status 0");
    let row = w.when(bad, JobState::Failed).await;
    assert_eq!(row.reason, "exited with status 3");
}

#[tokio::test]
async fn a_job_past_its_limit_is_stopped_then_killed_after_the_grace() {
    let w = world(FakeEngine::new()).await;
    let id = w.submit(spec(0, 1, false)).await;
    w.when(id, JobState::Running).await;
    assert_eq!(w.signals(1).await, vec![(id, How::Term)]);
    // The job ignores SIGTERM: the grace runs out.
    assert_eq!(w.signals(2).await, vec![(id, How::Term), (id, How::Kill)]);
    w.fake.send(EngineEvent::Ended {
        job: id,
        end: End {
            signal: Some(9),
            ..End::default()
        },
    });
    let row = w.when(id, JobState::TimedOut).await;
    assert!(
        row.reason.starts_with("time limit of 00:00:01 reached"),
        "{}",
        row.reason
    );
}

#[tokio::test]
async fn cancel_ends_a_pending_job_and_stops_a_running_one() {
    let w = world(FakeEngine::new()).await;
    let held = w.submit(spec(0, 60, true)).await;
    let running = w.submit(spec(0, 60, false)).await;
    w.when(running, JobState::Running).await;
    assert_eq!(w.cancel(held).await, CancelOutcome::Cancelled);
    assert_eq!(
        w.when(held, JobState::Cancelled).await.reason,
        "cancelled by ann"
    );
    assert_eq!(w.cancel(running).await, CancelOutcome::Signalled);
    assert_eq!(w.cancel(running).await, CancelOutcome::AlreadyStopping);
    assert_eq!(w.signals(1).await, vec![(running, How::Term)]);
    w.fake.send(EngineEvent::Ended {
        job: running,
        end: End {
            signal: Some(15),
            ..End::default()
        },
    });
    let row = w.when(running, JobState::Cancelled).await;
    assert_eq!(row.reason, "cancelled by ann");
    assert_eq!(
        w.fake.started(),
        vec![running],
        "the held job never started"
    );
}

#[tokio::test]
async fn a_job_the_engine_refuses_fails_and_one_it_cannot_take_yet_waits() {
    let (engine, fake) = FakeEngine::new();
    let w = world((engine.with_queue(8), fake)).await;
    let id = w.submit(spec(1, 60, false)).await;
    w.when(id, JobState::Admitted).await;
    // Unavailable: back to the queue, and tried again.
    w.fake.send(EngineEvent::NotStarted {
        job: id,
        reason: "EngineUnavailable: no answer".into(),
        retry: true,
    });
    for _ in 0..1000 {
        if w.fake.started().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(w.fake.started(), vec![id, id], "handed over again");
    // This time it is taken, runs, and ends with what the engine measured.
    w.fake.send(EngineEvent::Accepted {
        job: id,
        engine_id: 77,
    });
    let at_ms = now_ms();
    w.fake.send(EngineEvent::Started(Started {
        job: id,
        at_ms,
        node: Some("n1".into()),
        gpu_ids: Some(vec![1]),
        pid: None,
        engine_id: Some(77),
        logs: None,
        reason: "started on n1 (fake job 77)".into(),
    }));
    let row = w.when(id, JobState::Running).await;
    assert_eq!(row.engine_job_id, Some(77));
    assert_eq!(row.gpu_ids, vec![1]);
    w.fake.send(EngineEvent::Ended {
        job: id,
        end: End {
            at_ms: Some(at_ms + 90_000),
            exit_code: Some(0),
            measured: Some(Measured {
                elapsed_ms: 90_000,
                gpus: 1,
                cpus: 1,
            }),
            note: Some("usage from the fake engine".into()),
            ..End::default()
        },
    });
    let row = w.when(id, JobState::Completed).await;
    assert_eq!(
        row.gpu_ms,
        Some(90_000),
        "metered from what the engine measured"
    );
    assert_eq!(
        row.reason,
        "exited with status 0; usage from the fake engine"
    );
    // Refused outright: failed with the engine's reason, never running.
    let refused = w.submit(spec(0, 60, false)).await;
    w.when(refused, JobState::Admitted).await;
    w.fake.send(EngineEvent::NotStarted {
        job: refused,
        reason: "Slurm refused: invalid account".into(),
        retry: false,
    });
    let row = w.when(refused, JobState::Failed).await;
    assert_eq!(row.reason, "Slurm refused: invalid account");
    assert_eq!(row.start_ms, None);
}

#[tokio::test]
async fn a_restarted_loop_follows_the_jobs_the_last_one_left() {
    let w = world(FakeEngine::new()).await;
    let store = w.store.clone();
    let id = w.submit(spec(0, 60, false)).await;
    w.when(id, JobState::Running).await;
    let pending = w.submit(spec(0, 60, true)).await;
    // The loop goes (its channel closes); a new one takes over on the same store.
    drop(w.tx);
    let (engine, fake) = FakeEngine::new();
    let w = World {
        tx: run(&store, engine).await,
        fake,
        ..w
    };
    assert!(w.fake.started().is_empty(), "nothing is started twice");
    w.fake.exit(id, 0);
    w.when(id, JobState::Completed).await;
    assert_eq!(w.cancel(pending).await, CancelOutcome::Cancelled);
}

#[tokio::test]
async fn guaranteed_work_preempts_a_scavenger_job_which_is_requeued() {
    let w = world(FakeEngine::new()).await;
    let mut scavenger = spec(2, 60, false);
    scavenger.qos = aisc_model::Qos::Scavenger;
    scavenger.requeue = true;
    let s = w.submit(scavenger).await;
    w.when(s, JobState::Running).await;
    let g = w.submit(spec(2, 60, false)).await;
    // It needs the scavenger job's GPUs: that job is stopped, not the other way round.
    assert_eq!(w.signals(1).await, vec![(s, How::Term)]);
    assert_eq!(w.store.job(g).await.expect("job").state, JobState::Pending);
    w.fake.send(EngineEvent::Ended {
        job: s,
        end: End {
            signal: Some(15),
            ..End::default()
        },
    });
    // It waits again with its id (as Slurm's requeue), its run settled on its own.
    let row = w.when(s, JobState::Pending).await;
    assert_eq!(row.restarts, 1);
    let runs = w.store.job_runs(s).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert!(
        runs[0]
            .reason
            .starts_with(&format!("preempted for job {g}"))
            && runs[0].reason.ends_with("; requeued"),
        "{}",
        runs[0].reason
    );
    w.when(g, JobState::Running).await;
    // It waits for GPUs again, as scavenger work.
    let row = w.store.job(s).await.expect("job");
    assert_eq!(row.state, JobState::Pending);
    assert_eq!(row.spec.map(|s| s.qos), Some(aisc_model::Qos::Scavenger));
}

#[tokio::test]
async fn while_the_engine_is_unreachable_jobs_wait_and_start_when_it_is_back() {
    let w = world(FakeEngine::new()).await;
    w.fake.down();
    let id = w.submit(spec(1, 60, false)).await;
    for _ in 0..1000 {
        if w.store.job(id).await.expect("job").reason == "EngineUnavailable" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let row = w.store.job(id).await.expect("job");
    assert_eq!(
        (row.state, row.reason.as_str()),
        (JobState::Pending, "EngineUnavailable")
    );
    assert!(
        w.fake.started().is_empty(),
        "nothing is handed to an unreachable engine"
    );
    w.fake.up();
    w.when(id, JobState::Running).await;
    assert_eq!(w.fake.started(), vec![id]);
}
