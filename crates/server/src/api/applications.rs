//! Applications for compute, their review, the committee's decision, and grants.

use crate::AppState;
use crate::api::extract::{Body, IdPath};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::service::applications as service;
use crate::service::grants;
pub use aisc_api::applications::{
    ApplicationRequest, ApplicationView, DecisionRequest, GrantLimitsRequest, GrantView,
    ReviewRequest, ReviewView,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

pub use crate::service::applications::{MAX_GPU_HOURS, MAX_JUSTIFICATION};

pub use crate::service::grants::MAX_GPU_CAP;

/// Apply to a scheme for GPU-hours of a resource class (the project's PI or organisation administrators).
#[utoipa::path(post, path = "/api/v1/applications", request_body = ApplicationRequest, tag = "grants",
    responses((status = 201, body = ApplicationView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<ApplicationRequest>,
) -> Result<(StatusCode, Json<ApplicationView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(service::apply(&state, &caller, req).await?),
    ))
}

/// Applications the caller may see, newest first (reviewers and auditors see all).
#[utoipa::path(get, path = "/api/v1/applications", tag = "grants", responses((status = 200, body = Vec<ApplicationView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApplicationView>>, ApiError> {
    Ok(Json(service::list(&state, &caller).await?))
}

/// One application with its reviews.
#[utoipa::path(get, path = "/api/v1/applications/{id}", params(("id" = i64, Path, description = "Application")), tag = "grants",
    responses((status = 200, body = ApplicationView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<ApplicationView>, ApiError> {
    Ok(Json(service::show(&state, &caller, id).await?))
}

/// Score an application (reviewers; not of their own organisation's applications; once).
#[utoipa::path(post, path = "/api/v1/applications/{id}/reviews", request_body = ReviewRequest, params(("id" = i64, Path, description = "Application")), tag = "grants",
    responses((status = 201, body = ApplicationView), (status = 403, description = "Not a reviewer, or a conflict of interest", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Reviewed already, or decided", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn review(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    Body(req): Body<ReviewRequest>,
) -> Result<(StatusCode, Json<ApplicationView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(service::review(&state, &caller, id, req).await?),
    ))
}

/// Approve (reserving the grant's subsidy from the pool) or reject an application (centre administrators; once).
#[utoipa::path(post, path = "/api/v1/applications/{id}/decision", request_body = DecisionRequest, params(("id" = i64, Path, description = "Application")), tag = "grants",
    responses((status = 200, body = ApplicationView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Decided already, or the pool cannot cover it", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    Body(req): Body<DecisionRequest>,
) -> Result<Json<ApplicationView>, ApiError> {
    Ok(Json(service::decide(&state, &caller, id, req).await?))
}

/// Sets a grant's scheduling limits: a cap on the GPUs its project's jobs hold at once, and the `high` QOS (centre administrators).
#[utoipa::path(patch, path = "/api/v1/grants/{id}", request_body = GrantLimitsRequest, params(("id" = i64, Path, description = "Grant")), tag = "grants",
    responses((status = 200, body = GrantView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_grant_limits(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    Body(req): Body<GrantLimitsRequest>,
) -> Result<Json<GrantView>, ApiError> {
    Ok(Json(
        grants::set_grant_limits(&state, &caller, id, req).await?,
    ))
}

/// Grants the caller may see, with what is used, held and remaining.
#[utoipa::path(get, path = "/api/v1/grants", tag = "grants", responses((status = 200, body = Vec<GrantView>)), security(("bearer" = [])))]
pub async fn list_grants(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<GrantView>>, ApiError> {
    Ok(Json(grants::list_grants(&state, &caller).await?))
}

/// One grant.
#[utoipa::path(get, path = "/api/v1/grants/{id}", params(("id" = i64, Path, description = "Grant")), tag = "grants",
    responses((status = 200, body = GrantView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn show_grant(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<GrantView>, ApiError> {
    Ok(Json(grants::show_grant(&state, &caller, id).await?))
}
