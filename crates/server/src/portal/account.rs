//! The signed-in user's own account: who they are, their password, and their
//! sessions and API tokens (each revocable).

use super::forms::{Form, answer, error_box, input};
use super::{Nav, PortalError, Session, page, short};
use crate::AppState;
use crate::api::extract::IdPath;
use crate::api::identity::{PasswordRequest, TokenListParams};
use crate::error::ApiError;
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};

async fn render(
    state: &AppState,
    s: &Session,
    form: &Form,
    error: Option<&ApiError>,
) -> Result<Markup, PortalError> {
    let tokens =
        crate::service::identity::list_tokens(state, &s.caller, TokenListParams::default()).await?;
    let live: Vec<_> = tokens.iter().filter(|t| t.revoked_at.is_none()).collect();
    let blank = Form::default();
    Ok(page(
        s,
        "Your account",
        Nav::Account,
        html! {
            dl class="figures" {
                dt { "User" } dd { (s.caller.user.name) }
                dt { "Role" } dd { (s.caller.user.role) }
                dt { "Projects" } dd {
                    @if s.caller.user.projects.is_empty() { "none" }
                    @for (i, m) in s.caller.user.projects.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href=(format!("/projects/{}", m.name)) { (m.name) } " (" (m.role.as_str()) ")"
                    }
                }
            }
            section aria-labelledby="pw" {
                h2 id="pw" { "Change your password" }
                (error_box(error))
                form method="post" action="/account/password" class="stack" {
                    (s.csrf_field())
                    (input("Current password", "current", "password", &blank, error, "Leave empty if you have none yet."))
                    (input("New password", "password", "password", &blank, error, "12 to 1024 characters."))
                    (input("New password again", "again", "password", &blank, error, ""))
                    button type="submit" { "Change password" }
                }
                @if form.get("done").is_some() { p class="ok" role="status" { "Your password was changed." } }
            }
            section aria-labelledby="tokens" {
                h2 id="tokens" { "Sessions and API tokens" }
                p { "Every place you are signed in, and every token you made with " code { "aisc token create" } ". Revoking one signs it out at once." }
                @if live.is_empty() { p { "None." } } @else {
                    div class="scroll" { table {
                        thead { tr { th scope="col" class="num" { "ID" } th scope="col" { "Label" } th scope="col" { "Scope" } th scope="col" { "Made" } th scope="col" { "Expires" } th scope="col" { "Action" } } }
                        tbody { @for t in &live { tr data-token=(t.id) {
                            td class="num" { (t.id) } td { (t.label) } td { (t.scope) } td { (short(&t.created_at)) }
                            td { (t.expires_at.as_deref().map(short).unwrap_or_else(|| "never".into())) }
                            td {
                                @if s.is_this_session(t.id) { "this session" } @else {
                                    form method="post" action=(format!("/account/tokens/{}/revoke", t.id)) class="inline" {
                                        (s.csrf_field())
                                        button type="submit" class="danger" aria-label=(format!("Revoke token {} ({})", t.id, t.label)) { "Revoke" }
                                    }
                                }
                            }
                        } } }
                    } }
                }
            }
        },
    ))
}

/// `GET /account`.
pub async fn show(
    State(state): State<AppState>,
    s: Session,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Markup, PortalError> {
    let form = Form(q.into_iter().filter(|(k, _)| k == "done").collect());
    render(&state, &s, &form, None).await
}

/// `POST /account/password`: the API's password change for oneself (the current password is checked there).
pub async fn password(
    State(state): State<AppState>,
    s: Session,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let new = form.get("password").unwrap_or_default().to_string();
    let res = if form.get("again") != Some(new.as_str()) {
        Err(ApiError::invalid(
            "again",
            "the two new passwords differ",
            None,
        ))
    } else {
        let req = PasswordRequest {
            password: new,
            current: form
                .get("current")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        };
        let me = s.caller.user.name.clone();
        crate::service::identity::set_password(&state, &s.caller, me, req)
            .await
            .map_err(ApiError::from)
            .map(|_| "/account?done=1#pw".to_string())
    };
    answer(res, async |e| {
        render(&state, &s, &Form::default(), Some(e)).await
    })
    .await
}

/// `POST /account/tokens/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    s: Session,
    IdPath(id): IdPath,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let res = crate::service::identity::revoke_token(&state, &s.caller, id)
        .await
        .map_err(ApiError::from)
        .map(|_| "/account#tokens".to_string());
    answer(res, async |e| {
        render(&state, &s, &Form::default(), Some(e)).await
    })
    .await
}
