//! Subsidy schemes.

use aisc_model::scheme::Criterion;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A scheme to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemeRequest {
    /// Unique name.
    pub name: String,
    /// Title (default: the name).
    #[serde(default)]
    pub title: Option<String>,
    /// Budget pool in HK$, e.g. `3,000,000,000`.
    pub pool: String,
    /// Organisation kinds that may apply.
    pub eligible: Vec<String>,
    /// Default subsidy rate in percent, e.g. `70`.
    pub default_rate: String,
    /// Highest subsidy rate in percent, e.g. `90`.
    pub max_rate: String,
    /// Review criteria with weights in percent adding up to 100.
    pub criteria: Vec<Criterion>,
    /// First day applications are accepted (YYYY-MM-DD).
    pub opens: String,
    /// Day applications close (YYYY-MM-DD, exclusive).
    pub closes: String,
    /// Discount on the list price for scavenger jobs in percent (default 50; 0 charges full price, 100 nothing).
    #[serde(default)]
    pub scavenger_discount: Option<String>,
    /// Reviews an application needs before it may be approved (default 1; 0 lets an
    /// administrator approve without any review).
    #[serde(default)]
    pub min_reviews: Option<u32>,
}

/// A scheme and its pool.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SchemeView {
    /// Name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Eligible organisation kinds.
    pub eligible: Vec<String>,
    /// Default subsidy rate (`70.00%`).
    pub default_rate: String,
    /// Highest subsidy rate.
    pub max_rate: String,
    /// Discount on the list price for scavenger jobs.
    pub scavenger_discount: String,
    /// Reviews an application needs before it may be approved.
    pub min_reviews: u32,
    /// Review criteria.
    pub criteria: Vec<Criterion>,
    /// Opens (RFC 3339).
    pub opens_at: String,
    /// Closes (RFC 3339).
    pub closes_at: String,
    /// Whether applications are accepted now.
    pub open: bool,
    /// The pool as funded.
    pub funded: String,
    /// Reserved for approved grants.
    pub committed: String,
    /// Not yet reserved.
    pub uncommitted: String,
    /// The same three figures in HK cents: funded, committed, uncommitted.
    pub cents: [i64; 3],
}
