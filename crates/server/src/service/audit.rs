//! Audit: the use cases the portal and the API share.

use super::ServiceError;
use crate::AppState;
use crate::api::audit::*;
use crate::auth::Caller;
use aisc_api::audit::{AuditParams, AuditView};

/// The audit trail, newest first.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    p: AuditParams,
) -> Result<Vec<AuditView>, ServiceError> {
    admin_only(caller)?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ServiceError::invalid(
            "limit",
            format!("{limit} is out of range"),
            Some("1 to 1000".into()),
        ));
    }
    let some = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let search = aisc_store::AuditSearch {
        actor: some(p.actor),
        action: some(p.action),
        text: some(p.q),
    };
    let rows = state.store.audit_list(p.before, limit, &search).await?;
    Ok(rows
        .into_iter()
        .map(crate::api::audit::audit_view)
        .collect())
}

/// Checks the whole audit chain, as it is stored (centre administrators, auditors).
pub async fn verify(
    state: &AppState,
    caller: &Caller,
) -> Result<aisc_api::audit::AuditVerification, ServiceError> {
    admin_only(caller)?;
    Ok(state.audit_chain.check(&state.store, true).await?.view)
}
