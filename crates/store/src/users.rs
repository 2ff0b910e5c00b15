//! Users and API tokens. Passwords are stored as argon2id PHC strings (hashed
//! by the caller) and tokens as SHA-256 hashes; neither is ever stored in clear.

use crate::Store;
use crate::audit::NewAudit;
use crate::error::StoreError;
use crate::sql::RowExt as _;
use crate::writer::Op;
use aisc_model::tenancy::ProjectRole;
use aisc_model::{OrgId, ProjectId, UserId};
use sqlx::{AnyConnection, Row};

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Unique name.
    pub name: String,
    /// Centre role (`admin`, `reviewer`, `auditor`, `user`).
    pub role: String,
    /// argon2id PHC string, if the user may log in with a password.
    pub password_hash: Option<String>,
    /// When.
    pub created_ms: i64,
}

/// A token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// Whose it is (ignored when created together with its user).
    pub user: UserId,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// What it is for.
    pub label: String,
    /// `full`, or `read` (may only read).
    pub scope: String,
    /// When it was made.
    pub created_ms: i64,
    /// When it stops working, if ever.
    pub expires_ms: Option<i64>,
}

/// The user a valid token belongs to, what the token allows, and where the
/// user belongs (loaded with the token, so that authorisation needs no query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// Id.
    pub id: UserId,
    /// Name.
    pub name: String,
    /// Centre role.
    pub role: aisc_model::tenancy::CentreRole,
    /// The token's scope (`full` or `read`).
    pub scope: String,
    /// Projects the user belongs to, with each project's organisation and the user's role.
    pub projects: Vec<Membership>,
    /// Organisations the user administers.
    pub org_admin: Vec<OrgId>,
    /// When the token expires, epoch ms (checked on every request, cached or not).
    pub expires_ms: Option<i64>,
}

/// One project membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The project.
    pub project: ProjectId,
    /// Its name.
    pub name: String,
    /// Its organisation.
    pub org: OrgId,
    /// The user's role in it.
    pub role: ProjectRole,
}

fn parse_memberships(s: Option<String>) -> Result<Vec<Membership>, StoreError> {
    let Some(s) = s else { return Ok(Vec::new()) };
    s.split(',')
        .map(|item| {
            let bad = || StoreError::Corrupt {
                column: "memberships",
                value: item.to_string(),
            };
            let mut it = item.split(':');
            let project = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
            let org = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
            let role = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
            let name = it.next().ok_or_else(bad)?.to_string();
            Ok(Membership {
                project: ProjectId(project),
                name,
                org: OrgId(org),
                role,
            })
        })
        .collect()
}

fn parse_ids(s: Option<String>) -> Result<Vec<OrgId>, StoreError> {
    let Some(s) = s else { return Ok(Vec::new()) };
    s.split(',')
        .map(|v| {
            v.parse().map(OrgId).map_err(|_| StoreError::Corrupt {
                column: "org_admins",
                value: v.to_string(),
            })
        })
        .collect()
}

/// A user as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Id.
    pub id: UserId,
    /// Name.
    pub name: String,
    /// Centre role.
    pub role: String,
    /// Whether a password is set.
    pub has_password: bool,
    /// Created at.
    pub created_ms: i64,
    /// The Unix user name their jobs run as on Slurm.
    pub unix_name: Option<String>,
}

/// A token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Id.
    pub id: i64,
    /// Owner.
    pub user: String,
    /// What it is for.
    pub label: String,
    /// `full` or `read`.
    pub scope: String,
    /// Created at.
    pub created_ms: i64,
    /// Expires at.
    pub expires_ms: Option<i64>,
    /// Revoked at.
    pub revoked_ms: Option<i64>,
}

pub(crate) async fn insert_user(
    conn: &mut AnyConnection,
    u: &NewUser,
    token: Option<&NewToken>,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar("INSERT INTO users (name, role, password_hash, created_ms) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(&u.name)
        .bind(&u.role)
        .bind(&u.password_hash)
        .bind(u.created_ms)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Exists("a user with this name"),
            _ => StoreError::Db(e),
        })?;
    if let Some(t) = token {
        insert_token(
            conn,
            &NewToken {
                user: UserId(id),
                ..t.clone()
            },
        )
        .await?;
    }
    Ok(id)
}

