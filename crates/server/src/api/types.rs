//! What the API sends back.

use aisc_billing::money::Cents;
use aisc_model::units::format_duration;
use aisc_store::{JobEvent, JobRow};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

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
    /// Every transition, oldest first.
    pub events: Vec<EventView>,
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

/// Formats epoch milliseconds as RFC 3339 in UTC with exactly three decimals,
/// so that the strings sort as the times do.
pub fn rfc3339(ms: i64) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_default()
}

fn secs(ms: Option<u64>) -> Option<f64> {
    ms.map(|v| v as f64 / 1000.0)
}

impl JobView {
    /// The view of a stored job.
    pub fn from_row(r: &JobRow, gpus_fake: bool) -> Self {
        JobView {
            id: r.id.0,
            name: r.name.clone(),
            user: r.owner_name.clone(),
            account: r.account.clone(),
            state: r.state.to_string(),
            reason: r.reason.clone(),
            held: r.held,
            gpus: r.resources.gpus,
            gpu_type: r.gpu_type.clone(),
            cpus: r.resources.cpus,
            mem_mb: r.resources.mem_mb,
            time_limit_s: r.time_limit_s,
            time_limit: format_duration(r.time_limit_s),
            qos: r.spec.as_ref().map(|s| s.qos.to_string()),
            submitted_at: rfc3339(r.submit_ms),
            started_at: r.start_ms.map(rfc3339),
            ended_at: r.end_ms.map(rfc3339),
            node: r.node.clone(),
            gpu_ids: r.gpu_ids.clone(),
            gpus_fake: gpus_fake && !r.gpu_ids.is_empty(),
            exit_code: r.exit_code,
            signal: r.signal,
            wall_seconds: secs(r.wall_ms),
            gpu_seconds: secs(r.gpu_ms),
            cpu_seconds: secs(r.cpu_ms),
            grant: r.charging.map(|c| c.grant),
            price_per_gpu_hour: r.charging.map(|c| Cents(c.price_cents).to_string()),
            lien: r.charging.map(|c| Cents(c.lien_cents).to_string()),
            // What the ledger charged (aisc_billing::carry), once settled.
            charge: r
                .charging
                .filter(|_| r.state.is_terminal())
                .map(|_| Cents(r.charged_cents.unwrap_or(0)).to_string()),
        }
    }
}

impl EventView {
    /// The view of a stored event.
    pub fn from_event(e: &JobEvent) -> Self {
        EventView {
            at: rfc3339(e.at_ms),
            from: e.from.map(|s| s.to_string()),
            to: e.to.to_string(),
            reason: e.reason.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn times_have_fixed_width_and_sort_as_strings() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_100), "1970-01-01T00:00:01.100Z");
        assert!(rfc3339(1_100) < rfc3339(1_150));
        let parsed = OffsetDateTime::parse(&rfc3339(1_764_000_000_123), &Rfc3339).unwrap();
        assert_eq!(parsed.unix_timestamp_nanos(), 1_764_000_000_123_000_000);
    }
}
