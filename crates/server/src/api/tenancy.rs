//! Organisations, projects and memberships.

use crate::AppState;
use crate::api::extract::Body;
use crate::api::types::ActionResult;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
pub use aisc_api::tenancy::{
    MemberRequest, MemberView, OrgAdminRequest, OrgRequest, OrgView, ProjectDetail, ProjectRequest,
    ProjectView,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// Create an organisation (centre administrators).
#[utoipa::path(post, path = "/api/v1/orgs", request_body = OrgRequest, tag = "tenancy",
    responses((status = 201, body = OrgView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_org(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<OrgRequest>,
) -> Result<(StatusCode, Json<OrgView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(crate::service::tenancy::create_org(&state, &caller, req).await?),
    ))
}

/// Organisations the caller may see.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "tenancy", responses((status = 200, body = Vec<OrgView>)), security(("bearer" = [])))]
pub async fn list_orgs(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<OrgView>>, ApiError> {
    Ok(Json(
        crate::service::tenancy::list_orgs(&state, &caller).await?,
    ))
}

/// Make a user an administrator of an organisation (centre administrators).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/admins", request_body = OrgAdminRequest, params(("org" = String, Path, description = "Organisation")), tag = "tenancy",
    responses((status = 200, body = ActionResult), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn add_org_admin(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    Body(req): Body<OrgAdminRequest>,
) -> Result<Json<ActionResult>, ApiError> {
    Ok(Json(
        crate::service::tenancy::add_org_admin(&state, &caller, &org, req).await?,
    ))
}

/// Create a project in an organisation (its administrators, or centre administrators).
#[utoipa::path(post, path = "/api/v1/projects", request_body = ProjectRequest, tag = "tenancy",
    responses((status = 201, body = ProjectView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<ProjectRequest>,
) -> Result<(StatusCode, Json<ProjectView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(crate::service::tenancy::create_project(&state, &caller, req).await?),
    ))
}

/// Projects the caller may see.
#[utoipa::path(get, path = "/api/v1/projects", tag = "tenancy", responses((status = 200, body = Vec<ProjectView>)), security(("bearer" = [])))]
pub async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ProjectView>>, ApiError> {
    Ok(Json(
        crate::service::tenancy::list_projects(&state, &caller).await?,
    ))
}

/// A project and its members.
#[utoipa::path(get, path = "/api/v1/projects/{project}", params(("project" = String, Path, description = "Project")), tag = "tenancy",
    responses((status = 200, body = ProjectDetail), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn show_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<ProjectDetail>, ApiError> {
    Ok(Json(
        crate::service::tenancy::show_project(&state, &caller, name).await?,
    ))
}

/// Add a member to a project, or change their role (the project's PI, or its organisation's administrators).
#[utoipa::path(put, path = "/api/v1/projects/{project}/members/{user}", request_body = MemberRequest,
    params(("project" = String, Path, description = "Project"), ("user" = String, Path, description = "User")), tag = "tenancy",
    responses((status = 200, body = ActionResult), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, user)): Path<(String, String)>,
    Body(req): Body<MemberRequest>,
) -> Result<Json<ActionResult>, ApiError> {
    Ok(Json(
        crate::service::tenancy::set_member(&state, &caller, (project, user), req).await?,
    ))
}

/// Remove a member from a project (the project's PI, or its organisation's administrators).
#[utoipa::path(delete, path = "/api/v1/projects/{project}/members/{user}",
    params(("project" = String, Path, description = "Project"), ("user" = String, Path, description = "User")), tag = "tenancy",
    responses((status = 200, body = ActionResult), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, user)): Path<(String, String)>,
) -> Result<Json<ActionResult>, ApiError> {
    Ok(Json(
        crate::service::tenancy::remove_member(&state, &caller, &project, &user).await?,
    ))
}
