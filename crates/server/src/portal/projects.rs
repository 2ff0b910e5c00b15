//! Projects and grants: members, grants with used / held / remaining, usage by
//! month, and monthly statements (view and CSV download).

use super::forms::{Form, answer, error_box, input, select};
use super::{Nav, PortalError, Session, charts, day, page, short, svg};
use crate::AppState;
use crate::api::statements::Statement;
use crate::api::tenancy::MemberRequest;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::policy::{Access, Resource, authorize};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

/// `GET /projects`.
pub async fn list(State(state): State<AppState>, s: Session) -> Result<Markup, PortalError> {
    let projects = crate::service::tenancy::list_projects(&state, &s.caller).await?;
    Ok(page(
        &s,
        "Projects",
        Nav::Projects,
        html! {
            @if projects.is_empty() { p { "You belong to no project yet. A project's PI adds members; a PI applies for grants." } } @else {
                table {
                    thead { tr { th scope="col" { "Project" } th scope="col" { "Title" } th scope="col" { "Organisation" } th scope="col" { "Since" } } }
                    tbody { @for p in &projects { tr {
                        td { a href=(format!("/projects/{}", p.name)) { (p.name) } } td { (p.title) } td { (p.org) } td { (short(&p.created_at)) }
                    } } }
                }
            }
        },
    ))
}

async fn render(
    state: &AppState,
    s: &Session,
    name: &str,
    form: &Form,
    error: Option<&ApiError>,
) -> Result<Markup, PortalError> {
    let detail = crate::service::tenancy::show_project(state, &s.caller, name.to_string()).await?;
    let grants: Vec<_> = crate::service::grants::list_grants(state, &s.caller)
        .await?
        .into_iter()
        .filter(|g| g.project == name)
        .collect();
    let project_id = aisc_model::ProjectId(detail.project.id);
    let months = state.store.monthly_usage(project_id).await?;
    let labels: Vec<String> = months.iter().map(|(m, _, _)| m.clone()).collect();
    let hours: Vec<f64> = months
        .iter()
        .map(|(_, ms, _)| *ms as f64 / 3_600_000.0)
        .collect();
    let chart = charts::bars(
        &format!("{name}: GPU-hours by month"),
        "month (Hong Kong)",
        "GPU-hours",
        &labels,
        &hours,
        0.0,
    );
    let this_month = aisc_model::calendar::format_date(now_ms())
        .get(..7)
        .unwrap_or_default()
        .to_string();
    let row = state.store.project(name).await?;
    let manage = authorize(
        &s.caller,
        Access::Manage,
        Resource::Project {
            name,
            id: row.id,
            org: row.org,
        },
    )
    .is_ok();
    let roles = [("member", "member"), ("pi", "PI")].map(|(v, t)| (v.to_string(), t.to_string()));
    Ok(page(
        s,
        &format!("Project {name}"),
        Nav::Projects,
        html! {
            p { (detail.project.title) " · " (detail.project.org) }
            section aria-labelledby="grants" {
                h2 id="grants" { "Grants" }
                @if grants.is_empty() { p { "No grants yet. " a href="/applications/new" { "Apply for one" } "." } } @else {
                    div class="scroll" { table {
                        thead { tr {
                            th scope="col" class="num" { "Grant" } th scope="col" { "Scheme" } th scope="col" { "Class" } th scope="col" class="num" { "GPU-hours" }
                            th scope="col" { "Subsidy" } th scope="col" { "Period" } th scope="col" class="num" { "Amount" } th scope="col" class="num" { "Used" }
                            th scope="col" class="num" { "Held" } th scope="col" class="num" { "Remaining" }
                        } }
                        tbody { @for g in &grants { tr data-grant=(g.id) {
                            td class="num" { (g.id) } td { (g.scheme) } td { (g.class) } td class="num" { (g.gpu_hours) }
                            td { (g.rate) } td { (day(&g.starts_at)) " until " (day(&g.ends_at)) }
                            td class="num" { (g.amount) } td class="num" data-field="used" { (g.used) } td class="num" data-field="held" { (g.held) }
                            td class="num" data-field="remaining" { (g.remaining) }
                        } } }
                    } }
                }
            }
            section aria-labelledby="usage" {
                h2 id="usage" { "Usage by month" }
                @if months.is_empty() { p { "No finished jobs yet." } } @else {
                    figure { (svg(chart)) figcaption { "GPU-hours of the project's finished jobs, by the month they ended." } }
                    details { summary { "Data" } table {
                        thead { tr { th scope="col" { "Month" } th scope="col" class="num" { "GPU-hours" } th scope="col" class="num" { "Jobs" } } }
                        tbody { @for (m, ms, n) in &months { tr { td { (m) } td class="num" { (format!("{:.2}", *ms as f64 / 3_600_000.0)) } td class="num" { (n) } } } }
                    } }
                }
            }
            section aria-labelledby="statements" {
                h2 id="statements" { "Statements" }
                form method="get" action=(format!("/projects/{name}/statement")) class="filters" {
                    div class="field" { label for="f-month" { "Month" } input id="f-month" name="month" type="month" value=(this_month) required; }
                    button type="submit" { "View statement" }
                }
            }
            section aria-labelledby="members" {
                h2 id="members" { "Members" }
                ul { @for m in &detail.members { li { (m.user) " (" (m.role) ")" } } }
                @if manage {
                    h3 { "Add a member" }
                    (error_box(error))
                    form method="post" action=(format!("/projects/{name}/members")) class="filters" {
                        (s.csrf_field())
                        (input("User name", "user", "text", form, error, ""))
                        (select("Role", "role", &roles, form))
                        button type="submit" { "Add" }
                    }
                }
            }
        },
    ))
}

