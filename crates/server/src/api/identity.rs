//! Users, logins and API tokens.
//!
//! `POST /api/v1/login` exchanges a user name and password for a token (no
//! bearer needed; failures are rate-limited per account and per address).
//! Tokens are 256 random bits, shown once, stored as SHA-256 hashes, with an
//! expiry, a scope (`full`, or `read`: only GET) and revocation.

use crate::AppState;
use crate::api::extract::{Body, IdPath, Query};
use crate::api::types::ActionResult;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
pub use aisc_api::identity::{
    IssuedToken, LoginRequest, PasswordRequest, RoleRequest, TokenListParams, TokenRequest,
    TokenView, UserRequest, UserView,
};
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use std::net::SocketAddr;

/// Log in with a password; returns a new token.
#[utoipa::path(post, path = "/api/v1/login", request_body = LoginRequest, tag = "identity",
    responses((status = 201, body = IssuedToken),
        (status = 401, description = "Wrong user or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Body(req): Body<LoginRequest>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(crate::service::identity::login(&state, addr, req).await?),
    ))
}

/// Create a token for the caller.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = TokenRequest, tag = "identity",
    responses((status = 201, body = IssuedToken), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<TokenRequest>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let issued = crate::service::identity::create_token(&state, &caller, req).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// The caller's tokens (or everyone's, for an administrator asking `all=true`), newest first.
#[utoipa::path(get, path = "/api/v1/tokens", params(TokenListParams), tag = "identity",
    responses((status = 200, body = Vec<TokenView>)), security(("bearer" = [])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<TokenListParams>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    Ok(Json(
        crate::service::identity::list_tokens(&state, &caller, p).await?,
    ))
}

/// Revoke a token: the caller's own, or any for an administrator. Takes effect at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = i64, Path, description = "Token id")), tag = "identity",
    responses((status = 200, body = ActionResult), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<ActionResult>, ApiError> {
    Ok(Json(
        crate::service::identity::revoke_token(&state, &caller, id).await?,
    ))
}

/// Create a user (administrators).
#[utoipa::path(post, path = "/api/v1/users", request_body = UserRequest, tag = "identity",
    responses((status = 201, body = UserView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<UserRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(crate::service::identity::create_user(&state, &caller, req).await?),
    ))
}

/// Every user (administrators).
#[utoipa::path(get, path = "/api/v1/users", tag = "identity",
    responses((status = 200, body = Vec<UserView>), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(
        crate::service::identity::list_users(&state, &caller).await?,
    ))
}

/// Set a user's password: your own (with the current one, once one is set),
/// or anyone's for an administrator. The user can then log in with it
/// (`aisc login`, the portal).
#[utoipa::path(put, path = "/api/v1/users/{name}/password", request_body = PasswordRequest, tag = "identity",
    params(("name" = String, Path, description = "User name")),
    responses((status = 200, body = UserView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(req): Body<PasswordRequest>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        crate::service::identity::set_password(&state, &caller, name, req).await?,
    ))
}

/// Give a user another centre role (administrators). Takes effect at once, on
/// every token of theirs; the last administrator cannot lose the role.
#[utoipa::path(put, path = "/api/v1/users/{name}/role", request_body = RoleRequest, tag = "identity",
    params(("name" = String, Path, description = "User name")),
    responses((status = 200, body = UserView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(req): Body<RoleRequest>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        crate::service::identity::set_role(&state, &caller, name, req).await?,
    ))
}
