//! A project's export, closure and erasure.

use crate::applications::{ApplicationView, GrantView};
use crate::audit::AuditView;
use crate::data::FileView;
use crate::jobs::JobDetail;
use crate::tenancy::ProjectDetail;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Everything a project holds in aisc, but its files' bytes and logs, which
/// are fetched one by one (`aisc project export` does so).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProjectExport {
    /// When this was made.
    pub exported_at: String,
    /// The project and its members.
    pub project: ProjectDetail,
    /// Its applications for compute, with their justifications and reviews.
    pub applications: Vec<ApplicationView>,
    /// Its grants, with what was used and held.
    pub grants: Vec<GrantView>,
    /// Its jobs, each with its command or script, environment names (never values),
    /// events, usage and cost, newest first.
    pub jobs: Vec<JobDetail>,
    /// Audit events about the project or its jobs, newest first.
    pub audit: Vec<AuditView>,
    /// Its files (fetch each with `GET /api/v1/projects/{project}/data/{path}`).
    pub files: Vec<FileView>,
}

/// A confirmation: the project's name again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The project's name, typed again.
    pub confirm: String,
}

/// What closing or erasing did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClosedView {
    /// The project.
    pub project: String,
    /// Closed at.
    pub closed_at: Option<String>,
    /// Erased at.
    pub erased_at: Option<String>,
    /// Jobs whose logs were removed from disk.
    pub job_logs_removed: usize,
}
