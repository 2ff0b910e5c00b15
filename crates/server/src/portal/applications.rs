//! Applications for compute: the apply form with a justification per
//! criterion, the reviewer's scoring form, and the committee's decision.

use super::forms::{Form, answer, error_box, input, select};
use super::{Nav, PortalError, Session, day, page};
use crate::AppState;
use crate::api::applications::{ApplicationRequest, DecisionRequest, ReviewRequest};
use crate::api::extract::IdPath;
use crate::error::ApiError;
use crate::service::applications as service;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `GET /applications`.
pub async fn list(State(state): State<AppState>, s: Session) -> Result<Markup, PortalError> {
    let apps = service::list(&state, &s.caller).await?;
    let reviewer = crate::policy::reviews(&s.caller);
    Ok(page(
        &s,
        if reviewer {
            "Applications to review"
        } else {
            "Applications"
        },
        Nav::Applications,
        html! {
            @if !reviewer { p { a class="button" href="/applications/new" { "Apply for compute" } } }
            @if apps.is_empty() { p { "No applications yet." } } @else {
                div class="scroll" { table {
                    thead { tr {
                        th scope="col" class="num" { "ID" } th scope="col" { "Project" } th scope="col" { "Scheme" } th scope="col" { "Class" }
                        th scope="col" class="num" { "GPU-hours" } th scope="col" { "State" } th scope="col" class="num" { "Reviews" } th scope="col" class="num" { "Mean score" }
                    } }
                    tbody { @for a in &apps { tr {
                        td class="num" { a href=(format!("/applications/{}", a.id)) { (a.id) } }
                        td { (a.project) } td { (a.scheme) } td { (a.class) } td class="num" { (a.gpu_hours) }
                        td { span class=(format!("badge a-{}", a.state)) { (a.state) } } td class="num" { (a.reviews.len()) }
                        td class="num" { (a.mean_score.clone().unwrap_or_else(|| "-".into())) }
                    } } }
                } }
            }
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    scheme: Option<String>,
    project: Option<String>,
}

async fn apply_form(
    state: &AppState,
    s: &Session,
    form: &Form,
    error: Option<&ApiError>,
) -> Result<Markup, PortalError> {
    let all = crate::service::schemes::list(state, &s.caller).await?;
    let open: Vec<_> = all.into_iter().filter(|v| v.open).collect();
    let chosen = form
        .get("scheme")
        .and_then(|n| open.iter().find(|v| v.name == n))
        .or(open.first());
    let projects = crate::service::tenancy::list_projects(state, &s.caller).await?;
    let classes = crate::service::inventory::list_classes(state, &s.caller).await?;
    let opt = |v: &str, t: String| (v.to_string(), t);
    let scheme_opts: Vec<_> = open
        .iter()
        .map(|v| opt(&v.name, format!("{} ({})", v.title, v.name)))
        .collect();
    let project_opts: Vec<_> = projects
        .iter()
        .map(|p| opt(&p.name, p.name.clone()))
        .collect();
    let class_opts: Vec<_> = classes
        .iter()
        .map(|c| {
            opt(
                &c.name,
                format!(
                    "{} ({}, {})",
                    c.name,
                    c.gpu_model,
                    c.price_per_gpu_hour
                        .clone()
                        .unwrap_or_else(|| "no price".into())
                ),
            )
        })
        .collect();
    let mut values = form.clone();
    if let Some(c) = chosen {
        values.0.retain(|(k, _)| k != "scheme");
        values.0.push(("scheme".into(), c.name.clone()));
    }
    Ok(page(
        s,
        "Apply for compute",
        Nav::Applications,
        html! {
            @if open.is_empty() { p { "No scheme is open for applications now." } } @else {
                form method="get" action="/applications/new" class="filters" aria-label="Choose a scheme" {
                    (select("Scheme", "scheme", &scheme_opts, &values))
                    button type="submit" { "Show its criteria" }
                }
                @if let Some(sc) = chosen {
                    p { "Subsidy: " (sc.default_rate) " by default, at most " (sc.max_rate) ". Reviewers score each criterion from 0 to 10; the weights are shown." }
                    (error_box(error))
                    form method="post" action="/applications/new" class="stack" {
                        (s.csrf_field())
                        input type="hidden" name="scheme" value=(sc.name);
                        (select("Project", "project", &project_opts, &values))
                        (select("Resource class", "class", &class_opts, &values))
                        (input("GPU-hours", "gpu_hours", "number", &values, error, "How many GPU-hours of the class over the period."))
                        (input("Starts", "starts", "date", &values, error, "First day (YYYY-MM-DD)."))
                        (input("Ends", "ends", "date", &values, error, "Day after the last (YYYY-MM-DD)."))
                        fieldset {
                            legend { "Justification, per criterion" }
                            @for c in &sc.criteria {
                                @let name = format!("j_{}", c.name);
                                @let invalid = super::forms::field_of(error).is_some_and(|f| f.contains(&c.name) || f == "justification");
                                div class="field" {
                                    label for=(format!("f-{name}")) { (c.name) " (weight " (c.weight) " %)" }
                                    textarea id=(format!("f-{name}")) name=(name) rows="4" required aria-invalid=[invalid.then_some("true")] { (values.get(&name).unwrap_or_default()) }
                                }
                            }
                        }
                        button type="submit" { "Submit application" }
                    }
                }
            }
        },
    ))
}

/// `GET /applications/new`.
pub async fn new_page(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<NewQuery>,
) -> Result<Markup, PortalError> {
    let mut form = Form::default();
    form.0.extend(q.scheme.map(|v| ("scheme".to_string(), v)));
    form.0.extend(q.project.map(|v| ("project".to_string(), v)));
    apply_form(&state, &s, &form, None).await
}

/// `POST /applications/new`.
pub async fn apply(
    State(state): State<AppState>,
    s: Session,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let gpu_hours = form.text("gpu_hours").unwrap_or_default();
    let req = gpu_hours
        .parse::<i64>()
        .map_err(|_| {
            ApiError::invalid(
                "gpu_hours",
                format!("{gpu_hours:?} is not a whole number of GPU-hours"),
                None,
            )
        })
        .map(|gpu_hours| ApplicationRequest {
            project: form.text("project").unwrap_or_default(),
            scheme: form.text("scheme").unwrap_or_default(),
            class: form.text("class").unwrap_or_default(),
            gpu_hours,
            starts: form.text("starts").unwrap_or_default(),
            ends: form.text("ends").unwrap_or_default(),
            justification: form
                .with_prefix("j_")
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect::<BTreeMap<_, _>>(),
        });
    let res = match req {
        Ok(req) => service::apply(&state, &s.caller, req)
            .await
            .map(|a| format!("/applications/{}", a.id))
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    answer(res, async |e| apply_form(&state, &s, &form, Some(e)).await).await
}

async fn render(
    state: &AppState,
    s: &Session,
    id: i64,
    form: &Form,
    error: Option<&ApiError>,
) -> Result<Markup, PortalError> {
    let a = service::show(state, &s.caller, id).await?;
    let scheme = crate::service::schemes::show(state, &s.caller, a.scheme.clone()).await?;
    let reviewer = crate::policy::reviews(&s.caller);
    let reviewed = a.reviews.iter().any(|r| r.reviewer == s.caller.user.name);
    let decidable = a.state == "submitted";
    // The same rule the API applies when a review is sent; here it only spares the form.
    let conflict = reviewer
        && crate::policy::may_review(&s.caller, state.store.project(&a.project).await?.org)
            .is_err();
    let choice =
        [("approve", "Approve"), ("reject", "Reject")].map(|(v, t)| (v.to_string(), t.to_string()));
    Ok(page(
        s,
        &format!("Application {id}"),
        Nav::Applications,
        html! {
            p class="status" { "State: " span class=(format!("badge a-{}", a.state)) { (a.state) } @if let Some(d) = &a.decision { " — " (d) } }
            dl class="figures" {
                dt { "Project" } dd { (a.project) }
                dt { "Scheme" } dd { (scheme.title) " (" (a.scheme) ")" }
                dt { "Class" } dd { (a.class) }
                dt { "GPU-hours" } dd { (a.gpu_hours) }
                dt { "Period" } dd { (day(&a.starts_at)) " until " (day(&a.ends_at)) }
                dt { "Applicant" } dd { (a.applicant) }
                dt { "Mean score" } dd { (a.mean_score.clone().unwrap_or_else(|| "not reviewed yet".into())) }
            }
            section aria-labelledby="just" {
                h2 id="just" { "Justification" }
                @for c in &scheme.criteria {
                    h3 { (c.name) " (weight " (c.weight) " %)" }
                    p class="prose" { (a.justification.get(&c.name).cloned().unwrap_or_default()) }
                }
            }
            section aria-labelledby="reviews" {
                h2 id="reviews" { "Reviews" }
                @if a.reviews.is_empty() { p { "None yet." } } @else {
                    table {
                        thead { tr { th scope="col" { "Reviewer" } @for c in &scheme.criteria { th scope="col" class="num" { (c.name) } } th scope="col" class="num" { "Weighted" } th scope="col" { "Comment" } } }
                        tbody { @for r in &a.reviews { tr {
                            td { (r.reviewer) } @for c in &scheme.criteria { td class="num" { (r.scores.get(&c.name).map(u32::to_string).unwrap_or_default()) } }
                            td class="num" { (r.weighted) } td { (r.comment) }
                        } } }
                    }
                }
            }
            (error_box(error))
            @if reviewer && decidable && !reviewed && conflict {
                p class="error" role="note" data-conflict { "You cannot review this application: you belong to the applicant's organisation (conflict of interest)." }
            }
            @if reviewer && decidable && !reviewed && !conflict {
                section aria-labelledby="score" {
                    h2 id="score" { "Your review" }
                    form method="post" action=(format!("/applications/{id}/review")) class="stack" {
                        (s.csrf_field())
                        @for c in &scheme.criteria {
                            (input(&format!("{} (0 to 10, weight {} %)", c.name, c.weight), &format!("s_{}", c.name), "number", form, error, ""))
                        }
                        div class="field" {
                            label for="f-comment" { "Comment" }
                            textarea id="f-comment" name="comment" rows="3" { (form.get("comment").unwrap_or_default()) }
                        }
                        button type="submit" { "Submit review" }
                    }
                }
            }
            @if crate::policy::allows(&s.caller, crate::policy::Access::Manage, crate::policy::Resource::Centre) && decidable {
                section aria-labelledby="decide" {
                    h2 id="decide" { "Committee decision" }
                    form method="post" action=(format!("/applications/{id}/decision")) class="stack" {
                        (s.csrf_field())
                        (select("Decision", "decision", &choice, form))
                        (input("GPU-hours granted", "gpu_hours", "number", form, error, "Leave blank to grant all that was asked for."))
                        (input("Subsidy rate", "rate", "text", form, error, &format!("e.g. 70%; blank for the scheme's default ({}); at most {}.", scheme.default_rate, scheme.max_rate)))
                        (input("Reason", "reason", "text", form, error, "Shown to the applicant."))
                        button type="submit" { "Record decision" }
                    }
                }
            }
        },
    ))
}

/// `GET /applications/{id}`.
pub async fn show(
    State(state): State<AppState>,
    s: Session,
    IdPath(id): IdPath,
) -> Result<Markup, PortalError> {
    render(&state, &s, id, &Form::default(), None).await
}

/// `POST /applications/{id}/review`.
pub async fn review(
    State(state): State<AppState>,
    s: Session,
    IdPath(id): IdPath,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let mut scores = BTreeMap::new();
    let mut bad = None;
    for (name, v) in form.with_prefix("s_") {
        match v.trim().parse::<u32>() {
            Ok(n) => {
                scores.insert(name.to_string(), n);
            }
            Err(_) => {
                bad.get_or_insert_with(|| {
                    ApiError::invalid(
                        format!("s_{name}"),
                        format!("{:?} is not a score", v.trim()),
                        Some("0 to 10".into()),
                    )
                });
            }
        }
    }
    let res = match bad {
        Some(e) => Err(e),
        None => service::review(
            &state,
            &s.caller,
            id,
            ReviewRequest {
                scores,
                comment: form.text("comment").unwrap_or_default(),
            },
        )
        .await
        .map(|_| format!("/applications/{id}"))
        .map_err(ApiError::from),
    };
    answer(res, async |e| render(&state, &s, id, &form, Some(e)).await).await
}

/// `POST /applications/{id}/decision`.
pub async fn decide(
    State(state): State<AppState>,
    s: Session,
    IdPath(id): IdPath,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let hours = form.text("gpu_hours");
    let req = match hours.as_deref().map(str::parse::<i64>) {
        Some(Err(_)) => Err(ApiError::invalid(
            "gpu_hours",
            format!("{:?} is not a whole number", hours.unwrap_or_default()),
            None,
        )),
        parsed => Ok(DecisionRequest {
            approve: form.get("decision") == Some("approve"),
            gpu_hours: parsed.and_then(Result::ok),
            rate: form.text("rate"),
            reason: form.text("reason"),
        }),
    };
    let res = match req {
        Ok(req) => service::decide(&state, &s.caller, id, req)
            .await
            .map(|_| format!("/applications/{id}"))
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    answer(res, async |e| render(&state, &s, id, &form, Some(e)).await).await
}
