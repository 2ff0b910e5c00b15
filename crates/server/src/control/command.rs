//! The control loop's messages: what the API asks of it, and a pending job as
//! it holds one.

use super::{NodeStatus, QueueView};
use aisc_model::{JobId, Resources};
use aisc_store::NewAudit;
use tokio::sync::oneshot;

pub use aisc_control::Queued;

/// Why the control loop refused or could not do what it was asked. The API
/// turns it into an answer; the loop knows nothing of HTTP.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The job is not in a state that allows it.
    #[error("{0}")]
    Conflict(String),
    /// No control loop answers here now (a standby whose leader did not answer).
    #[error("{0}")]
    Unavailable(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] aisc_store::StoreError),
}

/// What cancelling did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was pending and is now cancelled.
    Cancelled,
    /// It was running and has been sent SIGTERM.
    Signalled,
    /// It is already being stopped.
    AlreadyStopping,
    /// It is not pending or running (finished meanwhile, or unknown).
    NotActive,
}

/// Requests to the control loop.
#[derive(Debug)]
pub enum Command {
    /// A job was stored as pending.
    Submitted(Box<Queued>),
    /// Cancel a job.
    Cancel {
        /// The job, or the array.
        id: JobId,
        /// A task of the array `id` that waits with it (not yet a job of its own).
        task: Option<u32>,
        /// Who asked.
        by: String,
        /// The request's audit event, written with the change.
        audit: NewAudit,
        /// The answer.
        reply: oneshot::Sender<Result<CancelOutcome, ControlError>>,
    },
    /// Hold a waiting job until it is released (`held`), or release it.
    SetHeld {
        /// The job.
        id: JobId,
        /// Hold it (true) or release it (false).
        held: bool,
        /// The request's audit event, written with the change.
        audit: NewAudit,
        /// The answer.
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    /// End a running job's run and queue it again with its id (`aisc
    /// requeue`): its stop's reason stored with the audit event, then SIGTERM.
    Requeue {
        /// The job.
        id: JobId,
        /// Who asked.
        by: String,
        /// The request's audit event, written with the change.
        audit: NewAudit,
        /// The answer.
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    /// Change a waiting job (`aisc update`): stored with its audit event,
    /// then applied to the queue; a conflict if it no longer waits.
    Update {
        /// The change, as checked and priced.
        update: Box<aisc_store::JobUpdate>,
        /// The request's audit event, written with the change.
        audit: NewAudit,
        /// The answer.
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    /// Report free resources.
    Usage(oneshot::Sender<Resources>),
    /// The queue in priority order, with each job's factors and reason.
    Queue(oneshot::Sender<QueueView>),
    /// How many jobs wait, and how many of them are held (cheap: no queue is built).
    QueueLength(oneshot::Sender<(usize, usize)>),
    /// Grants were approved or their limits changed: read shares and caps again.
    GrantsChanged,
    /// The nodes, their states and what running jobs hold.
    Nodes(oneshot::Sender<Vec<NodeStatus>>),
    /// Drain (`true`) or resume a node; answers whether it exists.
    Drain {
        /// The node.
        name: String,
        /// Drain or resume.
        drained: bool,
        /// The answer.
        reply: oneshot::Sender<bool>,
    },
}
