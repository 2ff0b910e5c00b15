//! Slurm-specific routes: users' Unix names and the accounts sync.

use super::extract::Body;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
pub use aisc_api::slurm::{SyncReport, SyncRequest, UnixNameRequest};
use axum::Json;
use axum::extract::{Path, State};

/// Set the Unix user name a user's jobs run as on Slurm (administrators).
#[utoipa::path(put, path = "/api/v1/users/{name}/unix-name", request_body = UnixNameRequest, tag = "identity",
    params(("name" = String, Path, description = "User name")),
    responses((status = 200, body = super::identity::UserView), (status = 403, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
        (status = 409, body = super::Problem, content_type = "application/problem+json"),
        (status = 422, body = super::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_unix_name(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(req): Body<UnixNameRequest>,
) -> Result<Json<super::identity::UserView>, ApiError> {
    Ok(Json(
        crate::service::slurm::set_unix_name(&state, &caller, &name, req).await?,
    ))
}

/// Bring Slurm's accounts, associations and GPU-minute limits in step with
/// aisc's tenancy and grants, or with `dry_run` only list what would change
/// (administrators; Slurm engine only).
#[utoipa::path(post, path = "/api/v1/slurm/sync", request_body = SyncRequest, tag = "slurm",
    responses((status = 200, body = SyncReport), (status = 403, body = super::Problem, content_type = "application/problem+json"),
        (status = 409, body = super::Problem, content_type = "application/problem+json"),
        (status = 503, body = super::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn sync(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<SyncRequest>,
) -> Result<Json<SyncReport>, ApiError> {
    Ok(Json(
        crate::service::slurm::sync(&state, &caller, req).await?,
    ))
}
