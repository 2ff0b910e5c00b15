//! Authorisation, decided here and nowhere else. Deny by default.
//!
//! | who | may |
//! |---|---|
//! | centre `admin` | everything |
//! | centre `auditor` | read everything; change nothing |
//! | organisation admin | read and manage the organisation, its projects and their jobs |
//! | project `pi` | read and manage the project (members), read and act on all its jobs, submit |
//! | project `member` | read the project, submit to it, read and act on their own jobs (not its statements) |
//! | anyone else | nothing of that tenant: it answers 404, never 403, so nothing leaks that it exists |
//!
//! Centre-wide things (users, organisations, the audit trail) are not tenant
//! resources: refusals there are 403.

use crate::auth::Caller;
use crate::service::ServiceError;
use aisc_model::tenancy::{CentreRole, ProjectRole};
use aisc_model::{OrgId, ProjectId, UserId};
use aisc_store::Visibility;

/// What is being accessed.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// A job, with its owner and tenancy.
    Job {
        /// Owner.
        owner: UserId,
        /// Project.
        project: Option<ProjectId>,
        /// Organisation.
        org: Option<OrgId>,
    },
    /// A project, by name (for messages), id and organisation.
    Project {
        /// Name.
        name: &'a str,
        /// Id.
        id: ProjectId,
        /// Organisation.
        org: OrgId,
    },
    /// An organisation.
    Org {
        /// Name.
        name: &'a str,
        /// Id.
        id: OrgId,
    },
    /// An application for compute, by its project. Reviewers may read every one.
    Application {
        /// The applying project's name.
        project_name: &'a str,
        /// The project.
        project: ProjectId,
        /// Its organisation.
        org: OrgId,
    },
    /// The centre as a whole: users, organisations, the audit trail.
    Centre,
}

/// What is being done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Look.
    Read,
    /// Cancel, release (jobs).
    Act,
    /// Submit a job to (projects).
    Submit,
    /// Change membership, create projects (projects, organisations), or anything centre-wide.
    Manage,
    /// Read financial records: statements (PIs and organisation administrators; auditors).
    Finances,
}

fn role_in(caller: &Caller, project: ProjectId) -> Option<ProjectRole> {
    caller
        .user
        .projects
        .iter()
        .find(|m| m.project == project)
        .map(|m| m.role)
}

fn org_admin(caller: &Caller, org: OrgId) -> bool {
    caller.user.org_admin.contains(&org)
}

/// Allows or refuses `access` to `resource` for `caller`.
pub fn authorize(
    caller: &Caller,
    access: Access,
    resource: Resource<'_>,
) -> Result<(), ServiceError> {
    let role = caller.user.role;
    if role == CentreRole::Admin {
        return Ok(());
    }
    let forbidden = |why: &str| Err(ServiceError::Forbidden(why.to_string()));
    if role == CentreRole::Auditor {
        return if matches!(access, Access::Read | Access::Finances) {
            Ok(())
        } else {
            forbidden("auditors read; they change nothing")
        };
    }
    match resource {
        Resource::Centre => forbidden("this is for centre administrators"),
        Resource::Application { .. } if role == CentreRole::Reviewer && access == Access::Read => {
            Ok(())
        }
        Resource::Application {
            project_name,
            project,
            org,
        } => authorize(
            caller,
            access,
            Resource::Project {
                name: project_name,
                id: project,
                org,
            },
        ),
        Resource::Job {
            owner,
            project,
            org,
        } => {
            let leads = project.and_then(|p| role_in(caller, p)) == Some(ProjectRole::Pi);
            let admins = org.is_some_and(|o| org_admin(caller, o));
            if owner == caller.user.id || leads || admins {
                Ok(())
            } else {
                Err(ServiceError::NotFound("job".into()))
            }
        }
        Resource::Project { name, id, org } => {
            let member = role_in(caller, id);
            let admins = org_admin(caller, org);
            if member.is_none() && !admins {
                return Err(ServiceError::NotFound(format!("project {name}")));
            }
            match access {
                Access::Read => Ok(()),
                Access::Submit if member.is_some() => Ok(()),
                Access::Submit => forbidden(&format!("you are not a member of project {name}")),
                Access::Manage | Access::Act | Access::Finances
                    if member == Some(ProjectRole::Pi) || admins =>
                {
                    Ok(())
                }
                Access::Manage | Access::Act | Access::Finances => {
                    forbidden(&format!("only the PI of project {name} may do that"))
                }
            }
        }
        Resource::Org { name, id } => {
            let admins = org_admin(caller, id);
            let member = caller.user.projects.iter().any(|m| m.org == id);
            match access {
                _ if !admins && !member => {
                    Err(ServiceError::NotFound(format!("organisation {name}")))
                }
                Access::Read => Ok(()),
                _ if admins => Ok(()),
                _ => forbidden(&format!("only administrators of {name} may do that")),
            }
        }
    }
}

