//! Who may reach a project's files, and the checks on what is asked of them.

use crate::AppState;
use crate::auth::Caller;
use crate::policy::{self, Access, Resource, authorize};
use crate::sealed::{self};
use crate::service::tenancy::project_by_name;
use crate::service::views::rfc3339;
use crate::service::{Found, ServiceError};
use aisc_api::data::{FileView, UploadView};
use aisc_store::{DataObject, ProjectRow};
use aisc_vault::stream;
use std::fs;

/// The part size clients are told to use: 16 chunks.
pub const PART_BYTES: usize = 16 * stream::CHUNK;
/// The longest path.
pub const MAX_PATH: usize = aisc_model::files::MAX_PATH;

pub fn upload_view(id: i64, project: String, path: String, size: i64, offset: u64) -> UploadView {
    UploadView {
        id,
        project,
        path,
        size,
        offset,
        part_bytes: PART_BYTES,
    }
}

/// A file as the API shows it.
pub fn file_view(o: &DataObject) -> FileView {
    FileView {
        id: o.id,
        path: o.path.clone(),
        size: o.size,
        sha256: o.sha256.clone(),
        owner: o.owner_name.clone(),
        created_at: rfc3339(o.complete_ms.unwrap_or(o.created_ms)),
    }
}

/// A project file's path, refused naming `path` and the rule (`aisc_model::files::check_path`).
pub fn check_path(path: &str) -> Result<(), ServiceError> {
    aisc_model::files::check_path(path).map_err(|why| {
        ServiceError::invalid(
            "path",
            format!("{path:?} {why}"),
            Some(format!(
                "segments of printable characters separated by /, at most {MAX_PATH} bytes"
            )),
        )
    })
}

pub fn check_sha256(s: &str) -> Result<(), ServiceError> {
    if s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "sha256",
            format!("{s:?} is not a SHA-256"),
            Some("64 lowercase hex digits".into()),
        ))
    }
}

/// A project whose files the caller may read: its members, and those who
/// manage it (its organisation's administrators, for an export).
pub async fn readable_project(
    state: &AppState,
    caller: &Caller,
    project: &str,
) -> Result<ProjectRow, ServiceError> {
    match project_by_name(state, caller, project, Access::Submit).await {
        Err(ServiceError::Forbidden(why)) => {
            match project_by_name(state, caller, project, Access::Manage).await {
                Ok(p) => Ok(p),
                Err(_) => Err(ServiceError::Forbidden(why)),
            }
        }
        other => other,
    }
}

pub fn quota_of(state: &AppState, p: &ProjectRow) -> i64 {
    p.data_quota_bytes.unwrap_or(state.data_quota_bytes)
}

pub fn open_project(p: &ProjectRow) -> Result<(), ServiceError> {
    if p.closed_ms.is_some() {
        return Err(ServiceError::Gone(format!(
            "project {} is closed: its files were destroyed",
            p.name
        )));
    }
    Ok(())
}

/// Whether the caller may put a file at `path`: anyone who may add files
/// when none is there, else only who may replace the file there.
pub async fn may_replace(
    state: &AppState,
    caller: &Caller,
    p: &ProjectRow,
    path: &str,
) -> Result<(), ServiceError> {
    match state.store.data_object(p.id, path).await {
        Ok(existing) => Ok(policy::may_change_file(
            caller,
            Resource::Project {
                name: &p.name,
                id: p.id,
                org: p.org,
            },
            &existing.owner_name,
            path,
        )?),
        Err(aisc_store::StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// An upload in progress, its project, and the caller's right to it: its
/// uploader's alone (another member's upload does not exist for them), or,
/// to abandon it (`manage`), anyone who may delete the project's files.
pub async fn upload(
    state: &AppState,
    caller: &Caller,
    id: i64,
    manage: bool,
) -> Result<(DataObject, ProjectRow), ServiceError> {
    let what = || format!("upload {id}");
    let o = state.store.data_object_by_id(id).await.or_404(what)?;
    let p = state.store.project_by_id(o.project).await.or_404(what)?;
    if authorize(
        caller,
        Access::Submit,
        Resource::Project {
            name: &p.name,
            id: p.id,
            org: p.org,
        },
    )
    .is_err()
        || o.complete_ms.is_some()
    {
        return Err(ServiceError::NotFound(what()));
    }
    let project = Resource::Project {
        name: &p.name,
        id: p.id,
        org: p.org,
    };
    let allowed = if manage {
        policy::may_change_file(caller, project, &o.owner_name, &o.path).is_ok()
    } else {
        caller.user.name == o.owner_name
    };
    if !allowed {
        return Err(ServiceError::NotFound(what()));
    }
    open_project(&p)?;
    Ok((o, p))
}

/// Opens an upload's file under an exclusive lock, dropping a torn last part.
/// Returns it with its header, key and plaintext length so far.
pub fn open_part(
    state: &AppState,
    o: &DataObject,
) -> Result<(nix::fcntl::Flock<fs::File>, sealed::Opened, u64), ServiceError> {
    let path = sealed::object_path(&state.data_dir, o.project, o.id);
    let mut opened = sealed::open_sealed(&state.store, &path).map_err(ServiceError::from)?;
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(ServiceError::internal)?;
    let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(
        |_| ServiceError::Conflict(format!("another part of upload {} is being written", o.id)),
    )?;
    let good = stream::repair(
        &mut opened.file,
        &opened.header,
        &opened.key,
        &sealed::object_context(o.id),
        opened.len,
    )
    .map_err(ServiceError::internal)?;
    if good < opened.len {
        lock.set_len(good).map_err(ServiceError::internal)?;
        opened.len = good;
    }
    let received = opened.header.plain_len(opened.len);
    Ok((lock, opened, received))
}

pub async fn object_at(
    state: &AppState,
    caller: &Caller,
    project: &str,
    path: &str,
    write: bool,
) -> Result<(DataObject, ProjectRow), ServiceError> {
    let p = if write {
        project_by_name(state, caller, project, Access::Submit).await?
    } else {
        readable_project(state, caller, project).await?
    };
    open_project(&p)?;
    check_path(path)?;
    let o = state
        .store
        .data_object(p.id, path)
        .await
        .or_404(|| format!("file {path} in project {project}"))?;
    Ok((o, p))
}
