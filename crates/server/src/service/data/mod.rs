//! Projects' files: the use cases the portal and the API share. An upload
//! ([`uploads`]) goes in parts; a download is read as it is sent.

use super::ServiceError;
use crate::AppState;
pub mod access;
pub mod uploads;

use crate::auth::Caller;
use crate::policy::{Access, Resource, authorize};
use crate::sealed::{self};
use crate::service::tenancy::project_by_name;
use access::*;
use aisc_api::data::{FileList, ListParams, QuotaRequest};
use aisc_store::DataChange;

/// A project's files.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    project: String,
    q: ListParams,
) -> Result<FileList, ServiceError> {
    let p = readable_project(state, caller, &project).await?;
    open_project(&p)?;
    let files = state
        .store
        .data_objects(p.id, q.prefix.as_deref().unwrap_or(""))
        .await?;
    Ok(FileList {
        files: files.iter().map(file_view).collect(),
        used_bytes: state.store.data_used(p.id).await?,
        quota_bytes: quota_of(state, &p),
    })
}

/// Set a project's quota for files (centre administrators).
pub async fn set_quota(
    state: &AppState,
    caller: &Caller,
    project: String,
    req: QuotaRequest,
) -> Result<FileList, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    let p = project_by_name(state, caller, &project, Access::Manage).await?;
    if let Some(b) = req.bytes
        && b < 0
    {
        return Err(ServiceError::invalid(
            "bytes",
            format!("{b} is negative"),
            Some("0 or more".into()),
        ));
    }
    let audit = caller.audit(
        "data.quota",
        format!("project:{}", p.name),
        match req.bytes {
            Some(b) => format!("quota {b} bytes"),
            None => "quota: the server's default".into(),
        },
    );
    state
        .store
        .data_change(
            DataChange::Quota {
                project: p.id,
                bytes: req.bytes,
            },
            Some(audit),
        )
        .await?;
    let p = state.store.project_by_id(p.id).await?;
    Ok(FileList {
        files: Vec::new(),
        used_bytes: state.store.data_used(p.id).await?,
        quota_bytes: quota_of(state, &p),
    })
}

/// Deletes a project's file (its uploader, the PI, the organisation's or the centre's administrators).
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    project: String,
    path: String,
) -> Result<(), ServiceError> {
    let (o, p) = object_at(state, caller, &project, &path, true).await?;
    crate::policy::may_change_file(
        caller,
        Resource::Project {
            name: &p.name,
            id: p.id,
            org: p.org,
        },
        &o.owner_name,
        &o.path,
    )?;
    let audit = caller.audit(
        "data.rm",
        format!("project:{}", p.name),
        format!("{} ({} bytes)", o.path, o.size),
    );
    state
        .store
        .data_change(DataChange::Remove { id: o.id }, Some(audit))
        .await?;
    let _ = tokio::fs::remove_file(sealed::object_path(&state.data_dir, p.id, o.id)).await;
    Ok(())
}

/// A file opened to be read, once the caller's right to it was checked.
#[derive(Debug)]
pub struct Download {
    /// The sealed file, open.
    pub opened: sealed::Opened,
    /// Its length in plain bytes.
    pub total: u64,
    /// Its SHA-256, as declared and checked at upload.
    pub sha256: String,
    /// The file's id (its sealing context).
    pub id: i64,
}

/// Opens a project's file to be read (its members, those who manage the
/// project). A read by anyone outside the project is recorded in the audit trail.
pub async fn download(
    state: &AppState,
    caller: &Caller,
    project: &str,
    path: &str,
) -> Result<Download, ServiceError> {
    let (o, p) = object_at(state, caller, project, path, false).await?;
    if !caller.user.projects.iter().any(|m| m.project == p.id) {
        let audit = caller.audit(
            "data.get",
            format!("project:{}", p.name),
            format!(
                "read {} ({} bytes) from outside the project",
                o.path, o.size
            ),
        );
        state.store.record_audit(audit).await?;
    }
    let file = sealed::object_path(&state.data_dir, p.id, o.id);
    let store = state.store.clone();
    let opened = tokio::task::spawn_blocking(move || sealed::open_sealed(&store, &file))
        .await
        .map_err(ServiceError::internal)??;
    Ok(Download {
        total: opened.header.plain_len(opened.len),
        opened,
        sha256: o.sha256,
        id: o.id,
    })
}
