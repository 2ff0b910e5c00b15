//! A tenant's right to its data: export everything a project holds in aisc,
//! close a project (its data key destroyed: crypto-shredding) and erase it
//! (its records' personal data removed too). The ledger keeps its amounts and
//! the audit trail its events: those are the centre's financial record.

use crate::AppState;
use crate::api::audit::AuditView;
use crate::api::extract::Body;
use crate::api::types::rfc3339;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
pub use aisc_api::privacy::{ClosedView, ConfirmRequest, ProjectExport};
use aisc_store::{AuditSearch, JobFilter, ProjectRow};
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
    Ok(Json(
        crate::service::privacy::export(&state, &caller, project).await?,
    ))
}

/// Every job of the project, newest first.
pub(crate) async fn project_jobs(
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
pub(crate) async fn project_audit(
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

pub(crate) fn confirmed(p: &ProjectRow, req: &ConfirmRequest) -> Result<(), ApiError> {
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
pub(crate) async fn remove_job_dirs(state: &AppState, p: &ProjectRow) -> Result<usize, ApiError> {
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

pub(crate) async fn closed_view(
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
    Ok(Json(
        crate::service::privacy::close(&state, &caller, project, req).await?,
    ))
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
    Ok(Json(
        crate::service::privacy::erase(&state, &caller, project, req).await?,
    ))
}
