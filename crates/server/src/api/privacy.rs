//! A tenant's right to its data: export everything a project holds in aisc,
//! close a project (its data key destroyed: crypto-shredding) and erase it
//! (its records' personal data removed too). The ledger keeps its amounts and
//! the audit trail its events: those are the centre's financial record.

use crate::AppState;
use crate::api::applications::{self};
use crate::api::audit::AuditView;
use crate::api::data::{self, FileView};
use crate::api::extract::{Body, JobIdPath};
use crate::api::tenancy::{self, project_by_name};
use crate::api::types::rfc3339;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::policy::{Access, Resource, authorize};
pub use aisc_api::privacy::{ClosedView, ConfirmRequest, ProjectExport};
use aisc_store::{AuditSearch, DataChange, JobFilter, ProjectRow};
use axum::Json;
use axum::extract::{Path, State};

/// Export a project: its records as JSON (PIs, organisation administrators and centre administrators).
#[utoipa::path(get, path = "/api/v1/projects/{project}/export", params(("project" = String, Path, description = "Project")), tag = "privacy",
    responses((status = 200, body = ProjectExport), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Json<ProjectExport>, ApiError> {
    let p = project_by_name(&state, &caller, &project, Access::Manage).await?;
    let Json(detail) =
        tenancy::show_project(State(state.clone()), caller.clone(), Path(project.clone())).await?;
    let Json(apps) = applications::list(State(state.clone()), caller.clone()).await?;
    let Json(grants) = applications::list_grants(State(state.clone()), caller.clone()).await?;
    let mut jobs = Vec::new();
    for id in project_jobs(&state, &p).await? {
        let Json(d) =
            crate::api::jobs::show(State(state.clone()), caller.clone(), JobIdPath(id)).await?;
        jobs.push(d);
    }
    let targets: std::collections::HashSet<String> = jobs
        .iter()
        .map(|j| format!("job:{}", j.job.id))
        .chain([format!("project:{}", p.name)])
        .collect();
    let audit = project_audit(&state, &targets).await?;
    // Read directly: the project's managers export its files even when not members.
    let files: Vec<FileView> = if p.closed_ms.is_none() {
        state
            .store
            .data_objects(p.id, "")
            .await?
            .iter()
            .map(data::file_view)
            .collect()
    } else {
        Vec::new()
    };
    let audit_event = caller.audit(
        "project.export",
        format!("project:{}", p.name),
        format!("{} jobs, {} files", jobs.len(), files.len()),
    );
    state.store.record_audit(audit_event).await?;
    Ok(Json(ProjectExport {
        exported_at: rfc3339(crate::clock::now_ms()),
        project: detail,
        applications: apps.into_iter().filter(|a| a.project == p.name).collect(),
        grants: grants.into_iter().filter(|g| g.project == p.name).collect(),
        jobs,
        audit,
        files,
    }))
}

/// Every job of the project, newest first.
async fn project_jobs(
    state: &AppState,
    p: &ProjectRow,
) -> Result<Vec<aisc_model::JobId>, ApiError> {
    let mut ids = Vec::new();
    let mut before = None;
    loop {
        let page = state
            .store
            .list(&JobFilter {
                project: Some(p.name.clone()),
                before,
                limit: 1000,
                ..Default::default()
            })
            .await?;
        let Some(last) = page.last() else {
            return Ok(ids);
        };
        before = Some(last.id);
        ids.extend(page.iter().map(|j| j.id));
    }
}

/// Audit events whose target is in `targets`, newest first (one pass over the trail).
async fn project_audit(
    state: &AppState,
    targets: &std::collections::HashSet<String>,
) -> Result<Vec<AuditView>, ApiError> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let rows = state
            .store
            .audit_list(before, 1000, &AuditSearch::default())
            .await?;
        let Some(last) = rows.last() else {
            return Ok(out);
        };
        before = Some(last.id);
        out.extend(
            rows.into_iter()
                .filter(|r| targets.contains(&r.target))
                .map(crate::api::audit::audit_view),
        );
    }
}

