//! Funding schemes: their rules and the state of their pools.

use crate::AppState;
use crate::api::extract::Body;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
pub use aisc_api::schemes::{SchemeRequest, SchemeView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

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
