//! The HTTP API: JSON under `/api/v1`, described at `/api/v1/openapi.json`.

pub mod applications;
pub mod audit;
pub mod backup;
pub mod charging;
pub mod data;
pub mod extract;
pub mod identity;
pub mod inventory;
pub mod jobs;
pub mod keys;
pub mod nodes;
pub mod privacy;
pub mod queue;
pub mod routes;
pub mod schemes;
pub mod slurm;
pub mod statements;
pub mod tenancy;
pub mod terminals;
pub use crate::service::views as types;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::get;
use axum::{Json, Router};
use types::{NodeView, WhoAmI};
use utoipa::OpenApi;

/// The largest request body.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// The whole API document: the schemas here and every routed path.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = aisc_api::ApiDoc::openapi();
    doc.merge(routes::Paths::openapi());
    doc
}

/// Every route.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/openapi.json", get(openapi));
    routes::add(api, &state)
        .fallback(|| async { ApiError::NotFound("route".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::Malformed("method not allowed on this route".into())
        })
        .merge(crate::portal::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::limits::by_address,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::portal::security_headers,
        ))
        .with_state(state)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "identity", responses((status = 200, body = WhoAmI), (status = 401, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        id: caller.user.id.0,
        name: caller.user.name.clone(),
        role: caller.user.role.to_string(),
    })
}

/// The nodes, their GPUs (real or fake, said so) and what running jobs hold.
#[utoipa::path(get, path = "/api/v1/nodes", tag = "cluster", responses((status = 200, body = Vec<NodeView>)), security(("bearer" = [])))]
pub async fn nodes(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<NodeView>>, ApiError> {
    Ok(Json(crate::service::nodes::host(&state).await))
}
