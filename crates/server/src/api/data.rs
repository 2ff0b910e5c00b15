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
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::sealed::{self};
use crate::service::data;
pub use crate::service::data::access::{MAX_PATH, PART_BYTES};
pub use aisc_api::data::{
    FileList, FileView, ListParams, PartParams, QuotaRequest, UploadRequest, UploadView,
};
use aisc_vault::stream::{self};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

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
    let view = data::uploads::begin(&state, &caller, &project, req).await?;
    Ok((StatusCode::CREATED, Json(view)))
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
    Ok(Json(data::uploads::status(&state, &caller, id).await?))
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
        data::uploads::part(&state, &caller, id, q, bytes).await?,
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
    Ok(Json(data::uploads::complete(&state, &caller, id).await?))
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
    data::uploads::abandon(&state, &caller, id).await?;
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
    Ok(Json(data::list(&state, &caller, project, q).await?))
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
    let file = data::download(&state, &caller, &project, &path).await?;
    let (opened, total, id) = (file.opened, file.total, file.id);
    let start = range_start(&headers).unwrap_or(0);
    if start > total {
        let mut res = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
            res.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        return Ok(res);
    }
    let ctx = sealed::object_context(id);
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
    h.insert("x-aisc-sha256", hv(file.sha256.clone())?);
    h.insert(header::ETAG, hv(format!("\"{}\"", file.sha256))?);
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
    data::remove(&state, &caller, project, path).await?;
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
    Ok(Json(data::set_quota(&state, &caller, project, req).await?))
}
