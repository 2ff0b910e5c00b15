//! Administration (organisations, projects, resource classes and inventory,
//! prices, schemes, nodes, users and roles) and the audit trail.
//! Auditors see everything here; only administrators' forms change anything
//! (the API refuses the rest).

use super::forms::{self, Form, Kind, answer, error_box, input, select};
use super::{Nav, PortalError, Session, page, short};
use crate::AppState;
use crate::api::audit::AuditParams;
use crate::api::{nodes, schemes};
use crate::error::ApiError;
use crate::policy::{Access, Resource, authorize};
use aisc_model::scheme::Criterion;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};

/// Which admin form failed, what was typed, and why.
type Failed<'a> = Option<(&'a str, &'a Form, &'a ApiError)>;

fn form_of<'a>(
    failed: Failed<'a>,
    name: &str,
    empty: &'a Form,
) -> (&'a Form, Option<&'a ApiError>) {
    match failed {
        Some((n, f, e)) if n == name => (f, Some(e)),
        _ => (empty, None),
    }
}

async fn render(state: &AppState, s: &Session, failed: Failed<'_>) -> Result<Markup, PortalError> {
    authorize(&s.caller, Access::Read, Resource::Centre)?;
    let orgs = crate::service::tenancy::list_orgs(state, &s.caller).await?;
    let projects = crate::service::tenancy::list_projects(state, &s.caller).await?;
    let classes = crate::service::inventory::list_classes(state, &s.caller).await?;
    let schemes = crate::service::schemes::list(state, &s.caller).await?;
    let nodes = crate::service::nodes::list(state).await?;
    let users = crate::service::identity::list_users(state, &s.caller).await?;
    let admin = crate::policy::allows(&s.caller, Access::Manage, Resource::Centre);
    let empty = Form::default();
    let opts = |v: &[&str]| {
        v.iter()
            .map(|x| (x.to_string(), x.to_string()))
            .collect::<Vec<_>>()
    };
    let class_opts: Vec<(String, String)> = classes
        .iter()
        .map(|c| (c.name.clone(), c.name.clone()))
        .collect();
    let org_opts: Vec<(String, String)> = orgs
        .iter()
        .map(|o| (o.name.clone(), o.name.clone()))
        .collect();
    let section_form = |name: &str, title: &str, fields: Markup| {
        html! {
            @if admin {
                details open[failed.is_some_and(|(n, _, _)| n == name)] {
                    summary { (title) }
                    (error_box(form_of(failed, name, &empty).1))
                    form method="post" action=(format!("/admin/{name}")) class="stack" {
                        (s.csrf_field())
                        (fields)
                        button type="submit" { (title) }
                    }
                }
            }
        }
    };
    let f = |name| form_of(failed, name, &empty);
    Ok(page(
        s,
        "Administration",
        Nav::Admin,
        html! {
            nav aria-label="Sections" class="toc" { ul {
                li { a href="#orgs" { "Organisations" } } li { a href="#projects" { "Projects" } }
                li { a href="#classes" { "Resource classes and prices" } } li { a href="#schemes" { "Schemes" } }
                li { a href="#nodes" { "Nodes" } } li { a href="#users" { "Users and roles" } }
            } }
            section id="orgs" aria-labelledby="h-orgs" {
                h2 id="h-orgs" { "Organisations" }
                table { thead { tr { th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "Since" } } }
                    tbody { @for o in &orgs { tr { td { (o.name) } td { (o.kind) } td { (short(&o.created_at)) } } } } }
                @let (v, e) = f("org");
                (section_form("org", "Create organisation", html! {
                    (input("Name", "name", "text", v, e, "Lower-case letters, digits and dashes."))
                    (select("Kind", "kind", &opts(&["university", "institute", "enterprise", "government"]), v))
                }))
            }
            section id="projects" aria-labelledby="h-projects" {
                h2 id="h-projects" { "Projects" }
                table { thead { tr { th scope="col" { "Name" } th scope="col" { "Title" } th scope="col" { "Organisation" } } }
                    tbody { @for p in &projects { tr { td { a href=(format!("/projects/{}", p.name)) { (p.name) } } td { (p.title) } td { (p.org) } } } } }
                @let (v, e) = f("project");
                (section_form("project", "Create project", html! {
                    (input("Name", "name", "text", v, e, ""))
                    (select("Organisation", "org", &org_opts, v))
                    (input("PI (user name)", "pi", "text", v, e, "The principal investigator, an existing user."))
                    (input("Title", "title", "text", v, e, ""))
                }))
            }
            section id="classes" aria-labelledby="h-classes" {
                h2 id="h-classes" { "Resource classes, inventory and prices" }
                div class="scroll" { table {
                    thead { tr { th scope="col" { "Class" } th scope="col" { "GPU" } th scope="col" class="num" { "GPUs/node" } th scope="col" class="num" { "CPUs/node" }
                        th scope="col" class="num" { "Memory/node" } th scope="col" class="num" { "Nodes" } th scope="col" class="num" { "GPUs" } th scope="col" { "List price / GPU-hour" } } }
                    tbody { @for c in &classes { tr {
                        td { (c.name) } td { (c.gpu_model) } td class="num" { (c.gpus_per_node) } td class="num" { (c.cpus_per_node) }
                        td class="num" { (c.mem_mb_per_node / 1024) " GiB" } td class="num" { (c.nodes) } td class="num" { (c.gpus) }
                        td { (c.price_per_gpu_hour.clone().unwrap_or_else(|| "-".into())) }
                    } } }
                } }
                @let (v, e) = f("class");
                (section_form("class", "Create resource class", html! {
                    (input("Name", "name", "text", v, e, ""))
                    (input("GPU model", "gpu_model", "text", v, e, "e.g. H100"))
                    (input("GPUs per node", "gpus_per_node", "number", v, e, ""))
                    (input("CPUs per node", "cpus_per_node", "number", v, e, ""))
                    (input("Memory per node", "mem_per_node", "text", v, e, "e.g. 2T, 1024G"))
                    (input("Nodes", "nodes", "number", v, e, ""))
                    (input("TFLOPS per GPU, BF16", "tflops_bf16", "text", v, e, "Peak, dense."))
                    (input("TFLOPS per GPU, FP64", "tflops_fp64", "text", v, e, ""))
                }))
                @let (v, e) = f("class-nodes");
                (section_form("class-nodes", "Change a class's node count", html! {
                    (select("Class", "class", &class_opts, v))
                    (input("Nodes", "nodes", "number", v, e, ""))
                }))
                @let (v, e) = f("price");
                (section_form("price", "Set a list price", html! {
                    (select("Class", "class", &class_opts, v))
                    (input("HK$ per GPU-hour", "per_gpu_hour", "text", v, e, "e.g. 25.00"))
                    (input("Effective from", "effective", "date", v, e, "Prices are versioned by date; jobs pay the price of their submission day."))
                }))
            }
            section id="schemes" aria-labelledby="h-schemes" {
                h2 id="h-schemes" { "Schemes" }
                div class="scroll" { table {
                    thead { tr { th scope="col" { "Scheme" } th scope="col" { "Open" } th scope="col" { "Rates" } th scope="col" class="num" { "Funded" } th scope="col" class="num" { "Committed" } th scope="col" class="num" { "Uncommitted" } th scope="col" { "Criteria" } } }
                    tbody { @for sc in &schemes { tr {
                        td { (sc.title) " (" (sc.name) ")" } td { (if sc.open { "yes" } else { "no" }) }
                        td { (sc.default_rate) " default, " (sc.max_rate) " max" }
                        td class="num" { (sc.funded) } td class="num" { (sc.committed) } td class="num" { (sc.uncommitted) }
                        td { (sc.criteria.iter().map(|c| format!("{} {} %", c.name, c.weight)).collect::<Vec<_>>().join(", ")) }
                    } } }
                } }
                @let (v, e) = f("scheme");
                (section_form("scheme", "Create scheme", html! {
                    (input("Name", "name", "text", v, e, ""))
                    (input("Title", "title", "text", v, e, ""))
                    (input("Pool (HK$)", "pool", "text", v, e, "The public money the scheme may spend."))
                    (input("Eligible kinds", "eligible", "text", v, e, "Comma-separated: university, institute, enterprise, government."))
                    (input("Default subsidy rate", "default_rate", "text", v, e, "e.g. 70%"))
                    (input("Highest subsidy rate", "max_rate", "text", v, e, "e.g. 90%"))
                    (input("Criteria", "criteria", "text", v, e, "name:weight pairs adding up to 100, e.g. impact:40, feasibility:30, team:30"))
                    (input("Opens", "opens", "date", v, e, ""))
                    (input("Closes", "closes", "date", v, e, ""))
                }))
            }
            section id="nodes" aria-labelledby="h-nodes" {
                h2 id="h-nodes" { "Nodes" }
                div class="scroll" { table {
                    thead { tr { th scope="col" { "Node" } th scope="col" { "State" } th scope="col" class="num" { "GPUs busy" } th scope="col" class="num" { "CPUs busy" } th scope="col" class="num" { "Jobs" } th scope="col" { "Reason" } @if admin { th scope="col" { "Action" } } } }
                    tbody { @for n in &nodes { tr data-node=(n.node.name) {
                        td { (n.node.name) } td { span class=(format!("badge n-{}", n.node.state)) { (n.node.state) } }
                        td class="num" { (n.node.gpus_busy) " / " (n.node.gpus) } td class="num" { (n.node.cpus_busy) " / " (n.node.cpus) } td class="num" { (n.node.jobs) }
                        td { (n.drain_reason.clone().unwrap_or_default()) @if let Some(by) = &n.drained_by { " (" (by) ")" } }
                        @if admin { td {
                            @if n.node.state == "drain" {
                                form method="post" action=(format!("/admin/nodes/{}/resume", n.node.name)) class="inline" { (s.csrf_field()) button type="submit" { "Resume" } }
                            } @else {
                                @let (v, e) = f("drain");
                                form method="post" action=(format!("/admin/nodes/{}/drain", n.node.name)) class="inline" {
                                    (s.csrf_field())
                                    (input("Reason", "reason", "text", v, e, ""))
                                    button type="submit" { "Drain" }
                                }
                            }
                        } }
                    } } }
                } }
                @if let Some((n, _, e)) = failed && n == "drain" { (error_box(Some(e))) }
            }
            section id="users" aria-labelledby="h-users" {
                h2 id="h-users" { "Users and roles" }
                table { thead { tr { th scope="col" { "User" } th scope="col" { "Role" } th scope="col" { "Password" } th scope="col" { "Unix name" } th scope="col" { "Since" } } }
                    tbody { @for u in &users { tr { td { (u.name) } td { (u.role) } td { (if u.has_password { "set" } else { "none" }) } td { (u.unix_name.clone().unwrap_or_default()) } td { (short(&u.created_at)) } } } } }
                @let (v, _) = f("role");
                (section_form("role", "Change a role", html! {
                    (select("User", "user", &users.iter().map(|u| (u.name.clone(), u.name.clone())).collect::<Vec<_>>(), v))
                    (select("New role", "role", &opts(&["user", "reviewer", "auditor", "admin"]), v))
                }))
                @let (v, e) = f("user");
                (section_form("user", "Create user", html! {
                    (input("Name", "name", "text", v, e, ""))
                    (select("Role", "role", &opts(&["user", "reviewer", "auditor", "admin"]), v))
                    (input("Password", "password", "password", &empty, e, "Optional: at least 12 characters. Without one, the user logs in with a token."))
                }))
            }
        },
    ))
}

