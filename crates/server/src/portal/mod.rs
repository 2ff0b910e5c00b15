//! The web portal: server-rendered HTML at `/` for every role.
//!
//! Each page calls the same handler the JSON API calls, as the signed-in
//! user: authorisation, validation and audit are decided once, in `api` and
//! `policy`, and the portal only renders. The core flows are plain HTML forms
//! and work without JavaScript; `/static/portal.js` only follows live logs.
//!
//! Sessions: a password login issues an ordinary API token (8 hours, labelled
//! `portal session`, stored hashed like every token) and puts it in an
//! HttpOnly, SameSite=Strict cookie (Secure when served over https). Every
//! form carries a CSRF token derived from the session; logout revokes it.

mod account;
mod admin;
mod applications;
mod charts;
mod dashboard;
mod forms;
mod jobs;
mod projects;
mod session;

use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, PreEscaped, html};
pub use session::Session;

/// Content-Security-Policy of every answer: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The portal's routes (merged with the API's).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::show))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/static/portal.css", get(css))
        .route("/static/portal.js", get(js))
        .route("/jobs", get(jobs::list))
        .route("/jobs/new", get(jobs::new_page).post(jobs::submit))
        .route("/jobs/{id}", get(jobs::show))
        .route("/jobs/{id}/log", get(jobs::log_chunk))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/jobs/{id}/hold", post(jobs::hold))
        .route("/jobs/{id}/requeue", post(jobs::requeue))
        .route("/jobs/{id}/release", post(jobs::release))
        .route("/jobs/{id}/update", post(jobs::update))
        .route("/projects", get(projects::list))
        .route("/projects/{name}", get(projects::show))
        .route("/projects/{name}/members", post(projects::add_member))
        .route("/projects/{name}/statement", get(projects::statement))
        .route("/applications", get(applications::list))
        .route(
            "/applications/new",
            get(applications::new_page).post(applications::apply),
        )
        .route("/applications/{id}", get(applications::show))
        .route("/applications/{id}/review", post(applications::review))
        .route("/applications/{id}/decision", post(applications::decide))
        .route("/admin", get(admin::show))
        .route("/admin/{form}", post(admin::submit))
        .route("/admin/nodes/{name}/{action}", post(admin::node_action))
        .route("/audit", get(admin::audit))
        .route("/account", get(account::show))
        .route("/account/password", post(account::password))
        .route("/account/tokens/{id}/revoke", post(account::revoke))
}

/// Security headers on every answer, the API's included; HSTS when users reach the server over https.
pub async fn security_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if state.public_https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

async fn css() -> Response {
    static_file("text/css; charset=utf-8", include_str!("static/portal.css"))
}

async fn js() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("static/portal.js"),
    )
}

fn static_file(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// Why a portal page could not be shown.
#[derive(Debug)]
pub enum PortalError {
    /// Not signed in (or the session ended): go to the login page, then back here.
    Login(String),
    /// The API's answer.
    Api(ApiError),
    /// A form without the session's CSRF token.
    Csrf,
}

impl From<ApiError> for PortalError {
    fn from(e: ApiError) -> Self {
        PortalError::Api(e)
    }
}

impl From<crate::service::ServiceError> for PortalError {
    fn from(e: crate::service::ServiceError) -> Self {
        PortalError::Api(e.into())
    }
}

impl From<aisc_store::StoreError> for PortalError {
    fn from(e: aisc_store::StoreError) -> Self {
        PortalError::Api(e.into())
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match self {
            PortalError::Login(next) => {
                let to = format!("/login?next={}", forms::encode(&next));
                return Redirect::to(&to).into_response();
            }
            PortalError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent from your current session. Go back, reload the page and try again."
                    .to_string(),
            ),
            PortalError::Api(ApiError::TooManyRequests { detail, retry_after_s }) => {
                let body = bare(
                    "Too many requests",
                    html! {
                        h1 { "Too many requests" }
                        p role="alert" { (detail) ". Try again in " (retry_after_s) " s." }
                    },
                );
                let wait = HeaderValue::from(retry_after_s);
                return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, wait)], body)
                    .into_response();
            }
            PortalError::Api(e) => {
                let status = e.status();
                if let ApiError::Internal(cause) = &e {
                    tracing::error!(error = %cause, "portal page failed");
                }
                let title = match status {
                    StatusCode::NOT_FOUND => "Not found",
                    StatusCode::FORBIDDEN => "Not allowed",
                    StatusCode::TOO_MANY_REQUESTS => "Too many requests",
                    s if s.is_server_error() => "Something went wrong",
                    _ => "Refused",
                };
                (status, title, forms::message(&e))
            }
        };
        let body = bare(
            title,
            html! {
                h1 { (title) }
                p role="alert" { (detail) }
                p { a href="/" { "Back to the dashboard" } }
            },
        );
        (status, body).into_response()
    }
}

