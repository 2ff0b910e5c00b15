//! Audit: the use cases the portal and the API share.

use super::ServiceError;
use crate::AppState;
use crate::auth::Caller;
use crate::policy::{Access, Resource, authorize};
use crate::service::views::rfc3339;
use aisc_api::audit::*;
use aisc_store::Verification;

pub(crate) fn admin_only(caller: &Caller) -> Result<(), ServiceError> {
    authorize(caller, Access::Read, Resource::Centre)
}

/// The view of a stored audit event.
pub fn audit_view(r: aisc_store::AuditRow) -> AuditView {
    AuditView {
        id: r.id,
        at: rfc3339(r.at_ms),
        actor: r.actor,
        action: r.action,
        target: r.target,
        summary: r.summary,
        source: r.source,
        hash: r.hash,
    }
}

/// How long an incremental check may lean on the last full one.
pub const FULL_CHECK_EVERY_MS: i64 = 10 * 60 * 1000;

/// The chain as last verified: where a full check ended, and when it ran, so
/// that a page can check only the events added since (reading a long trail
/// on every view would not scale) while a full check still runs every
/// [`FULL_CHECK_EVERY_MS`].
#[derive(Debug, Default)]
pub struct ChainCheck {
    last: tokio::sync::Mutex<Option<(aisc_model::audit::Verifier, i64)>>,
}

/// A verification, and when the full check behind it ran (epoch ms).
#[derive(Debug, Clone)]
pub struct Checked {
    /// The result.
    pub view: AuditVerification,
    /// When every event was last read.
    pub full_at_ms: i64,
}

impl ChainCheck {
    /// Verifies the chain: in full when `full` is asked, when nothing was
    /// verified yet or the last full check is old; else only what was added since.
    pub async fn check(
        &self,
        store: &aisc_store::Store,
        full: bool,
    ) -> Result<Checked, ServiceError> {
        let now = crate::clock::now_ms();
        // One check at a time: concurrent page views wait for it instead of repeating it.
        let mut last = self.last.lock().await;
        let resume = match last.take() {
            Some((v, at)) if !full && now - at < FULL_CHECK_EVERY_MS => Some((v, at)),
            _ => None,
        };
        let (full_at_ms, from) = match resume {
            Some((v, at)) => (at, v),
            None => (now, aisc_model::audit::Verifier::new()),
        };
        let (result, v) = store.audit_verify_from(from).await?;
        if matches!(result, Verification::Intact { .. }) {
            *last = Some((v, full_at_ms));
        }
        Ok(Checked {
            view: view(result),
            full_at_ms,
        })
    }
}

pub(crate) fn view(result: Verification) -> AuditVerification {
    match result {
        Verification::Intact { checked } => AuditVerification {
            intact: true,
            checked,
            first_bad: None,
            detail: None,
        },
        Verification::Broken { checked, error } => {
            let first_bad = match &error {
                aisc_model::audit::ChainError::Gap { found, .. } => *found,
                aisc_model::audit::ChainError::BrokenLink(id)
                | aisc_model::audit::ChainError::Altered(id) => *id,
            };
            AuditVerification {
                intact: false,
                checked,
                first_bad: Some(first_bad),
                detail: Some(error.to_string()),
            }
        }
    }
}

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
        .map(crate::service::audit::audit_view)
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
