//! Privacy: the use cases the portal and the API share.

use super::ServiceError;
use crate::AppState;
use crate::auth::Caller;
use crate::policy::{Access, Resource, authorize};
use crate::service::data::access as data;
use crate::service::tenancy::project_by_name;
use crate::service::views::rfc3339;
use aisc_api::audit::AuditView;
use aisc_api::data::FileView;
use aisc_api::privacy::{ClosedView, ConfirmRequest, ProjectExport};
use aisc_store::DataChange;
use aisc_store::{AuditSearch, JobFilter, ProjectRow};

/// Every job of the project, newest first.
pub(crate) async fn project_jobs(
    state: &AppState,
    p: &ProjectRow,
) -> Result<Vec<aisc_model::JobId>, ServiceError> {
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
) -> Result<Vec<AuditView>, ServiceError> {
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
                .map(crate::service::audit::audit_view),
        );
    }
}

pub(crate) fn confirmed(p: &ProjectRow, req: &ConfirmRequest) -> Result<(), ServiceError> {
    if req.confirm == p.name {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "confirm",
            format!("{:?} is not the project's name", req.confirm),
            Some(format!("{:?}", p.name)),
        ))
    }
}

/// Removes the project's jobs' directories (their sealed logs, now unreadable).
pub(crate) async fn remove_job_dirs(
    state: &AppState,
    p: &ProjectRow,
) -> Result<usize, ServiceError> {
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
    .map_err(ServiceError::internal)
}

pub(crate) async fn closed_view(
    state: &AppState,
    p: &ProjectRow,
    removed: usize,
) -> Result<ClosedView, ServiceError> {
    let p = state.store.project_by_id(p.id).await?;
    Ok(ClosedView {
        project: p.name,
        closed_at: p.closed_ms.map(rfc3339),
        erased_at: p.erased_ms.map(rfc3339),
        job_logs_removed: removed,
    })
}

/// Export a project: its records as JSON (PIs, organisation administrators and centre administrators).
pub async fn export(
    state: &AppState,
    caller: &Caller,
    project: String,
) -> Result<ProjectExport, ServiceError> {
    let p = project_by_name(state, caller, &project, Access::Manage).await?;
    let detail = super::tenancy::show_project(state, caller, project.clone()).await?;
    let apps = super::applications::list(state, caller).await?;
    let grants = super::grants::list_grants(state, caller).await?;
    let mut jobs = Vec::new();
    for id in project_jobs(state, &p).await? {
        jobs.push(super::jobs::show(state, caller, id).await?);
    }
    let targets: std::collections::HashSet<String> = jobs
        .iter()
        .map(|j| format!("job:{}", j.job.id))
        .chain([format!("project:{}", p.name)])
        .collect();
    let audit = project_audit(state, &targets).await?;
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
    Ok(ProjectExport {
        exported_at: rfc3339(crate::clock::now_ms()),
        project: detail,
        applications: apps.into_iter().filter(|a| a.project == p.name).collect(),
        grants: grants.into_iter().filter(|g| g.project == p.name).collect(),
        jobs,
        audit,
        files,
    })
}

/// Close a project: no new jobs, grants or files; its files and job logs are destroyed with its
/// data key (crypto-shredding). Refused while it has jobs that have not ended. Irreversible:
/// export first. PIs, organisation administrators and centre administrators.
pub async fn close(
    state: &AppState,
    caller: &Caller,
    project: String,
    req: ConfirmRequest,
) -> Result<ClosedView, ServiceError> {
    let p = project_by_name(state, caller, &project, Access::Manage).await?;
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
    let removed = remove_job_dirs(state, &p).await?;
    closed_view(state, &p, removed).await
}

/// Erase a project (centre administrators): close it, then remove the personal data in its
/// records: job names and paths, members, application justifications and review comments.
/// Charges, grants and the audit trail stay, as the centre's financial record.
pub async fn erase(
    state: &AppState,
    caller: &Caller,
    project: String,
    req: ConfirmRequest,
) -> Result<ClosedView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    let p = project_by_name(state, caller, &project, Access::Manage).await?;
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
    let removed = remove_job_dirs(state, &p).await?;
    closed_view(state, &p, removed).await
}
