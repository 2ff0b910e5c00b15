//! Organisations, projects and memberships.

use crate::AppState;
use crate::api::extract::Body;
use crate::api::types::{ActionResult, rfc3339};
use crate::auth::Caller;
use crate::error::OrNotFound;
use crate::error::{ApiError, Problem};
use crate::policy::{Access, Resource, authorize};
pub use aisc_api::tenancy::{
    MemberRequest, MemberView, OrgAdminRequest, OrgRequest, OrgView, ProjectDetail, ProjectRequest,
    ProjectView,
};
use aisc_model::tenancy::check_name;
use aisc_store::{OrgRow, ProjectRow, StoreError, TenancyChange};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

pub(crate) fn org_view(o: OrgRow) -> OrgView {
    OrgView {
        id: o.id.0,
        name: o.name,
        kind: o.kind,
        created_at: rfc3339(o.created_ms),
    }
}

pub(crate) fn project_view(p: &ProjectRow) -> ProjectView {
    ProjectView {
        id: p.id.0,
        name: p.name.clone(),
        title: p.title.clone(),
        org: p.org_name.clone(),
        created_at: rfc3339(p.created_ms),
    }
}

pub(crate) fn named(field: &str, name: &str) -> Result<(), ApiError> {
    check_name(name).map_err(|e| ApiError::invalid(field, e, Some("64".into())))
}

pub(crate) async fn org_by_name(state: &AppState, name: &str) -> Result<OrgRow, ApiError> {
    state
        .store
        .org(name)
        .await
        .or_404(|| format!("organisation {name}"))
}

pub(crate) async fn project_by_name(
    state: &AppState,
    caller: &Caller,
    name: &str,
    access: Access,
) -> Result<ProjectRow, ApiError> {
    let p = state
        .store
        .project(name)
        .await
        .or_404(|| format!("project {name}"))?;
    authorize(
        caller,
        access,
        Resource::Project {
            name,
            id: p.id,
            org: p.org,
        },
    )?;
    Ok(p)
}

pub(crate) async fn user_by_name(
    state: &AppState,
    field: &str,
    name: &str,
) -> Result<aisc_model::UserId, ApiError> {
    match state.store.user_id(name).await {
        Err(StoreError::NotFound) => Err(ApiError::invalid(
            field,
            format!("there is no user {name:?}"),
            None,
        )),
        other => Ok(other?),
    }
}

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
    authorize(&caller, Access::Manage, Resource::Centre)?;
    let o = org_by_name(&state, &org).await?;
    let user = user_by_name(&state, "user", &req.user).await?;
    let audit = caller.audit(
        "org.admin.add",
        format!("org:{org}"),
        format!("{} made an administrator", req.user),
    );
    state
        .store
        .tenancy(TenancyChange::AddOrgAdmin { org: o.id, user }, Some(audit))
        .await?;
    state.tokens.clear();
    Ok(Json(ActionResult {
        id: o.id.0,
        result: format!("{} administers {org}", req.user),
    }))
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
    let p = project_by_name(&state, &caller, &project, Access::Manage).await?;
    let uid = state
        .store
        .user_id(&user)
        .await
        .or_404(|| format!("member {user} of {project}"))?;
    let audit = caller.audit(
        "project.member.remove",
        format!("project:{project}"),
        format!("{user} removed"),
    );
    state
        .store
        .tenancy(
            TenancyChange::RemoveMember {
                project: p.id,
                user: uid,
            },
            Some(audit),
        )
        .await
        .or_404(|| format!("member {user} of {project}"))?;
    state.tokens.clear();
    Ok(Json(ActionResult {
        id: p.id.0,
        result: format!("{user} removed from {project}"),
    }))
}
