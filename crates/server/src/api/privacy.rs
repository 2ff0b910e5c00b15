//! A tenant's right to its data: export everything a project holds in aisc,
//! close a project (its data key destroyed: crypto-shredding) and erase it
//! (its records' personal data removed too). The ledger keeps its amounts and
//! the audit trail its events: those are the centre's financial record.

use crate::AppState;
use crate::api::extract::Body;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
pub use aisc_api::privacy::{ClosedView, ConfirmRequest, ProjectExport};
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