pub(crate) async fn insert_token(
    conn: &mut AnyConnection,
    t: &NewToken,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, token_hash, label, scope, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(t.user.0)
    .bind(&t.token_hash)
    .bind(&t.label)
    .bind(&t.scope)
    .bind(t.created_ms)
    .bind(t.expires_ms)
    .fetch_one(conn)
    .await?)
}

pub(crate) async fn revoke_token(
    conn: &mut AnyConnection,
    id: i64,
    owner: Option<UserId>,
    at_ms: i64,
) -> Result<i64, StoreError> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL AND ($3 IS NULL OR user_id = $4)",
    )
    .bind(at_ms)
    .bind(id)
    .bind(owner.map(|u| u.0))
    .bind(owner.map(|u| u.0))
    .execute(conn)
    .await?;
    one_row(&done, id)
}

/// `id` when the statement changed exactly one row, else `NotFound`.
fn one_row(done: &sqlx::any::AnyQueryResult, id: i64) -> Result<i64, StoreError> {
    if done.rows_affected() == 1 {
        Ok(id)
    } else {
        Err(StoreError::NotFound)
    }
}

/// Sets a user's role; the last administrator keeps theirs, so that the centre
/// always has one (checked inside the writer's transaction: no race).
pub(crate) async fn set_role(
    conn: &mut AnyConnection,
    user: UserId,
    role: &str,
) -> Result<i64, StoreError> {
    if role != "admin" {
        let others: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND id != $1")
                .bind(user.0)
                .fetch_one(&mut *conn)
                .await?;
        let is_admin: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
            .bind(user.0)
            .fetch_optional(&mut *conn)
            .await?;
        if others == 0 && is_admin.as_deref() == Some("admin") {
            return Err(StoreError::Refused(
                "the last administrator cannot lose the role: make another administrator first",
            ));
        }
    }
    let done = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
        .bind(role)
        .bind(user.0)
        .execute(conn)
        .await?;
    one_row(&done, user.0)
}

pub(crate) async fn set_password(
    conn: &mut AnyConnection,
    user: UserId,
    hash: &str,
) -> Result<i64, StoreError> {
    let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user.0)
        .execute(conn)
        .await?;
    one_row(&done, user.0)
}

pub(crate) async fn set_unix_name(
    conn: &mut AnyConnection,
    user: UserId,
    unix_name: Option<&str>,
) -> Result<i64, StoreError> {
    let done = sqlx::query("UPDATE users SET unix_name = $1 WHERE id = $2")
        .bind(unix_name)
        .bind(user.0)
        .execute(conn)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Exists("a user with this Unix name")
            }
            e => StoreError::Db(e),
        })?;
    one_row(&done, user.0)
}

impl Store {
    /// Sets (or with `None` clears) the Unix user name a user's jobs run as on Slurm.
    pub async fn set_unix_name(
        &self,
        user: UserId,
        unix_name: Option<String>,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        self.write(Op::UnixName { user, unix_name }, Some(audit))
            .await
            .map(|_| ())
    }

    /// Gives a user another role (never the last administrator's away).
    pub async fn set_role(
        &self,
        user: UserId,
        role: String,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        self.write(Op::Role { user, role }, Some(audit))
            .await
            .map(|_| ())
    }

    /// Sets a user's password (its argon2id PHC string).
    pub async fn set_password(
        &self,
        user: UserId,
        hash: String,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        self.write(Op::Password { user, hash }, Some(audit))
            .await
            .map(|_| ())
    }

    /// Records an audit event for something done outside the store.
    pub async fn record_audit(&self, audit: NewAudit) -> Result<(), StoreError> {
        self.write(Op::AuditOnly, Some(audit)).await.map(|_| ())
    }

    /// The Unix user name a user's jobs run as on Slurm, if one is set.
    pub async fn unix_name(&self, user: UserId) -> Result<Option<String>, StoreError> {
        let name: Option<Option<String>> =
            sqlx::query_scalar("SELECT unix_name FROM users WHERE id = $1")
                .bind(user.0)
                .fetch_optional(&self.read)
                .await?;
        name.ok_or(StoreError::NotFound)
    }

    /// Creates a user.
    pub async fn create_user(
        &self,
        user: NewUser,
        audit: Option<NewAudit>,
    ) -> Result<UserId, StoreError> {
        self.write(Op::CreateUser { user, token: None }, audit)
            .await
            .map(UserId)
    }

