//! Tenancy: the use cases the portal and the API share.

use super::{Found, ServiceError};
use crate::AppState;
use crate::auth::Caller;
use crate::policy::{Access, Resource, authorize};
use crate::service::views::{ActionResult, rfc3339};
use aisc_api::tenancy::{
    MemberRequest, MemberView, OrgRequest, OrgView, ProjectDetail, ProjectRequest, ProjectView,
};
use aisc_model::tenancy::OrgKind;
use aisc_model::tenancy::ProjectRole;
use aisc_model::tenancy::check_name;
use aisc_store::{OrgRow, ProjectRow, StoreError, TenancyChange};

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

pub(crate) fn named(field: &str, name: &str) -> Result<(), ServiceError> {
    check_name(name).map_err(|e| ServiceError::invalid(field, e, Some("64".into())))
}

pub(crate) async fn org_by_name(state: &AppState, name: &str) -> Result<OrgRow, ServiceError> {
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
) -> Result<ProjectRow, ServiceError> {
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
) -> Result<aisc_model::UserId, ServiceError> {
    match state.store.user_id(name).await {
        Err(StoreError::NotFound) => Err(ServiceError::invalid(
            field,
            format!("there is no user {name:?}"),
            None,
        )),
        other => Ok(other?),
    }
}

/// Projects the caller may see.
pub async fn list_projects(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<ProjectView>, ServiceError> {
    let all = state.store.projects().await?;
    Ok(all
        .iter()
        .filter(|p| {
            authorize(
                caller,
                Access::Read,
                Resource::Project {
                    name: &p.name,
                    id: p.id,
                    org: p.org,
                },
            )
            .is_ok()
        })
        .map(project_view)
        .collect())
}

/// A project and its members.
pub async fn show_project(
    state: &AppState,
    caller: &Caller,
    name: String,
) -> Result<ProjectDetail, ServiceError> {
    let p = project_by_name(state, caller, &name, Access::Read).await?;
    let members = state.store.members(p.id).await?;
    Ok(ProjectDetail {
        project: project_view(&p),
        members: members
            .into_iter()
            .map(|(user, role)| MemberView {
                user,
                role: role.as_str().into(),
            })
            .collect(),
    })
}

/// Add a member to a project, or change their role (the project's PI, or its organisation's administrators).
pub async fn set_member(
    state: &AppState,
    caller: &Caller,
    (project, user): (String, String),
    req: MemberRequest,
) -> Result<ActionResult, ServiceError> {
    let p = project_by_name(state, caller, &project, Access::Manage).await?;
    let role: ProjectRole = req
        .role
        .as_deref()
        .unwrap_or("member")
        .parse()
        .map_err(|e: String| ServiceError::invalid("role", e, None))?;
    let uid = user_by_name(state, "user", &user).await?;
    let audit = caller.audit(
        "project.member.set",
        format!("project:{project}"),
        format!("{user} is {}", role.as_str()),
    );
    state
        .store
        .tenancy(
            TenancyChange::SetMember {
                project: p.id,
                user: uid,
                role,
            },
            Some(audit),
        )
        .await?;
    state.tokens.clear();
    Ok(ActionResult {
        id: p.id.0,
        result: format!("{user} is {} of {project}", role.as_str()),
    })
}

/// Organisations the caller may see.
pub async fn list_orgs(state: &AppState, caller: &Caller) -> Result<Vec<OrgView>, ServiceError> {
    let all = state.store.orgs().await?;
    Ok(all
        .into_iter()
        .filter(|o| {
            authorize(
                caller,
                Access::Read,
                Resource::Org {
                    name: &o.name,
                    id: o.id,
                },
            )
            .is_ok()
        })
        .map(org_view)
        .collect())
}

/// Create an organisation (centre administrators).
pub async fn create_org(
    state: &AppState,
    caller: &Caller,
    req: OrgRequest,
) -> Result<OrgView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    named("name", &req.name)?;
    let kind: OrgKind = req
        .kind
        .parse()
        .map_err(|e: String| ServiceError::invalid("kind", e, None))?;
    let now = crate::clock::now_ms();
    let change = TenancyChange::CreateOrg {
        name: req.name.clone(),
        kind: kind.to_string(),
        at_ms: now,
    };
    let audit = caller.audit(
        "org.create",
        format!("org:{}", req.name),
        format!("created ({kind})"),
    );
    let id = state.store.tenancy(change, Some(audit)).await?;
    Ok(OrgView {
        id,
        name: req.name,
        kind: kind.to_string(),
        created_at: rfc3339(now),
    })
}

/// Create a project in an organisation (its administrators, or centre administrators).
pub async fn create_project(
    state: &AppState,
    caller: &Caller,
    req: ProjectRequest,
) -> Result<ProjectView, ServiceError> {
    named("name", &req.name)?;
    let o = org_by_name(state, &req.org).await?;
    authorize(
        caller,
        Access::Manage,
        Resource::Org {
            name: &o.name,
            id: o.id,
        },
    )?;
    let pi = user_by_name(state, "pi", &req.pi).await?;
    let title = req.title.clone().unwrap_or_else(|| req.name.clone());
    if title.trim().is_empty() || title.chars().count() > 200 {
        return Err(ServiceError::invalid(
            "title",
            "a title is 1 to 200 characters",
            Some("200".into()),
        ));
    }
    let now = crate::clock::now_ms();
    let change = TenancyChange::CreateProject {
        org: o.id,
        name: req.name.clone(),
        title: title.clone(),
        pi,
        at_ms: now,
    };
    let audit = caller.audit(
        "project.create",
        format!("project:{}", req.name),
        format!("created in {} with PI {}", o.name, req.pi),
    );
    let id = state.store.tenancy(change, Some(audit)).await?;
    state.tokens.clear();
    Ok(ProjectView {
        id,
        name: req.name,
        title,
        org: o.name,
        created_at: rfc3339(now),
    })
}

/// Makes a user an administrator of an organisation (centre administrators).
pub async fn add_org_admin(
    state: &AppState,
    caller: &Caller,
    org: &str,
    req: aisc_api::tenancy::OrgAdminRequest,
) -> Result<ActionResult, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    let o = org_by_name(state, org).await?;
    let user = user_by_name(state, "user", &req.user).await?;
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
    Ok(ActionResult {
        id: o.id.0,
        result: format!("{} administers {org}", req.user),
    })
}

/// Removes a member from a project (those who manage it).
pub async fn remove_member(
    state: &AppState,
    caller: &Caller,
    project: &str,
    user: &str,
) -> Result<ActionResult, ServiceError> {
    let p = project_by_name(state, caller, project, Access::Manage).await?;
    let uid = state
        .store
        .user_id(user)
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
    Ok(ActionResult {
        id: p.id.0,
        result: format!("{user} removed from {project}"),
    })
}
