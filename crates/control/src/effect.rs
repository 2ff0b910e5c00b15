//! What the core asks its driver to do: store a change, post to the ledger,
//! tell the engine. The core decides the steps and their order; the driver
//! does them one after another and stops at the first that fails, so a later
//! step (a signal, a start) never runs without the earlier (its record, its
//! lien). A step that answers something (a lien held or not) is reported
//! back to the core, which answers with the next steps.

use aisc_model::engine::{How, StartJob};
use aisc_model::job::{Charging, Fields};
use aisc_model::{JobId, JobState, ProjectId};

/// One step.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Store `from → to` with its reason and columns.
    Record {
        /// The job.
        job: JobId,
        /// The state it must be in.
        from: JobState,
        /// The state it goes to.
        to: JobState,
        /// Why.
        reason: String,
        /// When, epoch ms.
        at_ms: i64,
        /// The columns set with it.
        set: Box<Fields>,
    },
    /// Store why a running job is being stopped (before it is signalled).
    StopReason {
        /// The job.
        job: JobId,
        /// The state it will end in.
        state: JobState,
        /// Why.
        reason: String,
    },
    /// Store the reasons waiting jobs wait for.
    Reasons(Vec<(JobId, String)>),
    /// Store the engine's own id for a job.
    EngineJob {
        /// The job.
        job: JobId,
        /// The engine's id.
        engine_id: i64,
    },
    /// Hold the job's worst case against its grant, then report whether it
    /// was held ([`crate::core::Core::lien`]).
    HoldLien {
        /// The job.
        job: JobId,
        /// Its grant, price and lien.
        charging: Charging,
    },
    /// Release the job's lien and charge `gpu_ms` of GPU time (0: nothing).
    Settle {
        /// The job.
        job: JobId,
        /// Its grant, price and lien.
        charging: Charging,
        /// The project charged.
        project: Option<ProjectId>,
        /// GPU time to charge, ms.
        gpu_ms: u64,
    },
    /// Count GPU time towards a project's fair share.
    FairShare {
        /// The project.
        project: ProjectId,
        /// GPU time, ms.
        gpu_ms: u64,
        /// When it was used, epoch ms.
        at_ms: i64,
    },
    /// Store that the job's run ended (`set`: its end, exit status and
    /// usage) and that it waits again with its id, its next run numbered one
    /// more; then queue it again.
    Requeue {
        /// The job.
        job: JobId,
        /// Its state now (running, or admitted where it never ran).
        from: JobState,
        /// Why.
        reason: String,
        /// When, epoch ms.
        at_ms: i64,
        /// How its run ended.
        set: Box<Fields>,
    },
    /// Take `task` off the waiting array `array` as a job of its own (its
    /// record stored first, see [`crate::core::Core::split_task`]), to be
    /// decided on its own (`aftercorr`: its pair has ended).
    SplitTask {
        /// The array.
        array: JobId,
        /// The task.
        task: u32,
    },
    /// Hand the job to the engine (the driver starts them as one batch).
    Start(Box<StartJob>),
    /// Signal or stop the job in the engine.
    Signal {
        /// The job.
        job: JobId,
        /// How.
        how: How,
    },
    /// The engine may forget the job.
    Release {
        /// The job.
        job: JobId,
    },
    /// Seal the job's logs (they are on this host).
    SealLogs {
        /// The job.
        job: JobId,
    },
}

impl Effect {
    /// A plain record of `from → to`.
    pub fn record(
        job: JobId,
        (from, to): (JobState, JobState),
        reason: String,
        at_ms: i64,
        set: Fields,
    ) -> Effect {
        Effect::Record {
            job,
            from,
            to,
            reason,
            at_ms,
            set: Box::new(set),
        }
    }

    /// The record of a run's end at `at_ms`: `from → to`, or, where `to` is
    /// `pending`, a requeue (the run kept, the job queued again with its
    /// id, its next run numbered one more).
    pub fn end_of_run(
        job: JobId,
        (from, to): (JobState, JobState),
        reason: String,
        at_ms: i64,
        set: Fields,
    ) -> Effect {
        if to == JobState::Pending {
            Effect::Requeue {
                job,
                from,
                reason,
                at_ms,
                set: Box::new(set),
            }
        } else {
            Effect::record(job, (from, to), reason, at_ms, set)
        }
    }

    /// The ledger steps of a job's end: its lien released, `gpu_ms` charged.
    pub fn settle(
        job: JobId,
        charging: Option<Charging>,
        project: Option<ProjectId>,
        gpu_ms: u64,
    ) -> Option<Effect> {
        charging.map(|charging| Effect::Settle {
            job,
            charging,
            project,
            gpu_ms,
        })
    }
}
