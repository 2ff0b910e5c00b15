//! The master keys: which are loaded, how many data keys each wraps, rotation
//! and retirement (`aisc keys list|rotate|retire`). Centre administrators act;
//! auditors read.

use crate::AppState;
use crate::api::extract::Body;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
pub use aisc_api::keys::{KeysView, MasterKeyView, RetireRequest};
use axum::Json;
use axum::extract::State;

/// The master keys loaded and how many data keys each wraps.
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys",
    responses((status = 200, body = KeysView), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<KeysView>, ApiError> {
    Ok(Json(crate::service::keys::list(&state, &caller).await?))
}

/// Rotate the master key: with a key file, a new key is written to it first (the old ones stay
/// after it); then every data key is re-wrapped under the current key in one transaction. Jobs,
/// files and logs stay readable throughout. With `AISC_MASTER_KEY`, put the new key first in
/// the variable and restart; this then re-wraps under it.
#[utoipa::path(post, path = "/api/v1/keys/rotate", tag = "keys",
    responses((status = 200, body = KeysView), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<KeysView>, ApiError> {
    Ok(Json(crate::service::keys::rotate(&state, &caller).await?))
}

/// Retire a master key that wraps no data key any more (after a rotation). With a key file it is
/// removed from the file; with `AISC_MASTER_KEY`, remove it from the variable instead.
#[utoipa::path(post, path = "/api/v1/keys/retire", tag = "keys", request_body = RetireRequest,
    responses((status = 200, body = KeysView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Current, still in use, or from the variable", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn retire(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<RetireRequest>,
) -> Result<Json<KeysView>, ApiError> {
    Ok(Json(
        crate::service::keys::retire(&state, &caller, req).await?,
    ))
}
