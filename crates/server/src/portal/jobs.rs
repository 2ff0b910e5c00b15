//! Jobs: my jobs with filters, the submit form, a job's page with its
//! timeline, placement, cost so far and a log that follows live.

use super::forms::{self, Form, answer, error_box, input, select};
use super::{Nav, PortalError, Session, page, see_other, short};
use crate::AppState;
use crate::api::extract::{JobIdPath, Query as ApiQuery};
use crate::api::jobs::{ListParams, LogParams};
use crate::api::types::JobView;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::service::ServiceError;
use crate::service::jobs as service;
use aisc_billing::money::Cents;
use aisc_billing::rating::{Price, charge};
use aisc_model::JobRequest;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

/// The first part of a log shown in the page; the rest follows by script.
const LOG_FIRST_BYTES: u64 = 256 << 10;

#[derive(Debug, Default, Deserialize)]
pub struct JobFilters {
    state: Option<String>,
    project: Option<String>,
    mine: Option<String>,
    before: Option<i64>,
}

fn state_badge(state: &str) -> Markup {
    html! { span class=(format!("badge s-{state}")) { (state) } }
}

fn blank(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// `GET /jobs`.
pub async fn list(
    State(state): State<AppState>,
    s: Session,
    Query(f): Query<JobFilters>,
) -> Result<Markup, PortalError> {
    let params = ListParams {
        state: blank(f.state.clone()),
        mine: f.mine.is_some(),
        project: blank(f.project.clone()),
        limit: Some(200),
        before: f.before,
    };
    let list = service::list(&state, &s.caller, params).await?;
    let jobs: Vec<&JobView> = list.jobs.iter().collect();
    let states: Vec<(String, String)> = std::iter::once((String::new(), "any".to_string()))
        .chain(
            aisc_model::job::ALL_STATES
                .iter()
                .map(|s| (s.to_string(), s.to_string())),
        )
        .collect();
    let filters = Form(
        [("state", f.state.clone()), ("project", f.project.clone())]
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect(),
    );
    let mut projects: Vec<(String, String)> = vec![(String::new(), "any".into())];
    projects.extend(
        s.caller
            .user
            .projects
            .iter()
            .map(|m| (m.name.clone(), m.name.clone())),
    );
    Ok(page(
        &s,
        "Jobs",
        Nav::Jobs,
        html! {
            p { a class="button" href="/jobs/new" { "Submit a job" } }
            form method="get" action="/jobs" class="filters" aria-label="Filter jobs" {
                (select("State", "state", &states, &filters))
                @if crate::policy::sees_every_tenant(&s.caller) {
                    (input("Project", "project", "text", &filters, None, ""))
                } @else {
                    (select("Project", "project", &projects, &filters))
                }
                div class="field check" {
                    input id="f-mine" type="checkbox" name="mine" checked[f.mine.is_some()];
                    label for="f-mine" { "Only my jobs" }
                }
                button type="submit" { "Filter" }
            }
            @if jobs.is_empty() { p { "No jobs match." } } @else {
                div class="scroll" {
                    table {
                        thead { tr {
                            th scope="col" class="num" { "ID" } th scope="col" { "Name" } th scope="col" { "User" }
                            th scope="col" { "Project" } th scope="col" { "State" } th scope="col" { "Reason" }
                            th scope="col" class="num" { "GPUs" } th scope="col" { "Submitted" } th scope="col" { "Charge" }
                        } }
                        tbody {
                            @for j in &jobs {
                                tr {
                                    td class="num" { a href=(format!("/jobs/{}", j.id)) { (j.label) } }
                                    td { a href=(format!("/jobs/{}", j.id)) { (j.name) } }
                                    td { (j.user) }
                                    td { (j.account.clone().unwrap_or_default()) }
                                    td { (state_badge(&j.state)) }
                                    td { (j.reason) }
                                    td class="num" { (j.gpus) }
                                    td { (short(&j.submitted_at)) }
                                    td { (j.charge.clone().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(before) = list.next_before {
                p { a href=(format!("/jobs?before={before}&state={}&project={}{}",
                    forms::encode(f.state.as_deref().unwrap_or("")), forms::encode(f.project.as_deref().unwrap_or("")),
                    if f.mine.is_some() { "&mine=on" } else { "" })) { "Older jobs" } }
            }
        },
    ))
}

fn submit_form(s: &Session, form: &Form, error: Option<&ApiError>) -> Markup {
    let mut projects: Vec<(String, String)> = s
        .caller
        .user
        .projects
        .iter()
        .map(|m| (m.name.clone(), format!("{} ({})", m.name, m.role.as_str())))
        .collect();
    if projects.is_empty() {
        projects.push((String::new(), "(you belong to no project)".into()));
    }
    let qos: Vec<(String, String)> = [
        ("normal", "normal"),
        ("high", "high (if the grant allows)"),
        ("scavenger", "scavenger (discounted, may be preempted)"),
    ]
    .iter()
    .map(|(v, t)| (v.to_string(), t.to_string()))
    .collect();
    let script_invalid = forms::field_of(error).is_some_and(|f| f == "script" || f == "command");
    page(
        s,
        "Submit a job",
        Nav::Jobs,
        html! {
            (error_box(error))
            form method="post" action="/jobs/new" enctype="multipart/form-data" class="stack" {
                (s.csrf_field())
                fieldset {
                    legend { "What to run" }
                    (input("Name", "name", "text", form, error, "Optional; defaults to the script's name or the command."))
                    (input("Command", "command", "text", form, error, "Run with /bin/sh -c, e.g. python train.py --epochs 3. Or give a script below."))
                    div class="field" {
                        label for="f-script" { "Script (#SBATCH directives are honoured)" }
                        textarea id="f-script" name="script" rows="8" spellcheck="false"
                            aria-invalid=[script_invalid.then_some("true")]
                            placeholder="#!/bin/bash\n#SBATCH --gres=gpu:1\n#SBATCH --time=1:00:00\npython train.py" { (form.get("script").unwrap_or_default()) }
                    }
                    div class="field" {
                        label for="f-script_file" { "…or upload a script file" }
                        input id="f-script_file" name="script_file" type="file" accept=".sh,.sbatch,.slurm,text/plain,text/x-shellscript";
                    }
                }
                fieldset {
                    legend { "Resources and grant" }
                    (select("Project", "account", &projects, form))
                    (input("Grant", "grant", "number", form, error, "Optional grant id; defaults to the project's active grant."))
                    (input("GPUs", "gpus", "text", form, error, "A count (2) or model and count (h100:2); 0 for none."))
                    (input("CPUs", "cpus", "number", form, error, "CPU cores."))
                    (input("Memory", "mem", "text", form, error, "e.g. 16G, 512M."))
                    (input("Time limit", "time", "text", form, error, "e.g. 30, 2:00:00, 1-00:00:00 (minutes, h:m:s, d-h:m:s)."))
                    (input("Working directory", "chdir", "text", form, error, "An absolute path where the job runs and writes its output; blank uses the script's #SBATCH --chdir."))
                    (select("QOS", "qos", &qos, form))
                    div class="field check" {
                        input id="f-hold" type="checkbox" name="hold" checked[form.get("hold").is_some()];
                        label for="f-hold" { "Hold until released" }
                    }
                }
                button type="submit" { "Submit" }
            }
        },
    )
}

/// `GET /jobs/new`. On the local engine jobs run as the server's own user, so its
/// working directory is offered, as `aisc submit` offers the caller's.
pub async fn new_page(State(state): State<AppState>, s: Session) -> Markup {
    let mut form = Form(vec![
        ("gpus".into(), "1".into()),
        ("time".into(), "1:00:00".into()),
    ]);
    if state.slurm_cluster.is_none()
        && let Ok(dir) = std::env::current_dir()
    {
        form.0.push(("chdir".into(), dir.display().to_string()));
    }
    submit_form(&s, &form, None)
}

fn job_request(form: &Form) -> Result<JobRequest, ApiError> {
    let num = |name: &str| -> Result<Option<String>, ApiError> { Ok(form.text(name)) };
    let cpus = match num("cpus")? {
        Some(v) => Some(v.parse::<u32>().map_err(|_| {
            ApiError::invalid("cpus", format!("{v:?} is not a whole number of CPUs"), None)
        })?),
        None => None,
    };
    let grant =
        match num("grant")? {
            Some(v) => Some(v.parse::<i64>().map_err(|_| {
                ApiError::invalid("grant", format!("{v:?} is not a grant id"), None)
            })?),
            None => None,
        };
    let uploaded = form.get("script_file").filter(|t| !t.trim().is_empty());
    let typed = form.get("script").filter(|t| !t.trim().is_empty());
    let command = form.text("command");
    let (script, script_name) = match (uploaded, typed) {
        (Some(text), _) => (
            Some(text.replace("\r\n", "\n")),
            form.text("script_file.filename"),
        ),
        (None, Some(text)) => (Some(text.replace("\r\n", "\n")), None),
        (None, None) => (None, None),
    };
    if script.is_some() && command.is_some() {
        return Err(ApiError::invalid(
            "command",
            "give either a command or a script, not both",
            None,
        ));
    }
    let command = match command {
        Some(c) => vec!["/bin/sh".to_string(), "-c".to_string(), c],
        None => Vec::new(),
    };
    Ok(JobRequest {
        name: form.text("name"),
        account: form.text("account"),
        grant,
        time: form.text("time"),
        cpus,
        mem: form.text("mem"),
        gpus: form.text("gpus"),
        hold: form.get("hold").is_some(),
        qos: form.text("qos"),
        chdir: form.text("chdir"),
        command,
        script,
        script_name,
        ..JobRequest::default()
    })
}

/// `POST /jobs/new`: the API's submit, then the job's page.
pub async fn submit(
    State(state): State<AppState>,
    s: Session,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let res = match job_request(&form) {
        Ok(req) => crate::service::jobs::submit(&state, &s.caller, req)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let res = res.map(|done| format!("/jobs/{}", done.id));
    answer(res, async |e| Ok(submit_form(&s, &form, Some(e)))).await
}

/// What a job has cost so far: the charge once it ended; while it runs, its GPUs
/// for the time it has run at its price (capped by its lien, as the charge will be).
fn cost_so_far(j: &JobView, now_ms: i64) -> Option<String> {
    if let Some(c) = &j.charge {
        return Some(c.clone());
    }
    let price = j.price_per_gpu_hour.as_deref()?;
    let cents = Cents::parse_hkd(price).ok()?;
    let start_ms = super::epoch_ms(j.started_at.as_deref()?)?;
    let ran_ms = u64::try_from(now_ms - start_ms).unwrap_or(0);
    let mut so_far = charge(
        ran_ms * u64::from(j.gpus),
        Price {
            per_gpu_hour: cents,
        },
    );
    if let Some(lien) = j.lien.as_deref().and_then(|l| Cents::parse_hkd(l).ok()) {
        so_far = so_far.min(lien);
    }
    Some(format!("{so_far} so far (running)"))
}

/// `GET /jobs/{id}`.
pub async fn show(
    State(state): State<AppState>,
    s: Session,
    JobIdPath(id): JobIdPath,
) -> Result<Markup, PortalError> {
    let (id, _) = service::resolve(&state, &s.caller, id).await?;
    let d = service::show(&state, &s.caller, id).await?;
    let first = service::log(
        &state,
        &s.caller,
        id,
        LogParams {
            limit: Some(LOG_FIRST_BYTES),
            ..LogParams::default()
        },
    )
    .await;
    // An auditor sees a job's metadata, not its log (unless the centre allows it).
    let (log, next, complete) = match first {
        Err(ServiceError::Forbidden(why)) => (why, "0".to_string(), true),
        Err(e) => return Err(e.into()),
        Ok(first) => (
            String::from_utf8_lossy(&first.bytes).into_owned(),
            first.next.to_string(),
            first.complete,
        ),
    };
    let j = &d.job;
    let ended = j.ended_at.is_some();
    let cost = cost_so_far(j, now_ms());
    Ok(page(
        &s,
        &format!("Job {} · {}", j.label, j.name),
        Nav::Jobs,
        html! {
            p class="status" {
                "State: " span data-job-state=(j.state) { (state_badge(&j.state)) }
                @if !j.reason.is_empty() { " — " (j.reason) }
            }
            @if !ended {
                form method="post" action=(format!("/jobs/{}/cancel", j.id)) class="inline" {
                    (s.csrf_field())
                    button type="submit" class="danger" { "Cancel job" }
                }
            }
            @if j.state == "running" {
                form method="post" action=(format!("/jobs/{}/requeue", j.id)) class="inline" {
                    (s.csrf_field())
                    button type="submit" title="Stop this run and queue the job again with its id" { "Requeue" }
                }
            }
            @if j.state == "pending" && j.held {
                form method="post" action=(format!("/jobs/{}/release", j.id)) class="inline" {
                    (s.csrf_field())
                    button type="submit" { "Release" }
                }
            } @else if j.state == "pending" {
                form method="post" action=(format!("/jobs/{}/hold", j.id)) class="inline" {
                    (s.csrf_field())
                    button type="submit" { "Hold" }
                }
            }
            @if j.state == "pending" {
                details class="change" {
                    summary { "Change this waiting job" }
                    form method="post" action=(format!("/jobs/{}/update", j.id)) {
                        (s.csrf_field())
                        div class="field" {
                            label for="f-time" { "Time limit (lower; administrators may raise it)" }
                            input id="f-time" name="time" type="text" placeholder=(j.time_limit);
                        }
                        div class="field" {
                            label for="f-name" { "Name" }
                            input id="f-name" name="name" type="text" placeholder=(j.name);
                        }
                        div class="field" {
                            label for="f-qos" { "QOS" }
                            select id="f-qos" name="qos" {
                                option value="" selected { "unchanged" }
                                option value="normal" { "normal" }
                                option value="high" { "high (where the grant allows it)" }
                                option value="scavenger" { "scavenger" }
                            }
                        }
                        button type="submit" { "Change" }
                    }
                }
            }
            div class="columns" {
                section aria-labelledby="what" {
                    h2 id="what" { "Request" }
                    dl class="figures" {
                        dt { "User" } dd { (j.user) }
                        dt { "Project" } dd { (j.account.clone().unwrap_or_default()) }
                        dt { "Grant" } dd { (j.grant.map(|g| g.to_string()).unwrap_or_else(|| "-".into())) }
                        @if let (Some(n), Some(t)) = (&j.nodes, j.tasks) {
                            dt { "Nodes" } dd { (n) ", " (t) " tasks" }
                        }
                        dt { "GPUs" } dd { (j.gpus) @if let Some(t) = &j.gpu_type { " × " (t) } }
                        dt { "CPUs" } dd { (j.cpus) }
                        dt { "Memory" } dd { (j.mem_mb) " MiB" }
                        dt { "Time limit" } dd { (j.time_limit) }
                        dt { "QOS" } dd { (j.qos.clone().unwrap_or_default()) }
                        @if let Some(c) = &d.command { dt { "Command" } dd { code { (c.join(" ")) } } }
                        @if let Some(i) = d.interactive {
                            dt { "Interactive" } dd {
                                (if i.pty { "on a terminal: " } else { "input and output relayed: " })
                                code { "aisc attach " (j.id) }
                            }
                        }
                    }
                }
                section aria-labelledby="where" {
                    h2 id="where" { "Placement and cost" }
                    dl class="figures" {
                        dt { "Node" } dd { (j.node.clone().unwrap_or_else(|| "-".into())) }
                        dt { "GPU indices" } dd {
                            @if j.gpu_ids.is_empty() { "-" } @else { (j.gpu_ids.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")) }
                            @if j.gpus_fake { " (fake GPUs)" }
                        }
                        dt { "Price" } dd { (j.price_per_gpu_hour.clone().unwrap_or_else(|| "-".into())) " per GPU-hour" }
                        dt { "Held for it (lien)" } dd { (j.lien.clone().unwrap_or_else(|| "-".into())) }
                        dt { "Cost" } dd { (cost.unwrap_or_else(|| "-".into())) }
                        @if let Some(code) = j.exit_code { dt { "Exit code" } dd { (code) } }
                        @if let Some(sig) = j.signal { dt { "Signal" } dd { (sig) } }
                    }
                }
            }
            section aria-labelledby="timeline" {
                h2 id="timeline" { "Timeline" }
                ol class="timeline" {
                    @for e in &d.events {
                        li { time datetime=(e.at) { (short(&e.at)) } " " (state_badge(&e.to)) @if !e.reason.is_empty() { " " (e.reason) } }
                    }
                }
            }
            section aria-labelledby="log" {
                h2 id="log" { "Output" }
                pre class="log" tabindex="0" aria-live="polite" data-log=(format!("/jobs/{}/log", j.id)) data-offset=(next) data-complete=(complete) { (log) }
                @if !complete { p class="hint" { "The log follows live while the job runs. Without JavaScript, " a href=(format!("/jobs/{}", j.id)) { "reload" } " to see more." } }
            }
        },
    ))
}

/// `GET /jobs/{id}/log?offset=N`: the next chunk of a job's output (for the live log).
pub async fn log_chunk(
    State(state): State<AppState>,
    s: Session,
    JobIdPath(id): JobIdPath,
    ApiQuery(q): ApiQuery<LogParams>,
) -> Result<Response, PortalError> {
    let (id, _) = service::resolve(&state, &s.caller, id).await?;
    let chunk = service::log(&state, &s.caller, id, q).await?;
    Ok(crate::api::jobs::log_answer(chunk)?.into_response())
}

/// `POST /jobs/{id}/hold`: kept waiting until released.
pub async fn hold(
    State(state): State<AppState>,
    s: Session,
    JobIdPath(id): JobIdPath,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let (id, _) = service::resolve(&state, &s.caller, id).await?;
    service::hold(&state, &s.caller, id).await?;
    Ok(see_other(&format!("/jobs/{id}")))
}

/// `POST /jobs/{id}/requeue`: a running job's run stopped, the job queued again with its id.
pub async fn requeue(
    State(state): State<AppState>,
    s: Session,
    JobIdPath(id): JobIdPath,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let result = service::requeue(&state, &s.caller, id).await?;
    Ok(see_other(&format!("/jobs/{}", result.id)))
}

/// `POST /jobs/{id}/update`: a waiting job's time limit, name or QOS (empty fields stay).
pub async fn update(
    State(state): State<AppState>,
    s: Session,
    JobIdPath(id): JobIdPath,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let given = |k: &str| {
        form.get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    let changes = aisc_model::request::JobChanges {
        time: given("time"),
        name: given("name"),
        qos: given("qos"),
    };
    let r = service::update(&state, &s.caller, id, changes).await?;
    Ok(see_other(&format!("/jobs/{}", r.id)))
}

/// `POST /jobs/{id}/release`.
pub async fn release(
    State(state): State<AppState>,
    s: Session,
    JobIdPath(id): JobIdPath,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    let (id, _) = service::resolve(&state, &s.caller, id).await?;
    service::release(&state, &s.caller, id).await?;
    Ok(see_other(&format!("/jobs/{id}")))
}

/// `POST /jobs/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    s: Session,
    JobIdPath(id): JobIdPath,
    form: Form,
) -> Result<Response, PortalError> {
    s.check(&form)?;
    service::cancel(&state, &s.caller, id).await?;
    Ok(see_other(&format!("/jobs/{id}")))
}