/// `GET /admin`.
pub async fn show(State(state): State<AppState>, s: Session) -> Result<Markup, PortalError> {
    render(&state, &s, None).await
}

/// Criteria typed as `impact:40, feasibility:30`.
fn criteria(text: &str) -> Result<Vec<Criterion>, ApiError> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, weight) = p.split_once(':').ok_or_else(|| {
                ApiError::invalid(
                    "criteria",
                    format!("{p:?} is not name:weight"),
                    Some("e.g. impact:40".into()),
                )
            })?;
            let weight = weight.trim().parse::<u32>().map_err(|_| {
                ApiError::invalid(
                    "criteria",
                    format!("{p:?}: the weight is not a whole number"),
                    None,
                )
            })?;
            Ok(Criterion {
                name: name.trim().to_string(),
                weight,
            })
        })
        .collect()
}

async fn apply(state: &AppState, s: &Session, name: &str, form: &Form) -> Result<(), ApiError> {
    let class = || form.text("class").unwrap_or_default();
    match name {
        "org" => {
            let req = forms::request(form, &[("name", Kind::Text), ("kind", Kind::Text)])?;
            crate::service::tenancy::create_org(state, &s.caller, req)
                .await
                .map_err(ApiError::from)
                .map(|_| ())
        }
        "project" => {
            let req = forms::request(
                form,
                &[
                    ("name", Kind::Text),
                    ("org", Kind::Text),
                    ("pi", Kind::Text),
                    ("title", Kind::Text),
                ],
            )?;
            crate::service::tenancy::create_project(state, &s.caller, req)
                .await
                .map_err(ApiError::from)
                .map(|_| ())
        }
        "class" => {
            let req = forms::request(
                form,
                &[
                    ("name", Kind::Text),
                    ("gpu_model", Kind::Text),
                    ("gpus_per_node", Kind::Int),
                    ("cpus_per_node", Kind::Int),
                    ("mem_per_node", Kind::Text),
                    ("nodes", Kind::Int),
                    ("tflops_bf16", Kind::Float),
                    ("tflops_fp64", Kind::Float),
                ],
            )?;
            crate::service::inventory::create_class(state, &s.caller, req)
                .await
                .map_err(ApiError::from)
                .map(|_| ())
        }
        "class-nodes" => {
            let req = forms::request(form, &[("nodes", Kind::Int)])?;
            crate::service::inventory::set_nodes(state, &s.caller, class(), req)
                .await
                .map_err(ApiError::from)
                .map(|_| ())
        }
        "price" => {
            let req = forms::request(
                form,
                &[("per_gpu_hour", Kind::Text), ("effective", Kind::Text)],
            )?;
            crate::service::inventory::set_price(state, &s.caller, class(), req)
                .await
                .map_err(ApiError::from)
                .map(|_| ())
        }
        "scheme" => {
            let text = |k: &str| form.text(k).unwrap_or_default();
            let req = schemes::SchemeRequest {
                name: text("name"),
                title: form.text("title"),
                pool: text("pool"),
                eligible: text("eligible")
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_string)
                    .collect(),
                default_rate: text("default_rate"),
                max_rate: text("max_rate"),
                criteria: criteria(&text("criteria"))?,
                opens: text("opens"),
                closes: text("closes"),
                scavenger_discount: None,
                min_reviews: None,
            };
            crate::service::schemes::create(state, &s.caller, req)
                .await
                .map_err(ApiError::from)
                .map(|_| ())
        }
        "role" => {
            let req = forms::request(form, &[("role", Kind::Text)])?;
            let user = form.text("user").unwrap_or_default();
            crate::service::identity::set_role(state, &s.caller, user, req)
                .await
                .map_err(ApiError::from)
                .map(|_| ())
        }
        "user" => {
            let req = forms::request(
                form,
                &[
                    ("name", Kind::Text),
                    ("role", Kind::Text),
                    ("password", Kind::Text),
                ],
            )?;
            crate::service::identity::create_user(state, &s.caller, req)
                .await
                .map_err(ApiError::from)
                .map(|_| ())
        }
        other => Err(ApiError::NotFound(format!("form {other}"))),
    }
}

