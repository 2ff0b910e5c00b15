//! Privacy: the use cases the portal and the API share.

use super::ServiceError;
use crate::AppState;
use crate::api::privacy::*;
use crate::api::types::rfc3339;
use crate::auth::Caller;
use crate::policy::{Access, Resource, authorize};
use crate::service::data::access as data;
use crate::service::tenancy::project_by_name;
use aisc_api::data::FileView;
use aisc_api::privacy::{ClosedView, ConfirmRequest, ProjectExport};
use aisc_store::DataChange;

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
    Ok(closed_view(state, &p, removed).await?)
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
    Ok(closed_view(state, &p, removed).await?)
}
