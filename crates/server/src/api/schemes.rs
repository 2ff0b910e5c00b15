//! Funding schemes: their rules and the state of their pools.

use crate::AppState;
use crate::api::extract::Body;
use crate::api::types::rfc3339;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::error::{ApiError, Problem};
pub use aisc_api::schemes::{SchemeRequest, SchemeView};
use aisc_billing::ledger::Account;
use aisc_billing::money::Cents;
use aisc_model::SchemeId;
use aisc_model::scheme::format_percent;
use aisc_store::SchemeRow;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

pub(crate) async fn view(state: &AppState, r: SchemeRow) -> Result<SchemeView, ApiError> {
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
    Ok((
        StatusCode::CREATED,
        Json(crate::service::schemes::create(&state, &caller, req).await?),
    ))
}

/// Every scheme, with its pool.
#[utoipa::path(get, path = "/api/v1/schemes", tag = "schemes", responses((status = 200, body = Vec<SchemeView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<SchemeView>>, ApiError> {
    Ok(Json(crate::service::schemes::list(&state, &_caller).await?))
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
    Ok(Json(
        crate::service::schemes::show(&state, &_caller, name).await?,
    ))
}