fn confirmed(p: &ProjectRow, req: &ConfirmRequest) -> Result<(), ApiError> {
    if req.confirm == p.name {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "confirm",
            format!("{:?} is not the project's name", req.confirm),
            Some(format!("{:?}", p.name)),
        ))
    }
}

/// Removes the project's jobs' directories (their sealed logs, now unreadable).
async fn remove_job_dirs(state: &AppState, p: &ProjectRow) -> Result<usize, ApiError> {
    let ids = project_jobs(state, p).await?;
    let dirs: Vec<_> = ids
        .iter()
        .map(|id| crate::control::Controller::job_dir(&state.data_dir, *id))
        .collect();
    let objects = state.data_dir.join("objects").join(p.id.0.to_string());
    tokio::task::spawn_blocking(move || {
        let _ = std::fs::remove_dir_all(objects);
        dirs.iter()
            .filter(|d| std::fs::remove_dir_all(d).is_ok())
            .count()
    })
    .await
    .map_err(ApiError::internal)
}

async fn closed_view(
    state: &AppState,
    p: &ProjectRow,
    removed: usize,
) -> Result<ClosedView, ApiError> {
    let p = state.store.project_by_id(p.id).await?;
    Ok(ClosedView {
        project: p.name,
        closed_at: p.closed_ms.map(rfc3339),
        erased_at: p.erased_ms.map(rfc3339),
        job_logs_removed: removed,
    })
}

/// Close a project: no new jobs, grants or files; its files and job logs are destroyed with its
/// data key (crypto-shredding). Refused while it has jobs that have not ended. Irreversible:
/// export first. PIs, organisation administrators and centre administrators.
#[utoipa::path(post, path = "/api/v1/projects/{project}/close", params(("project" = String, Path, description = "Project")), tag = "privacy",
    request_body = ConfirmRequest,
    responses((status = 200, body = ClosedView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Jobs have not ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Body(req): Body<ConfirmRequest>,
) -> Result<Json<ClosedView>, ApiError> {
    let p = project_by_name(&state, &caller, &project, Access::Manage).await?;
    confirmed(&p, &req)?;
    let audit = caller.audit(
        "project.close",
        format!("project:{}", p.name),
        "closed; data key destroyed".into(),
    );
    let change = DataChange::Close {
        project: p.id,
        at_ms: crate::clock::now_ms(),
    };
    state.store.data_change(change, Some(audit)).await?;
    state.charging.clear();
    let removed = remove_job_dirs(&state, &p).await?;
    Ok(Json(closed_view(&state, &p, removed).await?))
}

/// Erase a project (centre administrators): close it, then remove the personal data in its
/// records: job names and paths, members, application justifications and review comments.
/// Charges, grants and the audit trail stay, as the centre's financial record.
#[utoipa::path(post, path = "/api/v1/projects/{project}/erase", params(("project" = String, Path, description = "Project")), tag = "privacy",
    request_body = ConfirmRequest,
    responses((status = 200, body = ClosedView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Jobs have not ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Body(req): Body<ConfirmRequest>,
) -> Result<Json<ClosedView>, ApiError> {
    authorize(&caller, Access::Manage, Resource::Centre)?;
    let p = project_by_name(&state, &caller, &project, Access::Manage).await?;
    confirmed(&p, &req)?;
    let audit = caller.audit(
        "project.erase",
        format!("project:{}", p.name),
        "erased; data key destroyed".into(),
    );
    let change = DataChange::Erase {
        project: p.id,
        at_ms: crate::clock::now_ms(),
    };
    state.store.data_change(change, Some(audit)).await?;
    state.charging.clear();
    state.tokens.clear();
    let removed = remove_job_dirs(&state, &p).await?;
    Ok(Json(closed_view(&state, &p, removed).await?))
}