/// The owner rule for a project's files: every member adds files and reads
/// them all; a file is deleted or replaced (or an upload abandoned) only by
/// its uploader, the project's PI, its organisation's administrators or a
/// centre administrator. (The project itself must already be writable for
/// the caller: see [`authorize`] with [`Access::Submit`].)
pub fn may_change_file(
    caller: &Caller,
    project: Resource<'_>,
    owner_name: &str,
    path: &str,
) -> Result<(), ServiceError> {
    if caller.user.name == owner_name || authorize(caller, Access::Manage, project).is_ok() {
        return Ok(());
    }
    Err(ServiceError::Forbidden(format!(
        "{path} is {owner_name}'s: only its uploader, the project's PI or its organisation's administrators may delete or replace it"
    )))
}

/// Who is reading a job's content (its command or script, working directory,
/// environment and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentReader {
    /// Its owner, its project's PI or its organisation's administrators.
    Tenant,
    /// A centre administrator or an auditor from outside the tenant: allowed,
    /// and each such read is an audit event.
    Centre,
}

/// Whether `caller` may read a job's content. Auditors see jobs' metadata
/// (who, what resources, when, cost, states) but not their content, unless
/// the centre allows it (`auditors_may`); an administrator may, as one of the
/// centre's staff, which the caller records in the audit trail.
pub fn read_content(
    caller: &Caller,
    resource: Resource<'_>,
    auditors_may: bool,
    what: impl FnOnce() -> String,
) -> Result<ContentReader, ServiceError> {
    let tenant = {
        let mut c = caller.clone();
        let mut user = (*c.user).clone();
        user.role = CentreRole::User;
        c.user = std::sync::Arc::new(user);
        authorize(&c, Access::Read, resource).is_ok()
    };
    if tenant {
        return Ok(ContentReader::Tenant);
    }
    match caller.user.role {
        CentreRole::Admin => Ok(ContentReader::Centre),
        CentreRole::Auditor if auditors_may => Ok(ContentReader::Centre),
        CentreRole::Auditor => Err(ServiceError::Forbidden(format!(
            "auditors see {}'s metadata, not its command, script, environment or logs (the centre has not allowed that: aisc serve --auditors-read-content)",
            what()
        ))),
        _ => authorize_as(caller, Access::Read, resource, what).map(|()| ContentReader::Tenant),
    }
}

/// [`authorize`], with a refusal that hides the resource naming it as `what`
/// (`job 7`), so that the 404 reads the same whether it does not exist or is
/// another tenant's.
pub fn authorize_as(
    caller: &Caller,
    access: Access,
    resource: Resource<'_>,
    what: impl FnOnce() -> String,
) -> Result<(), ServiceError> {
    authorize(caller, access, resource).map_err(|e| match e {
        ServiceError::NotFound(_) => ServiceError::NotFound(what()),
        other => other,
    })
}

/// Whether the caller belongs to an organisation at all (a member of one of its
/// projects, or one of its administrators): a reviewer who does has a conflict
/// of interest with its applications.
pub fn belongs_to(caller: &Caller, org: OrgId) -> bool {
    org_admin(caller, org) || caller.user.projects.iter().any(|m| m.org == org)
}

/// Whether `authorize` would allow it: for what a page offers (links,
/// buttons), decided by the same rules as the action itself.
pub fn allows(caller: &Caller, access: Access, resource: Resource<'_>) -> bool {
    authorize(caller, access, resource).is_ok()
}

