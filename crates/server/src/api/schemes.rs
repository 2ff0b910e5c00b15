//! Funding schemes: their rules and the state of their pools.

use crate::AppState;
use crate::api::extract::Body;
use crate::api::types::rfc3339;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::error::OrNotFound;
use crate::error::{ApiError, Problem};
use crate::policy::{Access, Resource, authorize};
pub use aisc_api::schemes::{SchemeRequest, SchemeView};
use aisc_billing::ledger::{Account, funding};
use aisc_billing::money::Cents;
use aisc_model::SchemeId;
use aisc_model::scheme::{Scheme, format_percent, parse_percent};
use aisc_model::tenancy::OrgKind;
use aisc_store::SchemeRow;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

async fn view(state: &AppState, r: SchemeRow) -> Result<SchemeView, ApiError> {
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

/// Create a scheme and fund its pool (centre administrators).
#[utoipa::path(post, path = "/api/v1/schemes", request_body = SchemeRequest, tag = "schemes",
    responses((status = 201, body = SchemeView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<SchemeRequest>,
) -> Result<(StatusCode, Json<SchemeView>), ApiError> {
    authorize(&caller, Access::Manage, Resource::Centre)?;
    let invalid = |field: &str, e: String| ApiError::invalid(field, e, None);
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
        ApiError::invalid(field, format!("out of range: {limit}"), Some(limit))
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
    Ok((StatusCode::CREATED, Json(view(&state, row).await?)))
}

/// Every scheme, with its pool.
#[utoipa::path(get, path = "/api/v1/schemes", tag = "schemes", responses((status = 200, body = Vec<SchemeView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<SchemeView>>, ApiError> {
    let mut out = Vec::new();
    for r in state.store.schemes().await? {
        out.push(view(&state, r).await?);
    }
    Ok(Json(out))
}

/// One scheme, with its pool.
#[utoipa::path(get, path = "/api/v1/schemes/{scheme}", params(("scheme" = String, Path, description = "Scheme")), tag = "schemes",
    responses((status = 200, body = SchemeView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<SchemeView>, ApiError> {
    let row = state
        .store
        .scheme(&name)
        .await
        .or_404(|| format!("scheme {name}"))?;
    Ok(Json(view(&state, row).await?))
}
