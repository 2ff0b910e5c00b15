//! Projects' files (`aisc data put|get|ls|rm`): uploaded in parts that can be
//! resumed, checked against the SHA-256 the client declared, sealed with the
//! project's data key, and counted against the project's quota.
//!
//! An upload: `POST /projects/{p}/uploads` (path, size, sha256) → an id; then
//! `PUT /uploads/{id}?offset=N` with raw bytes, in parts that are whole
//! multiples of 64 KiB but the last; `GET /uploads/{id}` says where to resume
//! after a break (a part torn by a crash is dropped); `POST /uploads/{id}/complete`
//! checks size and checksum and puts the file in place of any at its path.
//! Members of the project (and centre administrators) read and write its files;
//! auditors do not read tenants' files.

use crate::AppState;
use crate::api::extract::{Body, IdPath, Query};
use crate::api::tenancy::project_by_name;
use crate::api::types::rfc3339;
use crate::auth::Caller;
use crate::error::{ApiError, OrNotFound, Problem};
use crate::policy::{self, Access, Resource, authorize};
use crate::sealed::{self, ReadError};
pub use aisc_api::data::{
    FileList, FileView, ListParams, PartParams, QuotaRequest, UploadRequest, UploadView,
};
use aisc_store::{DataChange, DataObject, ProjectRow};
use aisc_vault::stream::{self, Header};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

/// The part size clients are told to use: 16 chunks.
pub const PART_BYTES: usize = 16 * stream::CHUNK;
/// The longest path.
pub const MAX_PATH: usize = aisc_model::files::MAX_PATH;

pub(crate) fn upload_view(
    id: i64,
    project: String,
    path: String,
    size: i64,
    offset: u64,
) -> UploadView {
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
pub fn check_path(path: &str) -> Result<(), ApiError> {
    aisc_model::files::check_path(path).map_err(|why| {
        ApiError::invalid(
            "path",
            format!("{path:?} {why}"),
            Some(format!(
                "segments of printable characters separated by /, at most {MAX_PATH} bytes"
            )),
        )
    })
}

pub(crate) fn check_sha256(s: &str) -> Result<(), ApiError> {
    if s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "sha256",
            format!("{s:?} is not a SHA-256"),
            Some("64 lowercase hex digits".into()),
        ))
    }
}

/// A project whose files the caller may read: its members, and those who
/// manage it (its organisation's administrators, for an export).
pub(crate) async fn readable_project(
    state: &AppState,
    caller: &Caller,
    project: &str,
) -> Result<ProjectRow, ApiError> {
    match project_by_name(state, caller, project, Access::Submit).await {
        Err(ApiError::Forbidden(why)) => {
            match project_by_name(state, caller, project, Access::Manage).await {
                Ok(p) => Ok(p),
                Err(_) => Err(ApiError::Forbidden(why)),
            }
        }
        other => other,
    }
}

pub(crate) fn quota_of(state: &AppState, p: &ProjectRow) -> i64 {
    p.data_quota_bytes.unwrap_or(state.data_quota_bytes)
}

pub(crate) fn open_project(p: &ProjectRow) -> Result<(), ApiError> {
    if p.closed_ms.is_some() {
        return Err(ApiError::Gone(format!(
            "project {} is closed: its files were destroyed",
            p.name
        )));
    }
    Ok(())
}

