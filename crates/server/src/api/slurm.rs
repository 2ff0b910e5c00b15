//! Slurm-specific routes: users' Unix names and the accounts sync.

use super::extract::Body;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
pub use aisc_api::slurm::{SyncReport, SyncRequest, UnixNameRequest};
use axum::Json;
use axum::extract::{Path, State};

/// Checks a Unix user name: a POSIX name, not root, and (where this host
/// has such an account) not a system account: uid at or above `min_uid`.
pub fn check_unix_account(name: &str, min_uid: u32) -> Result<(), ApiError> {
    check_unix_name(name)?;
    let refuse = |why: String| {
        Err(ApiError::invalid(
            "unix_name",
            why,
            Some(format!(
                "an ordinary account: not root, uid {min_uid} or above"
            )),
        ))
    };
    if name == "root" {
        return refuse("root never runs jobs".into());
    }
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) if u.uid.is_root() => refuse(format!("{name} is uid 0: no job runs as root")),
        Ok(Some(u)) if u.uid.as_raw() < min_uid => refuse(format!(
            "{name} is a system account (uid {} is below {min_uid})",
            u.uid
        )),
        _ => Ok(()),
    }
}

/// Checks a POSIX user name.
pub fn check_unix_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "unix_name",
            format!("{name:?} is not a Unix user name"),
            Some("1 to 32 of a-z, 0-9, '_', '-', starting with a letter or '_'".into()),
        ))
    }
}

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
