//! Identity: the use cases the portal and the API share.

use super::{Found, ServiceError};
use crate::AppState;
use crate::api::identity::*;
use crate::api::types::{ActionResult, rfc3339};
use crate::auth::{self, Caller};
use crate::clock::now_ms;
use crate::policy::{Access, Resource, authorize};
use aisc_api::identity::{
    IssuedToken, LoginRequest, PasswordRequest, RoleRequest, TokenListParams, TokenView,
    UserRequest, UserView,
};
use aisc_store::{NewAudit, NewUser};
use std::net::SocketAddr;

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
    Ok(user_view(state, id).await?.0)
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
        .map(crate::api::identity::user_view_of)
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
    Ok(user_view(state, id).await?.0)
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
    Ok(issue(
        state,
        caller.user.id,
        &caller.user.name,
        label,
        scope,
        life,
        audit,
    )
    .await?)
}
