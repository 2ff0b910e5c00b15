//! An upload in parts that can be resumed: begun with its path, size and
//! SHA-256; each part appended sealed; completed when size and checksum match.

use super::access::*;
use crate::AppState;
use crate::auth::Caller;
use crate::policy::Access;
use crate::sealed;
use crate::service::ServiceError;
use crate::service::tenancy::project_by_name;
use aisc_api::data::{FileView, PartParams, UploadRequest, UploadView};
use aisc_store::{DataChange, DataObject};
use aisc_vault::stream::{self, Header};
use axum::body::Bytes;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

/// Begins an upload. The declared size counts against the quota until it
/// completes or is abandoned.
pub async fn begin(
    state: &AppState,
    caller: &Caller,
    project: &str,
    req: UploadRequest,
) -> Result<UploadView, ServiceError> {
    let p = project_by_name(state, caller, project, Access::Submit).await?;
    open_project(&p)?;
    check_path(&req.path)?;
    check_sha256(&req.sha256)?;
    may_replace(state, caller, &p, &req.path).await?;
    let quota = quota_of(state, &p);
    if !(0..=quota).contains(&req.size) {
        return Err(ServiceError::invalid(
            "size",
            format!("{} bytes is out of range", req.size),
            Some(format!("0 to {quota} bytes (the project's quota)")),
        ));
    }
    let now = crate::clock::now_ms();
    let (key_id, _) = state.store.key_for(Some(p.id), now).await?;
    let change = DataChange::BeginUpload {
        project: p.id,
        path: req.path.clone(),
        size: req.size,
        sha256: req.sha256.clone(),
        owner: caller.user.id,
        at_ms: now,
        quota,
    };
    let audit = caller.audit(
        "data.upload",
        format!("project:{}", p.name),
        format!("began {} ({} bytes)", req.path, req.size),
    );
    let id = state.store.data_change(change, Some(audit)).await?;
    let file = sealed::object_path(&state.data_dir, p.id, id);
    let created = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if let Some(dir) = file.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)?;
        f.write_all(&Header::new(key_id).encode())?;
        f.sync_all()
    })
    .await
    .map_err(ServiceError::internal)?;
    if let Err(e) = created {
        let _ = state
            .store
            .data_change(DataChange::Remove { id }, None)
            .await;
        return Err(ServiceError::internal(e));
    }
    Ok(upload_view(id, p.name, req.path, req.size, 0))
}

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
