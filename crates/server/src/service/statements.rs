//! A project's monthly statement, from the ledger.

use super::{Found, ServiceError};
use crate::AppState;
use crate::auth::Caller;
use crate::policy::{Access, Resource, authorize};
use aisc_store::StatementLine;

/// Every charge of a project's jobs settled in a month, with totals.
#[derive(Debug, Clone)]
pub struct StatementData {
    /// The project.
    pub project: String,
    /// The month (`YYYY-MM`).
    pub month: String,
    /// Each settled job.
    pub lines: Vec<StatementLine>,
    /// Charge, subsidy and tenant's part, cents.
    pub totals: [i64; 3],
    /// GPU time charged, ms.
    pub gpu_ms: i64,
}

/// A project's statement for a month (its PI, its organisation's administrators, auditors).
pub async fn statement(
    state: &AppState,
    caller: &Caller,
    project: &str,
    month: &str,
) -> Result<StatementData, ServiceError> {
    let pr = state
        .store
        .project(project)
        .await
        .or_404(|| format!("project {project}"))?;
    authorize(
        caller,
        Access::Finances,
        Resource::Project {
            name: &pr.name,
            id: pr.id,
            org: pr.org,
        },
    )?;
    let (from, to) = aisc_model::calendar::parse_month(month)
        .map_err(|e| ServiceError::invalid("month", e, None))?;
    let lines = state.store.statement(pr.id.0, from, to).await?;
    let totals = lines.iter().fold([0i64; 3], |t, l| {
        [t[0] + l.charge, t[1] + l.subsidy, t[2] + l.tenant]
    });
    let gpu_ms: i64 = lines.iter().map(|l| l.gpu_ms).sum();
    Ok(StatementData {
        project: pr.name,
        month: month.to_string(),
        lines,
        totals,
        gpu_ms,
    })
}