    /// Creates a user and its first token in one transaction.
    pub async fn create_user_with_token(
        &self,
        user: NewUser,
        token: NewToken,
        audit: NewAudit,
    ) -> Result<UserId, StoreError> {
        self.write(
            Op::CreateUser {
                user,
                token: Some(token),
            },
            Some(audit),
        )
        .await
        .map(UserId)
    }

    /// Stores a token's hash; returns the token's id.
    pub async fn create_token(
        &self,
        token: NewToken,
        audit: Option<NewAudit>,
    ) -> Result<i64, StoreError> {
        self.write(Op::CreateToken(token), audit).await
    }

    /// Revokes a live token, of `owner` only when given. `NotFound` if there is no such live token.
    pub async fn revoke_token(
        &self,
        id: i64,
        owner: Option<UserId>,
        at_ms: i64,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        self.write(Op::RevokeToken { id, owner, at_ms }, Some(audit))
            .await
            .map(|_| ())
    }

    /// How many users exist.
    pub async fn user_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.read)
            .await?)
    }

    /// A user and their password hash, by name, for logging in.
    pub async fn user_for_login(
        &self,
        name: &str,
    ) -> Result<Option<(UserRow, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, role, password_hash, created_ms, unix_name FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            let hash: Option<String> = r.try_get("password_hash")?;
            let user = UserRow {
                id: UserId(r.try_get("id")?),
                name: r.try_get("name")?,
                role: r.try_get("role")?,
                has_password: hash.is_some(),
                created_ms: r.try_get("created_ms")?,
                unix_name: r.try_get("unix_name")?,
            };
            Ok((user, hash))
        })
        .transpose()
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query("SELECT id, name, role, password_hash IS NOT NULL AS has_password, created_ms, unix_name FROM users ORDER BY name")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(UserRow {
                    id: UserId(r.try_get("id")?),
                    name: r.try_get("name")?,
                    role: r.try_get("role")?,
                    has_password: r.num("has_password")?,
                    created_ms: r.try_get("created_ms")?,
                    unix_name: r.try_get("unix_name")?,
                })
            })
            .collect()
    }

    /// Tokens, newest first: one user's, or everyone's.
    pub async fn tokens(&self, owner: Option<UserId>) -> Result<Vec<TokenRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.id, u.name, t.label, t.scope, t.created_ms, t.expires_ms, t.revoked_ms \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE ($1 IS NULL OR t.user_id = $2) ORDER BY t.id DESC",
        )
        .bind(owner.map(|u| u.0))
        .bind(owner.map(|u| u.0))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenRow {
                    id: r.try_get("id")?,
                    user: r.try_get("name")?,
                    label: r.try_get("label")?,
                    scope: r.try_get("scope")?,
                    created_ms: r.try_get("created_ms")?,
                    expires_ms: r.try_get("expires_ms")?,
                    revoked_ms: r.try_get("revoked_ms")?,
                })
            })
            .collect()
    }

    /// The user whose live (unrevoked, unexpired) token hashes to `token_hash`.
    pub async fn authenticate(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<AuthUser>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.role, t.scope, t.expires_ms, \
             (SELECT string_agg(m.project_id || ':' || p.org_id || ':' || m.role || ':' || p.name, ',') FROM memberships m \
              JOIN projects p ON p.id = m.project_id WHERE m.user_id = u.id) AS projects, \
             (SELECT string_agg(CAST(a.org_id AS TEXT), ',') FROM org_admins a WHERE a.user_id = u.id) AS org_admin \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_ms IS NULL AND (t.expires_ms IS NULL OR t.expires_ms > $2)",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(AuthUser {
                id: UserId(r.try_get("id")?),
                name: r.try_get("name")?,
                role: {
                    let role: String = r.try_get("role")?;
                    role.parse().map_err(|_| StoreError::Corrupt {
                        column: "users.role",
                        value: role,
                    })?
                },
                scope: r.try_get("scope")?,
                projects: parse_memberships(r.try_get("projects")?)?,
                org_admin: parse_ids(r.try_get("org_admin")?)?,
                expires_ms: r.try_get("expires_ms")?,
            })
        })
        .transpose()
    }
}
