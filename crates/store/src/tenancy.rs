//! Organisations, projects, memberships and organisation administrators.

use crate::Store;
use crate::audit::NewAudit;
use crate::error::StoreError;
use crate::writer::Op;
use aisc_model::tenancy::ProjectRole;
use aisc_model::{OrgId, ProjectId, UserId};
use sqlx::{AnyConnection, Row};

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRow {
    /// Id.
    pub id: OrgId,
    /// Unique name.
    pub name: String,
    /// Kind (`university`, ...).
    pub kind: String,
    /// Created at.
    pub created_ms: i64,
}

/// A project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    /// Id.
    pub id: ProjectId,
    /// Its organisation.
    pub org: OrgId,
    /// The organisation's name.
    pub org_name: String,
    /// Unique name (what jobs name as their account).
    pub name: String,
    /// Title.
    pub title: String,
    /// Created at.
    pub created_ms: i64,
    /// Closed at (no new jobs, grants or files; its data key destroyed).
    pub closed_ms: Option<i64>,
    /// Erased at (its records' personal data removed too).
    pub erased_ms: Option<i64>,
    /// Bytes of files it may keep (`None`: the server's default).
    pub data_quota_bytes: Option<i64>,
}

/// A change to tenancy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenancyChange {
    /// A new organisation.
    CreateOrg {
        /// Name.
        name: String,
        /// Kind.
        kind: String,
        /// When.
        at_ms: i64,
    },
    /// A new project with its principal investigator.
    CreateProject {
        /// Organisation.
        org: OrgId,
        /// Name.
        name: String,
        /// Title.
        title: String,
        /// Its PI.
        pi: UserId,
        /// When.
        at_ms: i64,
    },
    /// Adds someone to a project, or changes their role in it.
    SetMember {
        /// Project.
        project: ProjectId,
        /// User.
        user: UserId,
        /// Role.
        role: ProjectRole,
    },
    /// Removes someone from a project.
    RemoveMember {
        /// Project.
        project: ProjectId,
        /// User.
        user: UserId,
    },
    /// Makes someone an administrator of an organisation.
    AddOrgAdmin {
        /// Organisation.
        org: OrgId,
        /// User.
        user: UserId,
    },
}

fn unique(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Exists(what),
        _ => StoreError::Db(e),
    }
}

