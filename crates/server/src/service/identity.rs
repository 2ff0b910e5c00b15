//! Identity: the use cases the portal and the API share.

use super::{Found, ServiceError};
use crate::AppState;
use crate::auth::{self, Caller};
use crate::clock::now_ms;
use crate::policy::{Access, Resource, authorize};
use crate::service::views::{ActionResult, rfc3339};
use aisc_api::identity::{
    IssuedToken, LoginRequest, PasswordRequest, RoleRequest, TokenListParams, TokenView,
    UserRequest, UserView,
};
use aisc_store::NewToken;
use aisc_store::{NewAudit, NewUser};
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
) -> Result<i64, ServiceError> {
    let text = expires.unwrap_or(default);
    let secs = aisc_model::units::parse_time_limit(text)
        .map_err(|e| ServiceError::invalid(field, e.to_string(), Some("1s to 365 days".into())))?;
    Ok(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000))
}

pub(crate) fn scope(s: Option<&str>) -> Result<String, ServiceError> {
    match s.unwrap_or("full") {
        v @ ("full" | "read") => Ok(v.to_string()),
        other => Err(ServiceError::invalid(
            "scope",
            format!("{other:?} is not a scope"),
            Some("full or read".into()),
        )),
    }
}

pub(crate) fn label(s: Option<&str>, default: &str) -> Result<String, ServiceError> {
    let l = s.unwrap_or(default).trim().to_string();
    if l.is_empty() || l.chars().count() > 100 || l.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
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
) -> Result<IssuedToken, ServiceError> {
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

pub(crate) fn check_user_name(name: &str) -> Result<(), ServiceError> {
    aisc_model::tenancy::check_name(name)
        .map_err(|e| ServiceError::invalid("name", e, Some("64".into())))
}

/// Checks a new password's length and hashes it (on the blocking pool: argon2 is slow by design).
pub(crate) async fn new_password_hash(p: String) -> Result<String, ServiceError> {
    if p.len() < MIN_PASSWORD || p.len() > MAX_PASSWORD {
        return Err(ServiceError::invalid(
            "password",
            format!("a password is {MIN_PASSWORD} to {MAX_PASSWORD} bytes long"),
            Some(MIN_PASSWORD.to_string()),
        ));
    }
    // Printable characters only (spaces and any script's letters are fine):
    // a NUL or a control character is a mistake or an attack, never a secret.
    if p.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "password",
            "a password holds printable characters only (no NUL, tab, newline or other control character)",
            Some("printable characters".into()),
        ));
    }
    tokio::task::spawn_blocking(move || auth::hash_password(&p))
        .await
        .map_err(ServiceError::internal)?
}

/// Refuses a change of one's own password unless `current` is the password
/// set now; wrong guesses count against the login limits.
pub(crate) async fn check_current(
    state: &AppState,
    caller: &Caller,
    current: Option<String>,
) -> Result<(), ServiceError> {
    let Some((_, Some(hash))) = state.store.user_for_login(&caller.user.name).await? else {
        return Ok(()); // no password yet: nothing to prove
    };
    let name = caller.user.name.clone();
    state.logins.check(&name, &caller.source)?;
    let Some(current) = current else {
        return Err(ServiceError::invalid(
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
        return Err(ServiceError::invalid(
            "current",
            "this is not your current password",
            None,
        ));
    }
    Ok(())
}

/// Checks a role name (one of `aisc_model::tenancy::CENTRE_ROLES`).
pub(crate) fn check_role(role: &str) -> Result<(), ServiceError> {
    role.parse::<aisc_model::tenancy::CentreRole>()
        .map(|_| ())
        .map_err(|_| {
            let all: Vec<&str> = aisc_model::tenancy::CENTRE_ROLES
                .iter()
                .map(|r| r.as_str())
                .collect();
            ServiceError::invalid(
                "role",
                format!("{role:?} is not a role"),
                Some(all.join(", ")),
            )
        })
}

/// One user as the API shows them.
pub async fn user_view(state: &AppState, id: aisc_model::UserId) -> Result<UserView, ServiceError> {
    state
        .store
        .users()
        .await?
        .into_iter()
        .find(|u| u.id == id)
        .map(user_view_of)
        .ok_or_else(|| ServiceError::NotFound(format!("user {}", id.0)))
}

/// The caller's tokens (or everyone's, for an administrator asking `all=true`), newest first.
pub async fn list_tokens(
    state: &AppState,
    caller: &Caller,
    p: TokenListParams,
) -> Result<Vec<TokenView>, ServiceError> {
    if p.all {
        authorize(caller, Access::Read, Resource::Centre)?;
    }
    let rows = state
        .store
        .tokens((!p.all).then_some(caller.user.id))
        .await?;
    Ok(rows
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            user: t.user,
            label: t.label,
            scope: t.scope,
            created_at: rfc3339(t.created_ms),
            expires_at: t.expires_ms.map(rfc3339),
            revoked_at: t.revoked_ms.map(rfc3339),
        })
        .collect())
}

/// Set a user's password: your own (with the current one, once one is set),
/// or anyone's for an administrator. The user can then log in with it
/// (`aisc login`, the portal).
pub async fn set_password(
    state: &AppState,
    caller: &Caller,
    name: String,
    req: PasswordRequest,
) -> Result<UserView, ServiceError> {
    // Read-only tokens never get here: the extractor refuses them anything but GET.
    if caller.user.name != name {
        authorize(caller, Access::Manage, Resource::Centre)?;
    } else {
        check_current(state, caller, req.current.clone()).await?;
    }
    let id = state
        .store
        .user_id(&name)
        .await
        .or_404(|| format!("user {name}"))?;
    let hash = new_password_hash(req.password).await?;
    let audit = caller.audit(
        "user.password",
        format!("user:{name}"),
        "password set".into(),
    );
    state.store.set_password(id, hash, audit).await?;
    user_view(state, id).await
}

