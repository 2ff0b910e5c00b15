//! Schemes: the use cases the portal and the API share.

use super::{Found, ServiceError};
use crate::AppState;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::policy::{Access, Resource, authorize};
use crate::service::views::rfc3339;
use aisc_api::schemes::{SchemeRequest, SchemeView};
use aisc_billing::ledger::Account;
use aisc_billing::ledger::funding;
use aisc_billing::money::Cents;
use aisc_model::SchemeId;
use aisc_model::scheme::{Scheme, format_percent, parse_percent};
use aisc_model::tenancy::OrgKind;
use aisc_store::SchemeRow;

pub(crate) async fn view(state: &AppState, r: SchemeRow) -> Result<SchemeView, ServiceError> {
    let uncommitted = state
        .store
        .balance(&Account::SchemePool(SchemeId(r.id)).key())
        .await?;
    let s = r.scheme;
    let funded = s.pool_cents;
    Ok(SchemeView {
        open: s.is_open(now_ms()),
        eligible: s.eligible.iter().map(|k| k.to_string()).collect(),
        default_rate: format_percent(s.default_rate_bp),
        max_rate: format_percent(s.max_rate_bp),
        scavenger_discount: format_percent(s.scavenger_discount_bp),
        min_reviews: s.min_reviews,
        opens_at: rfc3339(s.opens_ms),
        closes_at: rfc3339(s.closes_ms),
        funded: Cents(funded).to_string(),
        committed: Cents(funded - uncommitted).to_string(),
        uncommitted: Cents(uncommitted).to_string(),
        cents: [funded, funded - uncommitted, uncommitted],
        name: s.name,
        title: s.title,
        criteria: s.criteria,
    })
}

/// Every scheme, with its pool.
pub async fn list(state: &AppState, _caller: &Caller) -> Result<Vec<SchemeView>, ServiceError> {
    let mut out = Vec::new();
    for r in state.store.schemes().await? {
        out.push(view(state, r).await?);
    }
    Ok(out)
}

/// One scheme, with its pool.
pub async fn show(
    state: &AppState,
    _caller: &Caller,
    name: String,
) -> Result<SchemeView, ServiceError> {
    let row = state
        .store
        .scheme(&name)
        .await
        .or_404(|| format!("scheme {name}"))?;
    view(state, row).await
}

/// Create a scheme and fund its pool (centre administrators).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    req: SchemeRequest,
) -> Result<SchemeView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    let invalid = |field: &str, e: String| ServiceError::invalid(field, e, None);
    let pool = Cents::parse_hkd(&req.pool).map_err(|e| invalid("pool", e))?;
    let eligible = req
        .eligible
        .iter()
        .map(|k| k.parse::<OrgKind>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("eligible", e))?;
    let scheme = Scheme {
        title: req.title.clone().unwrap_or_else(|| req.name.clone()),
        name: req.name,
        pool_cents: pool.0,
        eligible,
        default_rate_bp: parse_percent(&req.default_rate)
            .map_err(|e| invalid("default_rate", e))?,
        max_rate_bp: parse_percent(&req.max_rate).map_err(|e| invalid("max_rate", e))?,
        criteria: req.criteria,
        opens_ms: aisc_model::calendar::parse_date(&req.opens).map_err(|e| invalid("opens", e))?,
        closes_ms: aisc_model::calendar::parse_date(&req.closes)
            .map_err(|e| invalid("closes", e))?,
        scavenger_discount_bp: match &req.scavenger_discount {
            Some(d) => parse_percent(d).map_err(|e| invalid("scavenger_discount", e))?,
            None => aisc_model::scheme::DEFAULT_SCAVENGER_DISCOUNT_BP,
        },
        min_reviews: req
            .min_reviews
            .unwrap_or(aisc_model::scheme::DEFAULT_MIN_REVIEWS),
    };
    scheme.check().map_err(|(field, limit)| {
        ServiceError::invalid(field, format!("out of range: {limit}"), Some(limit))
    })?;
    let now = now_ms();
    let name = scheme.name.clone();
    let audit = caller.audit(
        "scheme.create",
        format!("scheme:{name}"),
        format!(
            "pool {pool}, rate {} up to {}",
            format_percent(scheme.default_rate_bp),
            format_percent(scheme.max_rate_bp)
        ),
    );
    let memo = format!("funding of scheme {name}");
    let fund: aisc_store::EntryFor = Box::new(move |id| {
        // The pool was checked to be positive above.
        crate::money::to_store(&funding(SchemeId(id), pool), Some(id), now, memo.clone())
    });
    state.store.create_scheme(scheme, now, fund, audit).await?;
    let row = state.store.scheme(&name).await?;
    view(state, row).await
}
