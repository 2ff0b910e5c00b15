//! Resource classes, the node inventory, the price list and the centre's capacity.

use crate::AppState;
use crate::api::extract::Body;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
pub use aisc_api::inventory::{
    CapacityView, ClassRequest, ClassView, NodesRequest, PriceRequest, PriceView,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// Resource classes, with the price in force now.
#[utoipa::path(get, path = "/api/v1/resource-classes", tag = "inventory", responses((status = 200, body = Vec<ClassView>)), security(("bearer" = [])))]
pub async fn list_classes(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<ClassView>>, ApiError> {
    Ok(Json(
        crate::service::inventory::list_classes(&state, &_caller).await?,
    ))
}

/// Add a resource class (centre administrators).
#[utoipa::path(post, path = "/api/v1/resource-classes", request_body = ClassRequest, tag = "inventory",
    responses((status = 201, body = ClassView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_class(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<ClassRequest>,
) -> Result<(StatusCode, Json<ClassView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(crate::service::inventory::create_class(&state, &caller, req).await?),
    ))
}

/// Change how many nodes of a class the centre has (centre administrators).
#[utoipa::path(put, path = "/api/v1/resource-classes/{class}/nodes", request_body = NodesRequest, params(("class" = String, Path, description = "Class")), tag = "inventory",
    responses((status = 200, body = ClassView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_nodes(
    State(state): State<AppState>,
    caller: Caller,
    Path(class): Path<String>,
    Body(req): Body<NodesRequest>,
) -> Result<Json<ClassView>, ApiError> {
    Ok(Json(
        crate::service::inventory::set_nodes(&state, &caller, class, req).await?,
    ))
}

/// A class's price list, newest first.
#[utoipa::path(get, path = "/api/v1/resource-classes/{class}/prices", params(("class" = String, Path, description = "Class")), tag = "inventory",
    responses((status = 200, body = Vec<PriceView>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_prices(
    State(state): State<AppState>,
    _caller: Caller,
    Path(class): Path<String>,
) -> Result<Json<Vec<PriceView>>, ApiError> {
    Ok(Json(
        crate::service::inventory::list_prices(&state, &class).await?,
    ))
}

/// Set a class's price from a date (centre administrators). A price for the same date replaces it.
#[utoipa::path(post, path = "/api/v1/resource-classes/{class}/prices", request_body = PriceRequest, params(("class" = String, Path, description = "Class")), tag = "inventory",
    responses((status = 201, body = PriceView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_price(
    State(state): State<AppState>,
    caller: Caller,
    Path(class): Path<String>,
    Body(req): Body<PriceRequest>,
) -> Result<(StatusCode, Json<PriceView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(crate::service::inventory::set_price(&state, &caller, class, req).await?),
    ))
}

/// The centre's peak capacity, summed over the inventory.
#[utoipa::path(get, path = "/api/v1/capacity", tag = "inventory", responses((status = 200, body = CapacityView)), security(("bearer" = [])))]
pub async fn get_capacity(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<CapacityView>, ApiError> {
    Ok(Json(
        crate::service::inventory::get_capacity(&state, &_caller).await?,
    ))
}
