//! Users, logins and API tokens.
//!
//! `POST /api/v1/login` exchanges a user name and password for a token (no
//! bearer needed; failures are rate-limited per account and per address).
//! Tokens are 256 random bits, shown once, stored as SHA-256 hashes, with an
//! expiry, a scope (`full`, or `read`: only GET) and revocation.

use crate::AppState;
use crate::api::extract::{Body, IdPath, Query};
use crate::api::types::{ActionResult, rfc3339};
use crate::auth::{self, Caller};
use crate::clock::now_ms;
use crate::error::{ApiError, Problem};
pub use aisc_api::identity::{
    IssuedToken, LoginRequest, PasswordRequest, RoleRequest, TokenListParams, TokenRequest,
    TokenView, UserRequest, UserView,
};
use aisc_store::{NewAudit, NewToken};
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use std::net::SocketAddr;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;
/// Longest password accepted (bytes).
pub const MAX_PASSWORD: usize = 1024;
/// Lifetime of a token from a password login, when none is asked for.
pub const LOGIN_TOKEN_DEFAULT: &str = "30d";
/// Lifetime of a created token, when none is asked for.
pub const TOKEN_DEFAULT: &str = "90d";

/// The view of a stored user.
pub fn user_view_of(u: aisc_store::UserRow) -> UserView {
    UserView {
        id: u.id.0,
        name: u.name,
        role: u.role,
        has_password: u.has_password,
        created_at: rfc3339(u.created_ms),
        unix_name: u.unix_name,
    }
}

pub(crate) fn lifetime_ms(
    field: &'static str,
    expires: Option<&str>,
    default: &str,
) -> Result<i64, ApiError> {
    let text = expires.unwrap_or(default);
    let secs = aisc_model::units::parse_time_limit(text)
        .map_err(|e| ApiError::invalid(field, e.to_string(), Some("1s to 365 days".into())))?;
    Ok(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000))
}

pub(crate) fn scope(s: Option<&str>) -> Result<String, ApiError> {
    match s.unwrap_or("full") {
        v @ ("full" | "read") => Ok(v.to_string()),
        other => Err(ApiError::invalid(
            "scope",
            format!("{other:?} is not a scope"),
            Some("full or read".into()),
        )),
    }
}

pub(crate) fn label(s: Option<&str>, default: &str) -> Result<String, ApiError> {
    let l = s.unwrap_or(default).trim().to_string();
    if l.is_empty() || l.chars().count() > 100 || l.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "label",
            "a label is 1 to 100 printable characters",
            Some("100".into()),
        ));
    }
    Ok(l)
}

/// Makes, stores and returns a token for `user`.
pub(crate) async fn issue(
    state: &AppState,
    user: aisc_model::UserId,
    user_name: &str,
    label: String,
    scope: String,
    life_ms: i64,
    audit: NewAudit,
) -> Result<IssuedToken, ApiError> {
    let token = auth::new_token();
    let now = now_ms();
    let expires = now.saturating_add(life_ms);
    let new = NewToken {
        user,
        token_hash: auth::hash_token(&token),
        label: label.clone(),
        scope: scope.clone(),
        created_ms: now,
        expires_ms: Some(expires),
    };
    let id = state.store.create_token(new, Some(audit)).await?;
    Ok(IssuedToken {
        id,
        token,
        user: user_name.to_string(),
        label,
        scope,
        expires_at: rfc3339(expires),
    })
}

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

pub(crate) fn check_user_name(name: &str) -> Result<(), ApiError> {
    aisc_model::tenancy::check_name(name)
        .map_err(|e| ApiError::invalid("name", e, Some("64".into())))
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

/// Checks a new password's length and hashes it (on the blocking pool: argon2 is slow by design).
pub(crate) async fn new_password_hash(p: String) -> Result<String, ApiError> {
    if p.len() < MIN_PASSWORD || p.len() > MAX_PASSWORD {
        return Err(ApiError::invalid(
            "password",
            format!("a password is {MIN_PASSWORD} to {MAX_PASSWORD} bytes long"),
            Some(MIN_PASSWORD.to_string()),
        ));
    }
    // Printable characters only (spaces and any script's letters are fine):
    // a NUL or a control character is a mistake or an attack, never a secret.
    if p.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "password",
            "a password holds printable characters only (no NUL, tab, newline or other control character)",
            Some("printable characters".into()),
        ));
    }
    tokio::task::spawn_blocking(move || auth::hash_password(&p))
        .await
        .map_err(ApiError::internal)?
}

/// Refuses a change of one's own password unless `current` is the password
/// set now; wrong guesses count against the login limits.
pub(crate) async fn check_current(
    state: &AppState,
    caller: &Caller,
    current: Option<String>,
) -> Result<(), ApiError> {
    let Some((_, Some(hash))) = state.store.user_for_login(&caller.user.name).await? else {
        return Ok(()); // no password yet: nothing to prove
    };
    let name = caller.user.name.clone();
    state.logins.check(&name, &caller.source)?;
    let Some(current) = current else {
        return Err(ApiError::invalid(
            "current",
            "your current password is needed to change it",
            None,
        ));
    };
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&current, &hash))
        .await
        .unwrap_or(false);
    if !ok {
        state.logins.failed(&name, &caller.source);
        return Err(ApiError::invalid(
            "current",
            "this is not your current password",
            None,
        ));
    }
    Ok(())
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

/// Checks a role name (one of `aisc_model::tenancy::CENTRE_ROLES`).
pub(crate) fn check_role(role: &str) -> Result<(), ApiError> {
    role.parse::<aisc_model::tenancy::CentreRole>()
        .map(|_| ())
        .map_err(|_| {
            let all: Vec<&str> = aisc_model::tenancy::CENTRE_ROLES
                .iter()
                .map(|r| r.as_str())
                .collect();
            ApiError::invalid(
                "role",
                format!("{role:?} is not a role"),
                Some(all.join(", ")),
            )
        })
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

/// One user as the API shows them.
pub async fn user_view(
    state: &AppState,
    id: aisc_model::UserId,
) -> Result<Json<UserView>, ApiError> {
    state
        .store
        .users()
        .await?
        .into_iter()
        .find(|u| u.id == id)
        .map(|u| Json(crate::api::identity::user_view_of(u)))
        .ok_or_else(|| ApiError::NotFound(format!("user {}", id.0)))
}