/// `POST /admin/{form}`.
pub async fn submit(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let res = apply(&state, &s, &name, &form)
        .await
        .map(|()| format!("/admin#{}", section_of(&name)));
    answer(res, async |e| {
        render(&state, &s, Some((&name, &form, e))).await
    })
    .await
}

fn section_of(form: &str) -> &'static str {
    match form {
        "org" => "orgs",
        "project" => "projects",
        "scheme" => "schemes",
        "user" | "role" => "users",
        _ => "classes",
    }
}

/// `POST /admin/nodes/{name}/drain|resume`.
pub async fn node_action(
    State(state): State<AppState>,
    s: Session,
    Path((name, action)): Path<(String, String)>,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let res = match action.as_str() {
        "drain" => {
            let reason = form.get("reason").unwrap_or_default().to_string();
            crate::service::nodes::drain(&state, &s.caller, name, nodes::DrainRequest { reason })
                .await
                .map_err(ApiError::from)
                .map(|_| ())
        }
        "resume" => crate::service::nodes::resume(&state, &s.caller, name)
            .await
            .map_err(ApiError::from)
            .map(|_| ()),
        other => Err(ApiError::NotFound(format!("node action {other}"))),
    };
    let res = res.map(|()| "/admin#nodes".to_string());
    answer(res, async |e| {
        render(&state, &s, Some(("drain", &form, e))).await
    })
    .await
}

