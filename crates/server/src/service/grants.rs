//! Grants: what the caller may see of them, and their limits (centre
//! administrators).

use super::{Found, ServiceError};
use crate::AppState;
use crate::auth::Caller;
use crate::policy::{Access, Resource, authorize, authorize_as};
use crate::service::views::rfc3339;
use aisc_api::applications::{GrantLimitsRequest, GrantView};
use aisc_billing::ledger::Account;
use aisc_billing::money::Cents;
use aisc_model::GrantId;
use aisc_model::scheme::format_percent;
use aisc_store::GrantRow;

/// The most GPUs a cap may name.
pub const MAX_GPU_CAP: i64 = 1_000_000;

/// A grant as a project's resource: its project's members read it.
pub(crate) fn grant_resource(g: &GrantRow) -> Resource<'_> {
    Resource::Project {
        name: &g.project_name,
        id: g.project,
        org: g.org,
    }
}

/// One grant, with what is used, held and remaining.
pub async fn show_grant(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<GrantView, ServiceError> {
    let g = state
        .store
        .grant(id)
        .await
        .or_404(|| format!("grant {id}"))?;
    authorize_as(caller, Access::Read, grant_resource(&g), || {
        format!("grant {id}")
    })?;
    grant_view(state, g).await
}

/// Sets a grant's GPU cap and whether it may use the high QOS (centre administrators).
pub async fn set_grant_limits(
    state: &AppState,
    caller: &Caller,
    id: i64,
    req: GrantLimitsRequest,
) -> Result<GrantView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    if let Some(m) = req.max_gpus
        && !(1..=MAX_GPU_CAP).contains(&m)
    {
        return Err(ServiceError::invalid(
            "max_gpus",
            format!("{m} GPUs is out of range"),
            Some(format!("1 to {MAX_GPU_CAP}, or null for no cap")),
        ));
    }
    let cap = req.max_gpus.map_or("no GPU cap".to_string(), |m| {
        format!("at most {m} GPUs at once")
    });
    let high = if req.high_qos {
        "allowed"
    } else {
        "not allowed"
    };
    let summary = format!("grant {id}: {cap}, high QOS {high}");
    state
        .store
        .set_grant_limits(
            id,
            req.max_gpus,
            req.high_qos,
            caller.audit("grant.limits", format!("grant:{id}"), summary),
        )
        .await
        .or_404(|| format!("grant {id}"))?;
    grants_changed(state).await;
    let g = state.store.grant(id).await?;
    grant_view(state, g).await
}

pub(crate) async fn grant_view(state: &AppState, g: GrantRow) -> Result<GrantView, ServiceError> {
    let id = GrantId(g.id);
    let bal = |a: Account| {
        let store = state.store.clone();
        async move { store.balance(&a.key()).await }
    };
    let (remaining, held, used) = (
        bal(Account::GrantAvailable(id)).await?,
        bal(Account::GrantHeld(id)).await?,
        bal(Account::GrantUsed(id)).await?,
    );
    let (spent, reserved) = (
        bal(Account::SubsidySpent(id)).await?,
        bal(Account::GrantSubsidy(id)).await?,
    );
    Ok(GrantView {
        id: g.id,
        project: g.project_name,
        scheme: g.scheme_name,
        class: g.class_name,
        gpu_hours: g.gpu_hours,
        price_per_gpu_hour: Cents(g.price_cents).to_string(),
        rate: format_percent(g.rate_bp),
        starts_at: rfc3339(g.starts_ms),
        ends_at: rfc3339(g.ends_ms),
        amount: Cents(g.value_cents).to_string(),
        used: Cents(used).to_string(),
        held: Cents(held).to_string(),
        remaining: Cents(remaining).to_string(),
        subsidy_spent: Cents(spent).to_string(),
        subsidy_reserved: Cents(reserved).to_string(),
        cents: [g.value_cents, used, held, remaining, spent, reserved],
        max_gpus: g.max_gpus,
        high_qos: g.high_qos,
        scavenger_discount: format_percent(g.scavenger_discount_bp),
    })
}

/// After a grant is created or its limits change: submissions and the
/// scheduler read grants afresh at once. (If the scheduler is stopping,
/// nothing is lost: it reads them again when it starts.)
pub(crate) async fn grants_changed(state: &AppState) {
    state.charging.clear();
    let _ = state
        .control
        .send(crate::control::Command::GrantsChanged)
        .await;
}

/// Grants the caller may see, with what is used, held and remaining.
pub async fn list_grants(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<GrantView>, ServiceError> {
    let mut out = Vec::new();
    for g in state.store.grants().await? {
        if authorize(caller, Access::Read, grant_resource(&g)).is_ok() {
            out.push(grant_view(state, g).await?);
        }
    }
    Ok(out)
}