/// Begin an upload. The declared size counts against the quota until it completes or is abandoned.
#[utoipa::path(post, path = "/api/v1/projects/{project}/uploads", params(("project" = String, Path, description = "Project")), tag = "data",
    request_body = UploadRequest,
    responses((status = 201, body = UploadView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad path, size or checksum, or over quota", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn begin(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Body(req): Body<UploadRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let p = project_by_name(&state, &caller, &project, Access::Submit).await?;
    open_project(&p)?;
    check_path(&req.path)?;
    check_sha256(&req.sha256)?;
    may_replace(&state, &caller, &p, &req.path).await?;
    let quota = quota_of(&state, &p);
    if !(0..=quota).contains(&req.size) {
        return Err(ApiError::invalid(
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
    .map_err(ApiError::internal)?;
    if let Err(e) = created {
        let _ = state
            .store
            .data_change(DataChange::Remove { id }, None)
            .await;
        return Err(ApiError::internal(e));
    }
    Ok((
        StatusCode::CREATED,
        Json(upload_view(id, p.name, req.path, req.size, 0)),
    ))
}

/// Whether the caller may put a file at `path`: anyone who may add files
/// when none is there, else only who may replace the file there.
pub(crate) async fn may_replace(
    state: &AppState,
    caller: &Caller,
    p: &ProjectRow,
    path: &str,
) -> Result<(), ApiError> {
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
pub(crate) async fn upload(
    state: &AppState,
    caller: &Caller,
    id: i64,
    manage: bool,
) -> Result<(DataObject, ProjectRow), ApiError> {
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
        return Err(ApiError::NotFound(what()));
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
        return Err(ApiError::NotFound(what()));
    }
    open_project(&p)?;
    Ok((o, p))
}

/// Opens an upload's file under an exclusive lock, dropping a torn last part.
/// Returns it with its header, key and plaintext length so far.
pub(crate) fn open_part(
    state: &AppState,
    o: &DataObject,
) -> Result<(nix::fcntl::Flock<fs::File>, sealed::Opened, u64), ApiError> {
    let path = sealed::object_path(&state.data_dir, o.project, o.id);
    let mut opened = sealed::open_sealed(&state.store, &path).map_err(ReadError::into_api)?;
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(ApiError::internal)?;
    let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(
        |_| ApiError::Conflict(format!("another part of upload {} is being written", o.id)),
    )?;
    let good = stream::repair(
        &mut opened.file,
        &opened.header,
        &opened.key,
        &sealed::object_context(o.id),
        opened.len,
    )
    .map_err(ApiError::internal)?;
    if good < opened.len {
        lock.set_len(good).map_err(ApiError::internal)?;
        opened.len = good;
    }
    let received = opened.header.plain_len(opened.len);
    Ok((lock, opened, received))
}

/// Where an upload stands: `offset` is where the next part starts.
#[utoipa::path(get, path = "/api/v1/uploads/{id}", params(("id" = i64, Path, description = "Upload id")), tag = "data",
    responses((status = 200, body = UploadView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<UploadView>, ApiError> {
    Ok(Json(
        crate::service::data::status(&state, &caller, id).await?,
    ))
}

/// Send a part: raw bytes at `offset`. Parts are whole multiples of 65,536 bytes, but the last.
#[utoipa::path(put, path = "/api/v1/uploads/{id}", params(("id" = i64, Path, description = "Upload id"), PartParams), tag = "data",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = UploadView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Wrong offset, or a part after a short one", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More bytes than declared", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn part(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    Query(q): Query<PartParams>,
    bytes: Bytes,
) -> Result<Json<UploadView>, ApiError> {
    Ok(Json(
        crate::service::data::part(&state, &caller, id, q, bytes).await?,
    ))
}

/// Finish an upload: checks its size and SHA-256, then puts it in place of any file at its path.
/// A checksum that does not match discards the upload.
#[utoipa::path(post, path = "/api/v1/uploads/{id}/complete", params(("id" = i64, Path, description = "Upload id")), tag = "data",
    responses((status = 200, body = FileView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Short, or the checksum does not match", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<FileView>, ApiError> {
    Ok(Json(
        crate::service::data::complete(&state, &caller, id).await?,
    ))
}

/// Abandon an upload.
#[utoipa::path(delete, path = "/api/v1/uploads/{id}", params(("id" = i64, Path, description = "Upload id")), tag = "data",
    responses((status = 204, description = "Abandoned"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn abandon(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    crate::service::data::abandon(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A project's files.
#[utoipa::path(get, path = "/api/v1/projects/{project}/data", params(("project" = String, Path, description = "Project"), ListParams), tag = "data",
    responses((status = 200, body = FileList), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Query(q): Query<ListParams>,
) -> Result<Json<FileList>, ApiError> {
    Ok(Json(
        crate::service::data::list(&state, &caller, project, q).await?,
    ))
}

pub(crate) async fn object_at(
    state: &AppState,
    caller: &Caller,
    project: &str,
    path: &str,
    write: bool,
) -> Result<(DataObject, ProjectRow), ApiError> {
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

/// The first byte asked for by `Range: bytes=N-` (the one form served; others get the whole file).
pub(crate) fn range_start(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let n = v.strip_prefix("bytes=")?.strip_suffix('-')?;
    n.parse().ok()
}

/// Download a file. `Range: bytes=N-` resumes from byte N (206). `X-Aisc-Sha256` carries its checksum.
#[utoipa::path(get, path = "/api/v1/projects/{project}/data/{path}", params(("project" = String, Path, description = "Project"), ("path" = String, Path, description = "File path")), tag = "data",
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream"),
        (status = 206, description = "From the byte asked for", content_type = "application/octet-stream"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "Range past the end")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (o, p) = object_at(&state, &caller, &project, &path, false).await?;
    // A read of a tenant's file by someone outside the project is on the record.
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
        .map_err(ApiError::internal)?
        .map_err(ReadError::into_api)?;
    let total = opened.header.plain_len(opened.len);
    let start = range_start(&headers).unwrap_or(0);
    if start > total {
        let mut res = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
            res.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        return Ok(res);
    }
    let ctx = sealed::object_context(o.id);
    let body = futures_util::stream::unfold(Some((opened, start)), move |st| {
        let ctx = ctx.clone();
        async move {
            let (mut opened, at) = st?;
            if at >= total {
                return None;
            }
            let read = tokio::task::spawn_blocking(move || {
                let r = stream::read_range(
                    &mut opened.file,
                    &opened.header,
                    &opened.key,
                    &ctx,
                    opened.len,
                    at,
                    PART_BYTES as u64,
                );
                (opened, r)
            })
            .await;
            match read {
                Ok((opened, Ok((bytes, _)))) if !bytes.is_empty() => {
                    let next = at + bytes.len() as u64;
                    Some((
                        Ok::<Bytes, std::io::Error>(Bytes::from(bytes)),
                        Some((opened, next)),
                    ))
                }
                Ok((_, Ok(_))) => None,
                Ok((_, Err(e))) => Some((Err(std::io::Error::other(e.to_string())), None)),
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    let mut res = axum::body::Body::from_stream(body).into_response();
    let h = res.headers_mut();
    let hv = |s: String| HeaderValue::from_str(&s).map_err(ApiError::internal);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, hv((total - start).to_string())?);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert("x-aisc-sha256", hv(o.sha256.clone())?);
    h.insert(header::ETAG, hv(format!("\"{}\"", o.sha256))?);
    if range_start(&headers).is_some() {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
        let last = total.saturating_sub(1);
        res.headers_mut().insert(
            header::CONTENT_RANGE,
            hv(format!("bytes {start}-{last}/{total}"))?,
        );
    }
    Ok(res)
}

/// Remove a file.
#[utoipa::path(delete, path = "/api/v1/projects/{project}/data/{path}", params(("project" = String, Path, description = "Project"), ("path" = String, Path, description = "File path")), tag = "data",
    responses((status = 204, description = "Removed"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, path)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    crate::service::data::remove(&state, &caller, project, path).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a project's quota for files (centre administrators).
#[utoipa::path(put, path = "/api/v1/projects/{project}/quota", params(("project" = String, Path, description = "Project")), tag = "data",
    request_body = QuotaRequest,
    responses((status = 200, body = FileList), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_quota(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Body(req): Body<QuotaRequest>,
) -> Result<Json<FileList>, ApiError> {
    Ok(Json(
        crate::service::data::set_quota(&state, &caller, project, req).await?,
    ))
}