/// The audit page's query: the API's search, and whether to check the whole chain now.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    q: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
    full: Option<String>,
}

/// `GET /audit?actor=&action=&q=&before=[&full=1]`: the trail, searchable, with the chain's
/// state: events added since the last full check are checked at each view, the whole chain
/// at least every ten minutes or when asked.
pub async fn audit(
    State(state): State<AppState>,
    s: Session,
    Query(query): Query<AuditQuery>,
) -> Result<Markup, PortalError> {
    authorize(&s.caller, Access::Read, Resource::Centre)?;
    let checked = state
        .audit_chain
        .check(&state.store, query.full.is_some())
        .await?;
    let verify = checked.view;
    let p = AuditParams {
        limit: query.limit,
        before: query.before,
        actor: query.actor,
        action: query.action,
        q: query.q,
    };
    let search = Form(
        [
            ("actor", p.actor.clone()),
            ("action", p.action.clone()),
            ("q", p.q.clone()),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .collect(),
    );
    let limit = p.limit.unwrap_or(100);
    let events = crate::service::audit::list(
        &state,
        &s.caller,
        AuditParams {
            limit: Some(limit),
            ..p.clone()
        },
    )
    .await?;
    let older = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(page(
        &s,
        "Audit trail",
        Nav::Audit,
        html! {
            @if verify.intact {
                p class="ok" role="status" data-chain="intact" {
                    "Hash chain intact: " (verify.checked) " events verified. Checked in full at "
                    (aisc_model::calendar::format_minute(checked.full_at_ms)) "; events added since were checked now. "
                    a href="/audit?full=1" { "Check the whole chain now" }
                }
            } @else {
                p class="error" role="alert" data-chain="broken" {
                    "Hash chain BROKEN at event " (verify.first_bad.map(|i| i.to_string()).unwrap_or_default()) ": "
                    (verify.detail.clone().unwrap_or_default()) " (" (verify.checked) " events verified before it)."
                }
            }
            form method="get" action="/audit" class="filters" aria-label="Search the audit trail" {
                (input("Actor", "actor", "text", &search, None, ""))
                (input("Action starts with", "action", "text", &search, None, ""))
                (input("Target or summary contains", "q", "search", &search, None, ""))
                button type="submit" { "Search" }
            }
            @if events.is_empty() { p { "No events match." } } @else {
                div class="scroll" { table {
                    thead { tr { th scope="col" class="num" { "ID" } th scope="col" { "At" } th scope="col" { "Actor" } th scope="col" { "From" } th scope="col" { "Action" } th scope="col" { "Target" } th scope="col" { "Summary" } } }
                    tbody { @for e in &events { tr {
                        td class="num" { (e.id) } td { (short(&e.at)) } td { (e.actor) } td { (e.source) } td { (e.action) } td { (e.target) } td { (e.summary) }
                    } } }
                } }
            }
            @if let Some(before) = older {
                p { a href=(format!("/audit?before={before}&actor={}&action={}&q={}",
                    forms::encode(p.actor.as_deref().unwrap_or("")), forms::encode(p.action.as_deref().unwrap_or("")), forms::encode(p.q.as_deref().unwrap_or("")))) { "Older events" } }
            }
        },
    ))
}