/// Whether the caller scores applications (a reviewer).
pub fn reviews(caller: &Caller) -> bool {
    caller.user.role == CentreRole::Reviewer
}

/// Whether the caller may score an application of organisation `org`: a
/// reviewer who belongs to no part of it (no conflict of interest).
pub fn may_review(caller: &Caller, org: OrgId) -> Result<(), ServiceError> {
    if caller.user.role != CentreRole::Reviewer {
        return Err(ServiceError::Forbidden(
            "only reviewers score applications".into(),
        ));
    }
    if belongs_to(caller, org) {
        return Err(ServiceError::Forbidden(
            "conflict of interest: you belong to the applicant's organisation".into(),
        ));
    }
    Ok(())
}

/// Whose tokens the caller may revoke: `None`, anyone's (administrators);
/// else only their own.
pub fn token_owner_scope(caller: &Caller) -> Option<UserId> {
    (caller.user.role != CentreRole::Admin).then_some(caller.user.id)
}

/// Whether the caller may run a job at a QOS its grant does not allow (the
/// `high` QOS): centre administrators.
pub fn may_override_qos(caller: &Caller) -> bool {
    caller.user.role == CentreRole::Admin
}

/// Whether the caller sees every tenant's jobs and projects (administrators
/// and auditors), as [`job_visibility`] answers `None` for.
pub fn sees_every_tenant(caller: &Caller) -> bool {
    matches!(caller.user.role, CentreRole::Admin | CentreRole::Auditor)
}

