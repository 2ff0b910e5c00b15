//! Data: the use cases the portal and the API share.

use super::ServiceError;
use crate::AppState;
use crate::api::data::*;
use crate::api::tenancy::project_by_name;
use crate::auth::Caller;
use crate::policy::{Access, Resource, authorize};
use crate::sealed::{self};
use aisc_api::data::{FileList, FileView, ListParams, PartParams, QuotaRequest, UploadView};
use aisc_store::{DataChange, DataObject};
use aisc_vault::stream::{self};
use axum::body::Bytes;
use sha2::{Digest, Sha256};

/// Where an upload stands: `offset` is where the next part starts.
pub async fn status(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<UploadView, ServiceError> {
    let (o, p) = upload(state, caller, id, false).await?;
    // Another member may have put a file at this path since the upload began.
    may_replace(state, caller, &p, &o.path).await?;
    let st = state.clone();
    let obj = o.clone();
    let offset = tokio::task::spawn_blocking(move || open_part(&st, &obj).map(|(_, _, n)| n))
        .await
        .map_err(ServiceError::internal)??;
    Ok(upload_view(id, p.name, o.path, o.size, offset))
}

/// Send a part: raw bytes at `offset`. Parts are whole multiples of 65,536 bytes, but the last.
pub async fn part(
    state: &AppState,
    caller: &Caller,
    id: i64,
    q: PartParams,
    bytes: Bytes,
) -> Result<UploadView, ServiceError> {
    let (o, p) = upload(state, caller, id, false).await?;
    // Another member may have put a file at this path since the upload began.
    may_replace(state, caller, &p, &o.path).await?;
    let st = state.clone();
    let obj = o.clone();
    let offset = tokio::task::spawn_blocking(move || -> Result<u64, ServiceError> {
        let (mut lock, opened, received) = open_part(&st, &obj)?;
        if q.offset != received {
            return Err(ServiceError::Conflict(format!(
                "offset {} is not where upload {} stands: send the part at offset {received}",
                q.offset, obj.id
            )));
        }
        let size = u64::try_from(obj.size).unwrap_or(0);
        if received + bytes.len() as u64 > size {
            return Err(ServiceError::invalid(
                "body",
                format!(
                    "{} bytes at offset {received} go past the declared size",
                    bytes.len()
                ),
                Some(format!("{size} bytes in all")),
            ));
        }
        let ctx = sealed::object_context(obj.id);
        stream::append(
            &mut *lock,
            &opened.header,
            &opened.key,
            &ctx,
            opened.len,
            &bytes,
        )
        .map_err(|e| match e {
            aisc_vault::VaultError::Format { reason, .. } => ServiceError::Conflict(format!(
                "{reason}: parts before the last must be multiples of {} bytes",
                stream::CHUNK
            )),
            other => ServiceError::internal(other),
        })?;
        lock.sync_data().map_err(ServiceError::internal)?;
        Ok(received + bytes.len() as u64)
    })
    .await
    .map_err(ServiceError::internal)??;
    Ok(upload_view(id, p.name, o.path, o.size, offset))
}

/// Finish an upload: checks its size and SHA-256, then puts it in place of any file at its path.
/// A checksum that does not match discards the upload.
pub async fn complete(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<FileView, ServiceError> {
    let (o, p) = upload(state, caller, id, false).await?;
    // Another member may have put a file at this path since the upload began.
    may_replace(state, caller, &p, &o.path).await?;
    let st = state.clone();
    let obj = o.clone();
    let digest = tokio::task::spawn_blocking(move || -> Result<String, ServiceError> {
        let (mut lock, mut opened, received) = open_part(&st, &obj)?;
        let size = u64::try_from(obj.size).unwrap_or(0);
        if received != size {
            return Err(ServiceError::invalid(
                "size",
                format!(
                    "{received} of {size} bytes received; send the rest from offset {received}"
                ),
                Some(format!("{size} bytes")),
            ));
        }
        let ctx = sealed::object_context(obj.id);
        let len = stream::finish(&mut *lock, &opened.header, &opened.key, &ctx, opened.len)
            .map_err(ServiceError::internal)?;
        lock.sync_data().map_err(ServiceError::internal)?;
        let mut hash = Sha256::new();
        let mut at = 0;
        while at < size {
            let (bytes, _) = stream::read_range(
                &mut opened.file,
                &opened.header,
                &opened.key,
                &ctx,
                len,
                at,
                PART_BYTES as u64,
            )
            .map_err(ServiceError::internal)?;
            at += bytes.len() as u64;
            hash.update(&bytes);
            if bytes.is_empty() {
                break;
            }
        }
        Ok(hex::encode(hash.finalize()))
    })
    .await
    .map_err(ServiceError::internal)??;
    let file = sealed::object_path(&state.data_dir, p.id, id);
    if digest != o.sha256 {
        let _ = state
            .store
            .data_change(DataChange::Remove { id }, None)
            .await;
        let _ = tokio::fs::remove_file(&file).await;
        return Err(ServiceError::invalid(
            "sha256",
            format!(
                "the bytes received have SHA-256 {digest}; the upload was discarded, send it again"
            ),
            Some(format!("{} (as declared)", o.sha256)),
        ));
    }
    let audit = caller.audit(
        "data.put",
        format!("project:{}", p.name),
        format!("{} ({} bytes, sha256 {})", o.path, o.size, o.sha256),
    );
    let now = crate::clock::now_ms();
    let replaced = state
        .store
        .data_change(DataChange::CompleteUpload { id, at_ms: now }, Some(audit))
        .await?;
    if replaced > 0 {
        let _ = tokio::fs::remove_file(sealed::object_path(&state.data_dir, p.id, replaced)).await;
    }
    let done = DataObject {
        complete_ms: Some(now),
        ..o
    };
    Ok(file_view(&done))
}

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

/// Abandons an upload (its uploader; or, to clean up, anyone who may delete the project's files).
pub async fn abandon(state: &AppState, caller: &Caller, id: i64) -> Result<(), ServiceError> {
    let (o, _) = upload(state, caller, id, true).await?;
    state
        .store
        .data_change(DataChange::Remove { id }, None)
        .await?;
    let _ = tokio::fs::remove_file(sealed::object_path(&state.data_dir, o.project, id)).await;
    Ok(())
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
