//! Portal sessions: login, logout, the session cookie and CSRF tokens.

use super::forms::{Form, encode};
use super::{PortalError, bare, see_other};
use crate::AppState;
use crate::api::identity::LoginRequest;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use maud::{Markup, html};
use rand::Rng as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

/// The session cookie's name.
pub const COOKIE: &str = "aisc_session";
/// The login form's CSRF cookie (before there is a session).
const LOGIN_COOKIE: &str = "aisc_login";
/// How long a portal session lasts.
pub const SESSION_LIFETIME: &str = "8h";
const SESSION_SECONDS: i64 = 8 * 3600;

/// A signed-in portal user.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user, exactly as the API sees them.
    pub caller: Caller,
    /// This session's CSRF token (in every form).
    pub csrf: String,
    /// The session's token id (revoked at logout).
    token_id: i64,
    /// The user's interactive jobs within 15 minutes of their time limit,
    /// with the minutes left (the banner on every page).
    pub ending_soon: Vec<(aisc_model::JobId, i64)>,
}

/// How long before an interactive job's time limit its user's pages say so.
pub const ENDING_SOON_MS: i64 = 15 * 60 * 1000;

/// The CSRF token of a session: a hash of its secret, so a page never shows the secret.
fn csrf_of(secret: &str) -> String {
    hex::encode(Sha256::digest(format!("aisc-csrf:{secret}").as_bytes()))
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse_encoded)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// Whether the request came over https (directly or through a proxy that says so).
fn secure(headers: &HeaderMap, state: &AppState) -> bool {
    state.public_https
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes() == b"https")
}

fn set_cookie(name: &str, value: String, max_age_s: i64, secure: bool) -> HeaderValue {
    let c = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_s))
        .build();
    HeaderValue::from_str(&c.encoded().to_string()).unwrap_or(HeaderValue::from_static(""))
}

impl FromRequestParts<AppState> for Session {
    type Rejection = PortalError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let here = parts
            .uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        // A form's answer goes back to the page it came from, not to the POST target.
        let next = if parts.method == Method::GET {
            here
        } else {
            "/".to_string()
        };
        let raw = cookie_value(&parts.headers, COOKIE).ok_or(PortalError::Login(next.clone()))?;
        let (id, secret) = raw
            .split_once(':')
            .and_then(|(id, s)| Some((id.parse::<i64>().ok()?, s)))
            .ok_or(PortalError::Login(next.clone()))?;
        // The same check as an API bearer token, so revocation and expiry apply alike.
        parts.headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {secret}"))
                .map_err(|_| PortalError::Login(next.clone()))?,
        );
        let caller = Caller::from_request_parts(parts, state)
            .await
            .map_err(|e| match e {
                ApiError::Unauthorized(_) => PortalError::Login(next.clone()),
                other => PortalError::Api(other),
            })?;
        parts.headers.remove(header::AUTHORIZATION);
        let csrf = csrf_of(secret);
        if parts.method != Method::GET && parts.method != Method::HEAD {
            // Forms only from this site (SameSite=Strict already keeps the cookie off others' requests).
            if let Some(site) = parts.headers.get("sec-fetch-site")
                && !matches!(site.as_bytes(), b"same-origin" | b"none")
            {
                return Err(PortalError::Csrf);
            }
        }
        // From the relay's memory: no query per page.
        let ending_soon =
            state
                .relay
                .ending_soon(caller.user.id, crate::clock::now_ms(), ENDING_SOON_MS);
        Ok(Session {
            caller,
            csrf,
            token_id: id,
            ending_soon,
        })
    }
}

impl Session {
    /// Refuses a form that does not carry this session's CSRF token.
    pub fn check(&self, form: &Form) -> Result<(), PortalError> {
        match form.get("_csrf") {
            Some(t) if crate::auth::same(t, &self.csrf) => Ok(()),
            _ => Err(PortalError::Csrf),
        }
    }

    /// Whether `token` is the one behind this session.
    pub fn is_this_session(&self, token: i64) -> bool {
        token == self.token_id
    }

