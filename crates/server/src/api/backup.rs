//! `GET /api/v1/backup`: the whole centre as one tar stream, taken while it
//! runs (`aisc backup`; see `crate::service::backup`).

use crate::AppState;
use crate::api::types::rfc3339;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
pub use aisc_api::backup::BackupManifest;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// Download a backup of the whole centre as a tar stream (centre administrators).
#[utoipa::path(get, path = "/api/v1/backup", tag = "backup",
    responses((status = 200, description = "A tar stream: aisc.db, objects/, jobs/*/*.sealed, backup.json", content_type = "application/x-tar"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn backup(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let backup = crate::service::backup::start(&state, &caller).await?;
    let (rx, now) = (backup.pieces, backup.at_ms);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut res = axum::body::Body::from_stream(body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    let name = format!(
        "attachment; filename=\"aisc-backup-{}.tar\"",
        rfc3339(now).replace([':', '.'], "-")
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