/// `GET /projects/{name}`.
pub async fn show(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
) -> Result<Markup, PortalError> {
    render(&state, &s, &name, &Form::default(), None).await
}

/// `POST /projects/{name}/members`.
pub async fn add_member(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let user = form.text("user").unwrap_or_default();
    let res = crate::service::tenancy::set_member(
        &state,
        &s.caller,
        (name.clone(), user),
        MemberRequest {
            role: form.text("role"),
        },
    )
    .await
    .map_err(ApiError::from);
    let res = res.map(|_| format!("/projects/{name}#members"));
    answer(res, async |e| {
        render(&state, &s, &name, &form, Some(e)).await
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct StatementQuery {
    month: String,
    format: Option<String>,
}

/// `GET /projects/{name}/statement?month=YYYY-MM[&format=csv]`.
pub async fn statement(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
    Query(q): Query<StatementQuery>,
) -> Result<Response, PortalError> {
    let csv = q.format.as_deref() == Some("csv");
    let data = crate::service::statements::statement(&state, &s.caller, &name, &q.month).await?;
    if csv {
        let mut res = crate::api::statements::to_csv(&data).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        let file = format!("attachment; filename=\"statement-{name}-{}.csv\"", q.month);
        if let Ok(v) = HeaderValue::from_str(&file) {
            res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        return Ok(res);
    }
    let st: Statement = crate::api::statements::to_view(data);
    Ok(page(
        &s,
        &format!("Statement: {name}, {}", st.month),
        Nav::Projects,
        html! {
            p { a href=(format!("/projects/{name}")) { "Back to " (name) } " · "
                a href=(format!("/projects/{name}/statement?month={}&format=csv", st.month)) download { "Download CSV" } }
            dl class="figures" {
                dt { "GPU-hours" } dd { (format!("{:.2}", st.gpu_seconds / 3600.0)) }
                dt { "Charged at list price" } dd { (st.charge) }
                dt { "Paid by the scheme" } dd data-field="subsidy-total" { (st.subsidy) }
                dt { "Owed by the project" } dd data-field="tenant-total" { (st.tenant) }
            }
            @if st.lines.is_empty() { p { "No charges this month." } } @else {
                div class="scroll" { table {
                    thead { tr {
                        th scope="col" class="num" { "Job" } th scope="col" { "Name" } th scope="col" class="num" { "Grant" } th scope="col" { "Charged" }
                        th scope="col" class="num" { "GPU-hours" } th scope="col" class="num" { "Price / GPU-hour" } th scope="col" class="num" { "Charge" }
                        th scope="col" class="num" { "Subsidy" } th scope="col" class="num" { "Project pays" }
                    } }
                    tbody { @for l in &st.lines { tr {
                        td class="num" { a href=(format!("/jobs/{}", l.job)) { (l.job) } } td { (l.name) } td class="num" { (l.grant) } td { (short(&l.charged_at)) }
                        td class="num" { (format!("{:.3}", l.gpu_seconds / 3600.0)) } td class="num" { (l.price_per_gpu_hour) } td class="num" { (l.charge) }
                        td class="num" { (l.subsidy) } td class="num" { (l.tenant) }
                    } } }
                } }
            }
        },
    )
    .into_response())
}