    /// The hidden CSRF field of a form.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="_csrf" value=(self.csrf); }
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginParams {
    next: Option<String>,
}

/// Only a same-site path made of URL-safe characters is followed after
/// login: it starts with one `/` (not `//` or `/` then a backslash), and holds only letters,
/// digits and `-._~!$&'()*+,;=:@/?%` (no whitespace, control character or
/// backslash, which browsers drop or read as `/`); anything else goes to `/`.
/// So no open redirect, and nothing a header cannot carry.
fn safe_next(next: Option<&str>) -> String {
    let safe = |n: &str| {
        n.len() <= 2048
            && n.starts_with('/')
            && !n[1..].starts_with(['/', '\\'])
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b))
    };
    match next {
        Some(n) if safe(n) => n.to_string(),
        _ => "/".to_string(),
    }
}

fn login_form(next: &str, csrf: &str, user: &str, error: Option<&str>) -> Markup {
    bare(
        "Log in",
        html! {
            h1 { "aisc" }
            p { "The AI supercomputing centre's portal. Log in with your aisc account." }
            @if let Some(e) = error { p class="error" role="alert" { (e) } }
            form method="post" action="/login" class="stack" {
                input type="hidden" name="_csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label for="user" { "User name" }
                input id="user" name="user" type="text" autocomplete="username" required value=(user) autofocus;
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" { "Log in" }
            }
            p class="hint" { "No password yet? An administrator sets one with " code { "aisc user set-password NAME" } "; you can change your own the same way." }
        },
    )
}

/// `GET /login`.
pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<LoginParams>,
) -> Response {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let csrf = hex::encode(bytes);
    let next = safe_next(p.next.as_deref());
    let cookie = set_cookie(LOGIN_COOKIE, csrf.clone(), 3600, secure(&headers, &state));
    (
        [(header::SET_COOKIE, cookie)],
        login_form(&next, &csrf, "", None),
    )
        .into_response()
}

/// `POST /login`: checks the password exactly as `POST /api/v1/login` does (same limits, same audit).
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Form,
) -> Response {
    let next = safe_next(form.get("next"));
    let user = form.get("user").unwrap_or_default().to_string();
    let csrf = cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
    let again = |status: StatusCode, msg: &str| {
        (status, login_form(&next, &csrf, &user, Some(msg))).into_response()
    };
    if csrf.is_empty()
        || !form
            .get("_csrf")
            .is_some_and(|t| crate::auth::same(t, &csrf))
    {
        return again(
            StatusCode::FORBIDDEN,
            "This login form has expired. Please try again.",
        );
    }
    let req = LoginRequest {
        user: user.clone(),
        password: form.get("password").unwrap_or_default().to_string(),
        label: Some("portal session".into()),
        expires: Some(SESSION_LIFETIME.into()),
        scope: None,
    };
    match crate::service::identity::login(&state, addr, req)
        .await
        .map_err(ApiError::from)
    {
        Ok(issued) => {
            let value = format!("{}:{}", issued.id, issued.token);
            let secure = secure(&headers, &state);
            let mut res = see_other(&next);
            let h = res.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(COOKIE, value, SESSION_SECONDS, secure),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(LOGIN_COOKIE, String::new(), 0, secure),
            );
            res
        }
        Err(e) => again(e.status(), &super::forms::message(&e)),
    }
}

/// `POST /logout`: revokes the session's token and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Session,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let _revoked = crate::service::identity::revoke_token(&state, &s.caller, s.token_id).await?;
    let mut res = see_other(&format!("/login?next={}", encode("/")));
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(COOKIE, String::new(), 0, secure(&headers, &state)),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/jobs/4")), "/jobs/4");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "jobs",
            "/\t/evil.example/",
            "/\n/x",
            "/%0A/x\r\n",
            "/ /evil.example",
            "/jobs#\u{202e}",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_hide_the_secret() {
        let (a, b) = (csrf_of("aisc_one"), csrf_of("aisc_two"));
        assert_ne!(a, b);
        assert!(!a.contains("one"));
        assert!(crate::auth::same(&a, &csrf_of("aisc_one")));
        assert!(!crate::auth::same(&a, &b));
        assert!(!crate::auth::same(&a, &a[1..]));
    }
}