/// A page's place in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The dashboard.
    Dashboard,
    /// Jobs.
    Jobs,
    /// Projects and grants.
    Projects,
    /// Applications.
    Applications,
    /// Administration.
    Admin,
    /// The audit trail.
    Audit,
    /// The user's own account.
    Account,
}

fn head(title: &str) -> Markup {
    html! {
        (DOCTYPE)
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · aisc" }
        link rel="stylesheet" href="/static/portal.css";
        script src="/static/portal.js" defer {}
    }
}

/// A page without navigation (login, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        html lang="en" {
            (head(title))
            body {
                main id="main" class="narrow" { (body) }
            }
        }
    }
}

/// A signed-in page: navigation for the user's role, then `body`.
pub fn page(s: &Session, title: &str, nav: Nav, body: Markup) -> Markup {
    use crate::policy::{Access, Resource, allows};
    // What the navigation offers is what policy allows.
    let centre = allows(&s.caller, Access::Read, Resource::Centre);
    let reviewer = crate::policy::reviews(&s.caller);
    let link = |n: Nav, href: &str, text: &str| {
        html! {
            li { a href=(href) aria-current=[(n == nav).then_some("page")] { (text) } }
        }
    };
    html! {
        html lang="en" {
            (head(title))
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/" { "aisc" }
                    nav aria-label="Main" {
                        ul {
                            (link(Nav::Dashboard, "/", "Dashboard"))
                            (link(Nav::Jobs, "/jobs", "Jobs"))
                            (link(Nav::Projects, "/projects", "Projects"))
                            (link(Nav::Applications, "/applications", if reviewer { "Reviews" } else { "Applications" }))
                            @if centre { (link(Nav::Admin, "/admin", "Admin")) }
                            @if centre { (link(Nav::Audit, "/audit", "Audit")) }
                        }
                    }
                    form class="who" method="post" action="/logout" {
                        a href="/account" aria-current=[(nav == Nav::Account).then_some("page")] { (s.caller.user.name) " (" (s.caller.user.role) ")" }
                        input type="hidden" name="_csrf" value=(s.csrf);
                        button type="submit" { "Log out" }
                    }
                }
                @if !s.ending_soon.is_empty() {
                    div class="banner" role="status" {
                        @for (job, minutes) in &s.ending_soon {
                            p {
                                a href=(format!("/jobs/{job}")) { "Interactive job " (job) }
                                " reaches its time limit in " (minutes) (if *minutes == 1 { " minute" } else { " minutes" })
                                ": save your work."
                            }
                        }
                    }
                }
                main id="main" { h1 { (title) } (body) }
                footer class="foot" { p { "Times are Hong Kong time (UTC+8). Money is in HK$." } }
            }
        }
    }
}

/// Trusted SVG made by [`charts`] (never user text unescaped: labels are escaped there).
fn svg(text: String) -> Markup {
    PreEscaped(text)
}

/// Epoch ms of an RFC 3339 time as the API writes it.
fn epoch_ms(t: &str) -> Option<i64> {
    let at = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A time as the centre reads it, in Hong Kong: `2026-11-24 09:30`.
pub fn short(t: &str) -> String {
    epoch_ms(t)
        .map(aisc_model::calendar::format_minute)
        .unwrap_or_default()
}

/// The Hong Kong date of a time: `2026-11-24`.
pub fn day(t: &str) -> String {
    epoch_ms(t)
        .map(aisc_model::calendar::format_date)
        .unwrap_or_default()
}

/// A redirect after a successful form (303: the browser follows with GET).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}