/// Revoke a token: the caller's own, or any for an administrator. Takes effect at once.
pub async fn revoke_token(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<ActionResult, ServiceError> {
    let owner = crate::policy::token_owner_scope(caller);
    let audit = caller.audit("token.revoke", format!("token:{id}"), "revoked".into());
    match state.store.revoke_token(id, owner, now_ms(), audit).await {
        Ok(()) => {
            state.tokens.clear();
            Ok(ActionResult {
                id,
                result: "revoked".into(),
            })
        }
        Err(aisc_store::StoreError::NotFound) => {
            Err(ServiceError::NotFound(format!("live token {id}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Log in with a password; returns a new token.
pub async fn login(
    state: &AppState,
    addr: SocketAddr,
    req: LoginRequest,
) -> Result<IssuedToken, ServiceError> {
    let address = addr.ip().to_string();
    state.logins.check(&req.user, &address)?;
    let life = lifetime_ms("expires", req.expires.as_deref(), LOGIN_TOKEN_DEFAULT)?;
    let scope = scope(req.scope.as_deref())?;
    let label = label(req.label.as_deref(), "login")?;
    let found = state.store.user_for_login(&req.user).await?;
    let hash = found
        .as_ref()
        .and_then(|(_, h)| h.clone())
        .unwrap_or_else(|| auth::DUMMY_HASH.to_string());
    let password = req.password.clone();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let user = match found {
        Some((user, Some(_))) if ok => user,
        _ => {
            state.logins.failed(&req.user, &address);
            tracing::warn!(user = %crate::auth::for_log(&req.user), %address, "failed login");
            return Err(ServiceError::Unauthorized("invalid user name or password"));
        }
    };
    state.logins.succeeded(&req.user);
    let audit = NewAudit {
        at_ms: now_ms(),
        actor: user.name.clone(),
        action: "token.create".into(),
        target: format!("user:{}", user.name),
        summary: format!("logged in with a password; token {label:?} ({scope})"),
        source: address,
    };
    let issued = issue(state, user.id, &user.name, label, scope, life, audit).await?;
    Ok(issued)
}

/// Every user (administrators).
pub async fn list_users(state: &AppState, caller: &Caller) -> Result<Vec<UserView>, ServiceError> {
    authorize(caller, Access::Read, Resource::Centre)?;
    let rows = state.store.users().await?;
    Ok(rows
        .into_iter()
        .map(crate::service::identity::user_view_of)
        .collect())
}

/// Give a user another centre role (administrators). Takes effect at once, on
/// every token of theirs; the last administrator cannot lose the role.
pub async fn set_role(
    state: &AppState,
    caller: &Caller,
    name: String,
    req: RoleRequest,
) -> Result<UserView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    check_role(&req.role)?;
    let id = state
        .store
        .user_id(&name)
        .await
        .or_404(|| format!("user {name}"))?;
    let audit = caller.audit(
        "user.role",
        format!("user:{name}"),
        format!("role set to {}", req.role),
    );
    state.store.set_role(id, req.role.clone(), audit).await?;
    // Cached callers carry the old role: forget them so the new one applies at once.
    state.tokens.clear();
    user_view(state, id).await
}

/// Create a user (administrators).
pub async fn create_user(
    state: &AppState,
    caller: &Caller,
    req: UserRequest,
) -> Result<UserView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    check_user_name(&req.name)?;
    let role = req.role.clone().unwrap_or_else(|| "user".into());
    check_role(&role)?;
    let password_hash = match req.password {
        Some(p) => Some(new_password_hash(p).await?),
        None => None,
    };
    let now = now_ms();
    let has_password = password_hash.is_some();
    let user = NewUser {
        name: req.name.clone(),
        role: role.clone(),
        password_hash,
        created_ms: now,
    };
    let audit = caller.audit(
        "user.create",
        format!("user:{}", req.name),
        format!("created with role {role}"),
    );
    let id = state.store.create_user(user, Some(audit)).await?;
    Ok(UserView {
        id: id.0,
        name: req.name,
        role,
        has_password,
        created_at: rfc3339(now),
        unix_name: None,
    })
}

/// Issues an API token for the caller; a read-only token issues only read-only ones.
pub async fn create_token(
    state: &AppState,
    caller: &Caller,
    req: aisc_api::identity::TokenRequest,
) -> Result<IssuedToken, ServiceError> {
    let life = lifetime_ms("expires", req.expires.as_deref(), TOKEN_DEFAULT)?;
    let scope = scope(req.scope.as_deref())?;
    if caller.user.scope == "read" && scope != "read" {
        return Err(ServiceError::Forbidden(
            "a read-only token can only create read-only tokens".into(),
        ));
    }
    let label = label(req.label.as_deref(), "api")?;
    let audit = caller.audit(
        "token.create",
        format!("user:{}", caller.user.name),
        format!("token {label:?} ({scope})"),
    );
    issue(
        state,
        caller.user.id,
        &caller.user.name,
        label,
        scope,
        life,
        audit,
    )
    .await
}
