//! The audit trail and its verification.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One audit event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditView {
    /// Sequence number.
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What (`job.submit`, `job.cancel`, ...).
    pub action: String,
    /// On what (`job:42`).
    pub target: String,
    /// In words.
    pub summary: String,
    /// From where.
    pub source: String,
    /// This event's hash (SHA-256, chained to the previous event's).
    pub hash: String,
}

/// The result of checking the chain.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditVerification {
    /// Whether every event matches its hash and follows the one before.
    pub intact: bool,
    /// Events checked (up to the first bad one).
    pub checked: u64,
    /// The first event that does not verify.
    pub first_bad: Option<i64>,
    /// What is wrong with it.
    pub detail: Option<String>,
}

/// Paging.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Page size (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// Only events with a smaller id.
    pub before: Option<i64>,
    /// Only this actor's events.
    pub actor: Option<String>,
    /// Only actions starting with this (`job.`, `grant.approve`).
    pub action: Option<String>,
    /// Only events whose target or summary contains this (any case).
    pub q: Option<String>,
}
