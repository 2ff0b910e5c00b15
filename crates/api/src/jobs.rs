//! Jobs: submission, listings, details, the caller and the nodes.

use aisc_model::JobState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Filters for listing jobs.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only jobs in this state.
    #[param(schema_with = job_state_schema)]
    pub state: Option<String>,
    /// Only the caller's own jobs.
    #[serde(default)]
    pub mine: bool,
    /// Only jobs charged to this project (among those the caller may see).
    pub project: Option<String>,
    /// Page size (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// Only jobs with a smaller id (the previous page's `next_before`).
    pub before: Option<i64>,
}

/// Which log and from where.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogParams {
    /// `output` (default) or `error`.
    pub stream: Option<String>,
    /// Byte offset to read from (default 0).
    pub offset: Option<u64>,
    /// Most bytes to return (default and maximum 4 MiB).
    pub limit: Option<u64>,
}

/// A job in a listing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Submitter.
    pub user: String,
    /// Project charged.
    pub account: Option<String>,
    /// `pending`, `admitted`, `running`, `completed`, `failed`, `cancelled`, `timed_out` or `preempted`.
    pub state: String,
    /// Why it is in this state; for a pending job, why it waits (`Priority`, `Resources`, `Held`, ...).
    pub reason: String,
    /// Held until released.
    pub held: bool,
    /// GPUs asked for.
    pub gpus: u32,
    /// GPU model asked for.
    pub gpu_type: Option<String>,
    /// CPU cores asked for.
    pub cpus: u32,
    /// Memory asked for, MiB.
    pub mem_mb: u64,
    /// Time limit, seconds.
    pub time_limit_s: u64,
    /// Time limit as `[D-]HH:MM:SS`.
    pub time_limit: String,
    /// Quality of service (shown when the job's spec is loaded: `aisc show`).
    pub qos: Option<String>,
    /// Accepted at (RFC 3339).
    pub submitted_at: String,
    /// Started at.
    pub started_at: Option<String>,
    /// Ended at.
    pub ended_at: Option<String>,
    /// Node it runs or ran on.
    pub node: Option<String>,
    /// GPU indices on that node.
    pub gpu_ids: Vec<u32>,
    /// Whether those GPUs are fakes declared with `--fake-gpus`.
    pub gpus_fake: bool,
    /// Exit status.
    pub exit_code: Option<i32>,
    /// Signal that ended it.
    pub signal: Option<i32>,
    /// Metered wall-clock seconds.
    pub wall_seconds: Option<f64>,
    /// Metered GPU-seconds (GPUs held x wall seconds).
    pub gpu_seconds: Option<f64>,
    /// Metered CPU-seconds (cores held x wall seconds).
    pub cpu_seconds: Option<f64>,
    /// The grant it is charged to.
    pub grant: Option<i64>,
    /// List price per GPU-hour it is charged at (`HK$10.00`).
    pub price_per_gpu_hour: Option<String>,
    /// Its worst case, held against the grant while it is admitted or running.
    pub lien: Option<String>,
    /// What it cost at list price, once it has ended (GPU-seconds x price, at most the lien).
    pub charge: Option<String>,
    /// How users name it: the id, `123_4` for task 4 of array 123, or
    /// `123_[5-15%4]` for an array whose tasks 5 to 15 wait (at most 4 run at once).
    #[serde(default)]
    pub label: String,
    /// The array it belongs to (for an array's own record, its own id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_job_id: Option<i64>,
    /// Its task of that array (`SLURM_ARRAY_TASK_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_task_id: Option<u32>,
    /// Its nodes, `N` or `MIN-MAX` (shown with one job, not in listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<String>,
    /// Its tasks (shown with one job, not in listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<u32>,
    /// How many times it was requeued (Slurm's `Restarts`); its charge is
    /// what all its runs were charged.
    #[serde(default)]
    pub restarts: u32,
}

/// One state transition.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// When (RFC 3339).
    pub at: String,
    /// From (absent for the submission).
    pub from: Option<String>,
    /// To.
    pub to: String,
    /// Why.
    pub reason: String,
}

