//! The job lifecycle's decisions, without I/O: no clock (time is passed
//! in), no database, no engine, no async runtime. The control loop in
//! `aisc-server` holds the state and does the I/O; it asks this crate what
//! to do:
//!
//! - [`stops`]: when a job's time limit is reached and when its grace
//!   period has run out (where aisc enforces limits);
//! - [`ending`]: in which state and with what reason a job ended, what it
//!   used, and whether it ran at all;
//! - [`handover`]: which planned and waiting jobs go to an engine that keeps
//!   a queue of its own;
//! - [`running::Running`]: the admitted jobs, what each holds and until when;
//! - [`queue::Queue`]: the jobs that wait, held ones apart, with their reasons;
//! - [`Queued`]: a pending job as the loop holds it.
//!
//! Not yet here: the loop's state itself and its effects (admission, liens,
//! transitions) as a reactor; see `ARCHITECTURE.md`.

pub mod ending;
pub mod handover;
pub mod queue;
pub mod running;
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
}
