//! The one seam between the control loop and whatever runs jobs.
//!
//! The control loop decides (admit, lien, start, stop, meter, settle); an
//! [`Engine`] carries out starts and stops and reports what happened as
//! [`EngineEvent`]s. The loop never asks which engine it holds: what differs
//! between engines (who enforces time limits, whether the engine keeps a
//! queue of its own, whether it needs the job's Unix account) is a question
//! the trait answers. Implementations: [`crate::Local`] (process groups on
//! this host), [`crate::slurm::Slurm`] (a Slurm cluster through slurmrestd)
//! and [`crate::fake::FakeEngine`] (for tests; runs nothing).

use aisc_model::JobId;
pub use aisc_model::engine::*;
use std::future::Future;
use std::pin::Pin;
use tokio::time::Instant;

/// What an engine reports next (cancel-safe): `None` once it can report nothing more.
pub type Events<'a> = Pin<Box<dyn Future<Output = Option<Vec<EngineEvent>>> + Send + 'a>>;

/// Runs jobs.
pub trait Engine: Send + Sync + std::fmt::Debug {
    /// Its name, for reasons and logs ("local", "Slurm").
    fn name(&self) -> &'static str;

    /// Whether it runs jobs as their users' Unix accounts.
    fn accounts(&self) -> Accounts;

    /// What a job's record says when it is admitted, before it is started.
    fn admission(&self, job: &StartJob) -> Admission;

    /// Starts a batch of admitted jobs. What is known at once (started, or
    /// refused) is returned; the rest comes from [`Engine::next_events`].
    fn start(&mut self, jobs: Vec<StartJob>) -> Vec<EngineEvent>;

    /// Stops or signals a job.
    fn signal(&mut self, job: JobId, how: How);

    /// Waits for what the engine reports next.
    fn next_events(&mut self) -> Events<'_>;

    /// Looks at its jobs now (between events); returns what it found.
    fn poll(&mut self, _now_ms: i64) -> Vec<EngineEvent> {
        Vec::new()
    }

    /// When [`Engine::poll`] wants to run next, epoch ms.
    fn poll_at(&self, _now_ms: i64) -> Option<i64> {
        None
    }

    /// Until when it cannot take jobs (it did not answer), if now.
    fn unavailable_until(&self) -> Option<Instant> {
        None
    }

    /// How many admitted jobs it may hold in a queue of its own, beyond what
    /// is free (`None`: it starts only what the scheduler placed).
    fn queue_depth(&self) -> Option<usize> {
        None
    }

    /// True when aisc signals a job at its time limit and kills it after the
    /// grace period; false when the engine enforces limits itself.
    fn limits_by_aisc(&self) -> bool;

    /// A pending job that may already be in the engine (it was handed over
    /// before a restart): look for it there before starting it again.
    fn may_hold(&mut self, _job: JobId) {}

    /// What became of a job the last server left admitted or running.
    fn recover(&mut self, job: &RecoverJob) -> Recovered;

    /// Removes what is left of an ended job.
    fn release(&mut self, _job: JobId) {}
}

/// Epoch milliseconds now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
