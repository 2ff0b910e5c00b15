//! The nouns every layer shares: ids, resource requests, the job state machine,
//! and the parsers for the formats users type (Slurm time limits, memory sizes,
//! `#SBATCH` directives), and the audit trail's hash chain. Pure: no I/O, no
//! clock, no randomness.

pub mod array;
pub mod audit;
pub mod begin;
pub mod calendar;
pub mod dependency;
pub mod engine;
pub mod files;
pub mod hostlist;
pub mod ids;
pub mod inventory;
pub mod job;
pub mod job_paths;
pub mod qos;
pub mod request;
pub mod resources;
pub mod review;
pub mod sbatch;
pub mod scheme;
pub mod signal;
pub mod tenancy;
pub mod units;

pub use ids::{GrantId, JobId, OrgId, ProjectId, SchemeId, UserId};
pub use job::{InvalidTransition, JobState, PendingReason};
pub use qos::Qos;
pub use request::{JobCommand, JobRequest, JobSpec, SpecError};
pub use resources::Resources;