/// The jobs a caller may list: `None` means all of them.
pub fn job_visibility(caller: &Caller) -> Option<Visibility> {
    if sees_every_tenant(caller) {
        return None;
    }
    Some(Visibility {
        user: caller.user.id,
        projects: caller
            .user
            .projects
            .iter()
            .filter(|m| m.role == ProjectRole::Pi)
            .map(|m| m.project)
            .collect(),
        orgs: caller.user.org_admin.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisc_store::{AuthUser, Membership};

    fn caller(role: &str, projects: &[(i64, i64, ProjectRole)], org_admin: &[i64]) -> Caller {
        Caller {
            user: std::sync::Arc::new(AuthUser {
                id: UserId(10),
                name: "x".into(),
                role: role.parse().expect("a centre role"),
                scope: "full".into(),
                projects: projects
                    .iter()
                    .map(|(p, o, r)| Membership {
                        project: ProjectId(*p),
                        name: format!("p{p}"),
                        org: OrgId(*o),
                        role: *r,
                    })
                    .collect(),
                org_admin: org_admin.iter().map(|o| OrgId(*o)).collect(),
                expires_ms: None,
            }),
            source: "test".into(),
        }
    }

    fn job(owner: i64, project: i64, org: i64) -> Resource<'static> {
        Resource::Job {
            owner: UserId(owner),
            project: Some(ProjectId(project)),
            org: Some(OrgId(org)),
        }
    }

    fn status(r: Result<(), ServiceError>) -> u16 {
        match r {
            Ok(()) => 200,
            Err(ServiceError::NotFound(_)) => 404,
            Err(ServiceError::Forbidden(_)) => 403,
            Err(_) => 500,
        }
    }

    #[test]
    fn jobs_are_seen_by_owner_pi_and_org_admin_only() {
        let member = caller("user", &[(1, 1, ProjectRole::Member)], &[]);
        let pi = caller("user", &[(1, 1, ProjectRole::Pi)], &[]);
        let org = caller("user", &[], &[1]);
        let stranger = caller("user", &[(2, 2, ProjectRole::Pi)], &[2]);
        assert_eq!(
            status(authorize(&member, Access::Read, job(10, 1, 1))),
            200,
            "own job"
        );
        assert_eq!(
            status(authorize(&member, Access::Read, job(11, 1, 1))),
            404,
            "a fellow member's job"
        );
        assert_eq!(status(authorize(&pi, Access::Act, job(11, 1, 1))), 200);
        assert_eq!(status(authorize(&org, Access::Act, job(11, 1, 1))), 200);
        assert_eq!(
            status(authorize(&stranger, Access::Read, job(11, 1, 1))),
            404
        );
    }

    #[test]
    fn auditors_read_everything_and_change_nothing() {
        let a = caller("auditor", &[], &[]);
        assert_eq!(status(authorize(&a, Access::Read, job(11, 1, 1))), 200);
        assert_eq!(status(authorize(&a, Access::Read, Resource::Centre)), 200);
        for access in [Access::Act, Access::Submit, Access::Manage] {
            assert_eq!(status(authorize(&a, access, job(11, 1, 1))), 403);
            assert_eq!(status(authorize(&a, access, Resource::Centre)), 403);
        }
        assert_eq!(job_visibility(&a), None);
    }

    #[test]
    fn projects_answer_404_to_strangers_and_403_to_members_without_the_right() {
        let p = Resource::Project {
            name: "p1",
            id: ProjectId(1),
            org: OrgId(1),
        };
        let member = caller("user", &[(1, 1, ProjectRole::Member)], &[]);
        let org = caller("reviewer", &[], &[1]);
        let stranger = caller("user", &[], &[]);
        assert_eq!(status(authorize(&member, Access::Submit, p)), 200);
        assert_eq!(status(authorize(&member, Access::Manage, p)), 403);
        assert_eq!(status(authorize(&org, Access::Manage, p)), 200);
        assert_eq!(
            status(authorize(&org, Access::Submit, p)),
            403,
            "org admins are not members"
        );
        for access in [Access::Read, Access::Submit, Access::Manage] {
            assert_eq!(status(authorize(&stranger, access, p)), 404);
        }
        assert_eq!(
            status(authorize(&stranger, Access::Read, Resource::Centre)),
            403
        );
    }

    #[test]
    fn statements_are_for_pis_org_admins_and_auditors() {
        let p = Resource::Project {
            name: "p1",
            id: ProjectId(1),
            org: OrgId(1),
        };
        let status_of = |c: &Caller| status(authorize(c, Access::Finances, p));
        assert_eq!(
            status_of(&caller("user", &[(1, 1, ProjectRole::Pi)], &[])),
            200
        );
        assert_eq!(status_of(&caller("user", &[], &[1])), 200);
        assert_eq!(status_of(&caller("auditor", &[], &[])), 200);
        assert_eq!(
            status_of(&caller("user", &[(1, 1, ProjectRole::Member)], &[])),
            403
        );
        assert_eq!(status_of(&caller("user", &[], &[])), 404);
    }

    #[test]
    fn reviewers_read_every_application_and_manage_none() {
        let app = Resource::Application {
            project_name: "p1",
            project: ProjectId(1),
            org: OrgId(1),
        };
        let r = caller("reviewer", &[], &[]);
        assert_eq!(status(authorize(&r, Access::Read, app)), 200);
        assert_eq!(status(authorize(&r, Access::Manage, app)), 404);
        let pi = caller("user", &[(1, 1, ProjectRole::Pi)], &[]);
        assert_eq!(status(authorize(&pi, Access::Manage, app)), 200);
        let member = caller("user", &[(1, 1, ProjectRole::Member)], &[]);
        assert_eq!(status(authorize(&member, Access::Read, app)), 200);
        assert_eq!(status(authorize(&member, Access::Manage, app)), 403);
    }

    /// Whether `caller` belongs to organisation `org` in any way: the test of a conflict of interest.
    #[test]
    fn belonging_to_an_organisation() {
        let c = caller("reviewer", &[(5, 2, ProjectRole::Member)], &[3]);
        assert!(belongs_to(&c, OrgId(2)));
        assert!(belongs_to(&c, OrgId(3)));
        assert!(!belongs_to(&c, OrgId(1)));
    }

    #[test]
    fn visibility_lists_what_authorize_allows() {
        let c = caller(
            "user",
            &[(1, 1, ProjectRole::Pi), (2, 1, ProjectRole::Member)],
            &[3],
        );
        let v = job_visibility(&c).unwrap();
        assert_eq!(v.projects, vec![ProjectId(1)]);
        assert_eq!(v.orgs, vec![OrgId(3)]);
    }
}
