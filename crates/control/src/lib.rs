//! The job lifecycle's core, without I/O: no clock (time is passed in), no
//! database, no engine, no async runtime. [`core::Core`] holds the waiting
//! and admitted jobs and decides about them: what a cancel comes to, what
//! falls due (time limits, kill grace), which planned jobs go to the engine,
//! what a job the engine could not start becomes, how a job ended and what it
//! used. The control loop in `aisc-server` is its driver: it does what the
//! core decided (the store first, then the engine) and tells it what its I/O
//! found (a lien its grant could not cover).
//!
//! - [`core`]: the state and its decisions;
//! - [`running::Running`]: the admitted jobs, what each holds and until when;
//! - [`queue::Queue`]: the jobs that wait, held ones apart, with their reasons;
//! - [`arrays`]: a waiting array as one job, its tasks taken off it as they start;
//! - [`steps`]: the steps ([`effect::Effect`]) each decision comes to, in
//!   their order: an admission (lien, `admitted`, the engine's start), an
//!   end (settlement, fair-share usage, requeue, state, release), a stop
//!   (its reason, then the signal);
//! - [`stops`], [`ending`], [`handover`]: the rules the core applies;
//! - [`Queued`]: a pending job as the loop holds it.

pub mod arrays;
pub mod core;
pub mod depend;
pub mod effect;
pub mod ending;
pub mod handover;
pub mod queue;
pub mod running;
pub mod steps;
pub mod stops;

use aisc_model::job::Charging;
use aisc_model::{JobId, JobSpec, OrgId, ProjectId, UserId};

/// A pending job as the control loop holds it.
#[derive(Debug, Clone)]
pub struct Queued {
    /// The job.
    pub id: JobId,
    /// Its submitter's name (for `%u` in output paths).
    pub user: String,
    /// Its submitter.
    pub owner: UserId,
    /// The organisation of the project it is charged to (who may see it).
    pub org: Option<OrgId>,
    /// What it runs and asks for.
    pub spec: JobSpec,
    /// Held until released.
    pub held: bool,
    /// The project it is charged to.
    pub project: Option<ProjectId>,
    /// The grant, price and lien it is charged with.
    pub charging: Option<Charging>,
    /// When it was submitted, epoch ms.
    pub submit_ms: i64,
    /// How many times it was requeued (`SLURM_RESTART_COUNT` of its next run).
    pub restarts: u32,
}

/// A pending job for tests: `gpus` GPUs, one CPU, 64 MiB, `limit_s` seconds of `true`.
#[cfg(test)]
pub(crate) fn test_job(id: i64, gpus: u32, limit_s: u64) -> Queued {
    use aisc_model::{JobCommand, Resources};
    let resources = Resources {
        gpus,
        cpus: 1,
        mem_mb: 64,
    };
    let command = JobCommand::Argv(vec!["true".into()]);
    Queued {
        id: JobId(id),
        user: "ann".into(),
        owner: UserId(1),
        org: None,
        spec: JobSpec {
            requeue: false,
            ..JobSpec::new("train", command, "/tmp", resources, limit_s)
        },
        held: false,
        project: None,
        charging: None,
        submit_ms: 0,
        restarts: 0,
    }
}