/// A job with its spec and history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobDetail {
    /// The summary fields.
    #[serde(flatten)]
    pub job: JobView,
    /// The program and arguments (for command jobs).
    pub command: Option<Vec<String>>,
    /// The batch script (for script jobs).
    pub script: Option<String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// Standard output file.
    pub output_path: Option<String>,
    /// Standard error file (same as output when merged).
    pub error_path: Option<String>,
    /// Names of the environment variables it was given (values are not shown).
    pub env_names: Vec<String>,
    /// The script's arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// The partition asked for (`-p`: its grant's resource class).
    #[serde(default)]
    pub partition: Option<String>,
    /// `--comment`
    #[serde(default)]
    pub comment: Option<String>,
    /// `--exclusive`: it holds whole nodes.
    #[serde(default)]
    pub exclusive: bool,
    /// Interactive (`aisc run`, `aisc alloc`): its terminal is reached with `aisc attach`.
    #[serde(default)]
    pub interactive: Option<aisc_model::request::Interactive>,
    /// `--mail-type`, stored (no mail is sent yet).
    #[serde(default)]
    pub mail_type: Option<String>,
    /// `--mail-user`, stored (no mail is sent yet).
    #[serde(default)]
    pub mail_user: Option<String>,
    /// `--begin`: not before then (RFC 3339).
    #[serde(default)]
    pub begin_at: Option<String>,
    /// Every transition, oldest first.
    pub events: Vec<EventView>,
    /// The runs before the current one of a job that was requeued, oldest
    /// first (each was settled on its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunView>,
}

/// A run of a requeued job that ended.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunView {
    /// Its number (0 for the first).
    pub run: u32,
    /// Why it ended.
    pub reason: String,
    /// Where it ran.
    pub node: Option<String>,
    /// When it started (RFC 3339).
    pub started_at: Option<String>,
    /// When it ended (RFC 3339).
    pub ended_at: Option<String>,
    /// Its exit status.
    pub exit_code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
    /// Metered GPU time, seconds.
    pub gpu_seconds: Option<f64>,
}

/// The answer to a submission.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Submitted {
    /// The new job's id.
    pub id: i64,
    /// `pending`.
    pub state: String,
    /// Why it waits at first (`Priority` or `Held`).
    pub reason: String,
    /// Script directives that were ignored, and similar notes.
    pub warnings: Vec<String>,
}

/// A list of jobs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    /// The jobs.
    pub jobs: Vec<JobView>,
    /// Pass as `before` to get the next page, when there may be one.
    pub next_before: Option<i64>,
}

/// The answer to cancel and release.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActionResult {
    /// The job.
    pub id: i64,
    /// What happened, in words.
    pub result: String,
}

/// Who the caller is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// User id.
    pub id: i64,
    /// User name.
    pub name: String,
    /// Centre role.
    pub role: String,
}

/// One GPU of a node.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GpuView {
    /// Index (`CUDA_VISIBLE_DEVICES`).
    pub index: u32,
    /// Model.
    pub name: String,
    /// NVML UUID, for real GPUs.
    pub uuid: Option<String>,
    /// Memory, MiB.
    pub memory_mb: u64,
    /// Declared with `--fake-gpus`: not a real device.
    pub fake: bool,
}

/// A node and what is free on it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NodeView {
    /// Name.
    pub name: String,
    /// Engine that runs its jobs.
    pub engine: String,
    /// CPU cores.
    pub cpus: u32,
    /// Memory, MiB.
    pub mem_mb: u64,
    /// GPUs.
    pub gpus: Vec<GpuView>,
    /// How the GPUs were found.
    pub gpu_source: String,
    /// GPUs held by running jobs.
    pub gpus_busy: u32,
    /// Cores held by running jobs.
    pub cpus_busy: u32,
    /// Memory held by running jobs, MiB.
    pub mem_busy_mb: u64,
}

/// The `state` filter's schema: one of `aisc_model::job::ALL_STATES`.
fn job_state_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(aisc_model::job::ALL_STATES.map(JobState::as_str)))
        .description(Some("Only jobs in this state"))
        .build()
}
