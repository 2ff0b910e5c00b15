//! A project's statement of account.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Which month, and how.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatementParams {
    /// The month, YYYY-MM (Hong Kong time).
    pub month: String,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One charged job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatementLineView {
    /// Job.
    pub job: i64,
    /// Which run of it: 0, or 1, 2, ... for the runs of a requeued job,
    /// each charged on its own.
    #[serde(default)]
    pub run: u32,
    /// Job name.
    pub name: String,
    /// Grant charged.
    pub grant: i64,
    /// When it was charged.
    pub charged_at: String,
    /// GPU-seconds.
    pub gpu_seconds: f64,
    /// List price per GPU-hour.
    pub price_per_gpu_hour: String,
    /// Charge at list price.
    pub charge: String,
    /// Paid by the scheme.
    pub subsidy: String,
    /// Owed by the project.
    pub tenant: String,
}

/// A project's statement for a month.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Statement {
    /// Project.
    pub project: String,
    /// Month (YYYY-MM).
    pub month: String,
    /// Every charge, oldest first.
    pub lines: Vec<StatementLineView>,
    /// Total GPU-seconds.
    pub gpu_seconds: f64,
    /// Total charge.
    pub charge: String,
    /// Total subsidy.
    pub subsidy: String,
    /// Total owed by the project.
    pub tenant: String,
    /// The totals in HK cents: charge, subsidy, tenant.
    pub cents: [i64; 3],
}
