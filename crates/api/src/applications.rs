//! Applications, reviews, decisions and grants.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// An application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    /// The applying project.
    pub project: String,
    /// The scheme.
    pub scheme: String,
    /// The resource class.
    pub class: String,
    /// GPU-hours asked for.
    pub gpu_hours: i64,
    /// First day of the period (YYYY-MM-DD).
    pub starts: String,
    /// Day the period ends (YYYY-MM-DD, exclusive).
    pub ends: String,
    /// A justification for each of the scheme's criteria.
    pub justification: BTreeMap<String, String>,
}

/// A review.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// A score from 0 to 10 for each of the scheme's criteria.
    pub scores: BTreeMap<String, u32>,
    /// A comment.
    #[serde(default)]
    pub comment: String,
}

/// The committee's decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// Approve (true) or reject (false).
    pub approve: bool,
    /// GPU-hours granted (default: as asked; at most as asked).
    #[serde(default)]
    pub gpu_hours: Option<i64>,
    /// Subsidy rate in percent (default: the scheme's; at most its maximum).
    #[serde(default)]
    pub rate: Option<String>,
    /// Why (required to reject).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A review as shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewView {
    /// Reviewer.
    pub reviewer: String,
    /// Scores.
    pub scores: BTreeMap<String, u32>,
    /// Weighted score out of 10.
    pub weighted: String,
    /// Comment.
    pub comment: String,
    /// When.
    pub at: String,
}

/// An application as shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApplicationView {
    /// Id (also the id of the grant it becomes).
    pub id: i64,
    /// Project.
    pub project: String,
    /// Scheme.
    pub scheme: String,
    /// Resource class.
    pub class: String,
    /// GPU-hours asked for.
    pub gpu_hours: i64,
    /// Period start.
    pub starts_at: String,
    /// Period end.
    pub ends_at: String,
    /// Justification per criterion.
    pub justification: BTreeMap<String, String>,
    /// Applicant.
    pub applicant: String,
    /// `submitted`, `approved` or `rejected`.
    pub state: String,
    /// The decision's terms or reason.
    pub decision: Option<String>,
    /// Reviews.
    pub reviews: Vec<ReviewView>,
    /// The mean of the reviewers' weighted scores, out of 10.
    pub mean_score: Option<String>,
}

/// A grant and where it stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantView {
    /// Id.
    pub id: i64,
    /// Project.
    pub project: String,
    /// Scheme.
    pub scheme: String,
    /// Resource class.
    pub class: String,
    /// GPU-hours granted.
    pub gpu_hours: i64,
    /// List price per GPU-hour at approval.
    pub price_per_gpu_hour: String,
    /// Subsidy rate.
    pub rate: String,
    /// Period start.
    pub starts_at: String,
    /// Period end.
    pub ends_at: String,
    /// Value at list price.
    pub amount: String,
    /// Charged to finished jobs.
    pub used: String,
    /// Held by liens of unfinished jobs.
    pub held: String,
    /// Left to use.
    pub remaining: String,
    /// Subsidy spent.
    pub subsidy_spent: String,
    /// Subsidy still reserved.
    pub subsidy_reserved: String,
    /// The figures in HK cents: amount, used, held, remaining, subsidy spent, subsidy reserved.
    pub cents: [i64; 6],
    /// The most GPUs the project's jobs may hold at once under it (absent: no cap).
    pub max_gpus: Option<i64>,
    /// Its jobs may use the `high` QOS.
    pub high_qos: bool,
    /// The scheme's discount on the list price for scavenger jobs.
    pub scavenger_discount: String,
}

/// Scheduling limits of a grant (centre administrators).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantLimitsRequest {
    /// The most GPUs the project's jobs may hold at once; null removes the cap.
    #[serde(default)]
    pub max_gpus: Option<i64>,
    /// Whether its jobs may use the `high` QOS.
    #[serde(default)]
    pub high_qos: bool,
}
