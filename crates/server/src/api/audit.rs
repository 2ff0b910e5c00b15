//! `/api/v1/audit`: the trail and its verification. Centre administrators and auditors.

use crate::AppState;
use crate::api::extract::Query;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
pub use aisc_api::audit::{AuditParams, AuditVerification, AuditView};
use axum::Json;
use axum::extract::State;

/// The audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditParams), tag = "audit",
    responses((status = 200, body = Vec<AuditView>), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<AuditParams>,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    Ok(Json(crate::service::audit::list(&state, &caller, p).await?))
}

/// Checks the whole chain and names the first event that was altered, inserted or removed.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = AuditVerification), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AuditVerification>, ApiError> {
    Ok(Json(crate::service::audit::verify(&state, &caller).await?))
}
