//! A fake engine, for tests: it runs nothing. It starts every job at once
//! (or refuses those a test names), records the stops it is asked for, and
//! reports whatever the test sends through its [`FakeHandle`].

use crate::engine::{
    Accounts, Admission, End, Engine, EngineEvent, Events, How, RecoverJob, Recovered, StartJob,
    Started,
};
use aisc_model::JobId;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

#[derive(Debug, Default)]
struct Seen {
    started: Vec<JobId>,
    signals: Vec<(JobId, How)>,
    refuse: HashSet<JobId>,
    down: bool,
}

/// The fake engine.
#[derive(Debug)]
pub struct FakeEngine {
    events: mpsc::UnboundedReceiver<EngineEvent>,
    seen: Arc<Mutex<Seen>>,
    /// `None`: it starts jobs at once and aisc enforces their limits (as the
    /// local engine); `Some(depth)`: it keeps a queue of its own, reports
    /// nothing at once and enforces limits itself (as Slurm).
    queue: Option<usize>,
}

/// What a test holds of a [`FakeEngine`]: it reports through it and reads
/// what the engine was asked to do.
#[derive(Debug, Clone)]
pub struct FakeHandle {
    tx: mpsc::UnboundedSender<EngineEvent>,
    seen: Arc<Mutex<Seen>>,
}

impl FakeEngine {
    /// A fake engine (aisc enforces time limits, as on the local engine) and its handle.
    pub fn new() -> (Self, FakeHandle) {
        let (tx, events) = mpsc::unbounded_channel();
        let seen = Arc::new(Mutex::new(Seen::default()));
        (
            FakeEngine {
                events,
                seen: seen.clone(),
                queue: None,
            },
            FakeHandle { tx, seen },
        )
    }

    /// Makes it an engine with a queue of its own `depth` deep, which
    /// enforces limits itself and reports starts only when the test does.
    pub fn with_queue(mut self, depth: usize) -> Self {
        self.queue = Some(depth);
        self
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl FakeHandle {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reports an event as the engine.
    pub fn send(&self, ev: EngineEvent) {
        let _ = self.tx.send(ev);
    }

    /// Reports that `job` exited with `code`.
    pub fn exit(&self, job: JobId, code: i32) {
        self.send(EngineEvent::Ended {
            job,
            end: End {
                exit_code: Some(code),
                ..End::default()
            },
        });
    }

    /// The jobs started so far, in order.
    pub fn started(&self) -> Vec<JobId> {
        self.seen().started.clone()
    }

    /// The stops and signals asked for so far, in order.
    pub fn signals(&self) -> Vec<(JobId, How)> {
        self.seen().signals.clone()
    }

    /// Makes the engine unreachable: it takes no jobs until [`FakeHandle::up`].
    pub fn down(&self) {
        self.seen().down = true;
        self.send(EngineEvent::Reachable(false));
    }

    /// Makes the engine reachable again.
    pub fn up(&self) {
        self.seen().down = false;
        self.send(EngineEvent::Reachable(true));
    }

    /// Makes the engine refuse to start `job`.
    pub fn refuse(&self, job: JobId) {
        self.seen().refuse.insert(job);
    }
}

impl Engine for FakeEngine {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn accounts(&self) -> Accounts {
        Accounts::Unused
    }

    fn admission(&self, job: &StartJob) -> Admission {
        let node = job.allocs.first().map(|a| a.node.clone());
        Admission {
            reason: format!("placed on {} (fake engine)", node.as_deref().unwrap_or("?")),
            node,
            gpu_ids: job.allocs.first().map(|a| a.gpu_ids.clone()),
            handed_over: false,
        }
    }

    fn start(&mut self, jobs: Vec<StartJob>) -> Vec<EngineEvent> {
        let queued = self.queue.is_some();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        jobs.into_iter()
            .filter_map(|j| {
                if seen.refuse.contains(&j.job) {
                    return Some(EngineEvent::NotStarted {
                        job: j.job,
                        reason: "could not start: refused by the fake engine".into(),
                        retry: false,
                    });
                }
                seen.started.push(j.job);
                if queued {
                    return None;
                }
                Some(EngineEvent::Started(Started {
                    job: j.job,
                    at_ms: crate::engine::now_ms(),
                    node: None,
                    gpu_ids: None,
                    pid: None,
                    engine_id: None,
                    logs: None,
                    reason: "started".into(),
                }))
            })
            .collect()
    }

    fn signal(&mut self, job: JobId, how: How) {
        self.seen().signals.push((job, how));
    }

    fn next_events(&mut self) -> Events<'_> {
        Box::pin(async move {
            let mut out = Vec::new();
            (self.events.recv_many(&mut out, 4096).await > 0).then_some(out)
        })
    }

    fn queue_depth(&self) -> Option<usize> {
        self.queue
    }

    fn unavailable_until(&self) -> Option<tokio::time::Instant> {
        self.seen()
            .down
            .then(|| tokio::time::Instant::now() + std::time::Duration::from_millis(200))
    }

    fn limits_by_aisc(&self) -> bool {
        self.queue.is_none()
    }

    fn recover(&mut self, job: &RecoverJob) -> Recovered {
        match (job.running, self.queue) {
            (true, _) => Recovered::Running { pid: None },
            (false, Some(_)) => Recovered::Waiting,
            (false, None) => Recovered::NeverStarted,
        }
    }
}