pub(crate) async fn apply(conn: &mut AnyConnection, c: &TenancyChange) -> Result<i64, StoreError> {
    match c {
        TenancyChange::CreateOrg { name, kind, at_ms } => sqlx::query_scalar(
            "INSERT INTO organisations (name, kind, created_ms) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(kind)
        .bind(at_ms)
        .fetch_one(conn)
        .await
        .map_err(unique("an organisation with this name")),
        TenancyChange::CreateProject {
            org,
            name,
            title,
            pi,
            at_ms,
        } => {
            let id: i64 =
                sqlx::query_scalar("INSERT INTO projects (org_id, name, title, created_ms) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(org.0)
                    .bind(name)
                    .bind(title)
                    .bind(at_ms)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(unique("a project with this name"))?;
            sqlx::query(
                "INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, 'pi')",
            )
            .bind(id)
            .bind(pi.0)
            .execute(conn)
            .await?;
            Ok(id)
        }
        TenancyChange::SetMember {
            project,
            user,
            role,
        } => {
            sqlx::query(
                "INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, $3) \
                 ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
            )
            .bind(project.0)
            .bind(user.0)
            .bind(role.as_str())
            .execute(conn)
            .await?;
            Ok(0)
        }
        TenancyChange::RemoveMember { project, user } => {
            let done =
                sqlx::query("DELETE FROM memberships WHERE project_id = $1 AND user_id = $2")
                    .bind(project.0)
                    .bind(user.0)
                    .execute(conn)
                    .await?;
            if done.rows_affected() == 1 {
                Ok(0)
            } else {
                Err(StoreError::NotFound)
            }
        }
        TenancyChange::AddOrgAdmin { org, user } => {
            sqlx::query(
                "INSERT INTO org_admins (org_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(org.0)
            .bind(user.0)
            .execute(conn)
            .await?;
            Ok(0)
        }
    }
}

fn org_row(r: &sqlx::any::AnyRow) -> Result<OrgRow, StoreError> {
    Ok(OrgRow {
        id: OrgId(r.try_get("id")?),
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        created_ms: r.try_get("created_ms")?,
    })
}

fn project_row(r: &sqlx::any::AnyRow) -> Result<ProjectRow, StoreError> {
    Ok(ProjectRow {
        id: ProjectId(r.try_get("id")?),
        org: OrgId(r.try_get("org_id")?),
        org_name: r.try_get("org_name")?,
        name: r.try_get("name")?,
        title: r.try_get("title")?,
        created_ms: r.try_get("created_ms")?,
        closed_ms: r.try_get("closed_ms")?,
        erased_ms: r.try_get("erased_ms")?,
        data_quota_bytes: r.try_get("data_quota_bytes")?,
    })
}

impl Store {
    /// Applies a tenancy change with its audit event; returns the new row's id where one is made.
    pub async fn tenancy(
        &self,
        change: TenancyChange,
        audit: Option<NewAudit>,
    ) -> Result<i64, StoreError> {
        self.write(Op::Tenancy(change), audit).await
    }

    /// Every organisation, by name.
    pub async fn orgs(&self) -> Result<Vec<OrgRow>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name, kind, created_ms FROM organisations ORDER BY name")
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(org_row).collect()
    }

    /// An organisation by name.
    pub async fn org(&self, name: &str) -> Result<OrgRow, StoreError> {
        let row =
            sqlx::query("SELECT id, name, kind, created_ms FROM organisations WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.read)
                .await?;
        row.as_ref().map(org_row).ok_or(StoreError::NotFound)?
    }

    /// Every project, by name.
    pub async fn projects(&self) -> Result<Vec<ProjectRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.org_id, o.name AS org_name, p.name, p.title, p.created_ms, \
             p.closed_ms, p.erased_ms, p.data_quota_bytes \
             FROM projects p JOIN organisations o ON o.id = p.org_id ORDER BY p.name",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(project_row).collect()
    }

    /// A project by name.
    pub async fn project(&self, name: &str) -> Result<ProjectRow, StoreError> {
        let row = sqlx::query(
            "SELECT p.id, p.org_id, o.name AS org_name, p.name, p.title, p.created_ms, \
             p.closed_ms, p.erased_ms, p.data_quota_bytes \
             FROM projects p JOIN organisations o ON o.id = p.org_id WHERE p.name = $1",
        )
        .bind(name)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(project_row).ok_or(StoreError::NotFound)?
    }

    /// A project by id.
    pub async fn project_by_id(&self, id: ProjectId) -> Result<ProjectRow, StoreError> {
        let row = sqlx::query(
            "SELECT p.id, p.org_id, o.name AS org_name, p.name, p.title, p.created_ms, \
             p.closed_ms, p.erased_ms, p.data_quota_bytes \
             FROM projects p JOIN organisations o ON o.id = p.org_id WHERE p.id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(project_row).ok_or(StoreError::NotFound)?
    }

    /// A project's members and their roles, PIs first.
    pub async fn members(
        &self,
        project: ProjectId,
    ) -> Result<Vec<(String, ProjectRole)>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.name, m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 \
             ORDER BY m.role = 'pi' DESC, u.name",
        )
        .bind(project.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                let role = role.parse().map_err(|_| StoreError::Corrupt {
                    column: "memberships.role",
                    value: role,
                })?;
                Ok((r.try_get("name")?, role))
            })
            .collect()
    }

    /// A user's id by name.
    pub async fn user_id(&self, name: &str) -> Result<UserId, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        id.map(UserId).ok_or(StoreError::NotFound)
    }
}
