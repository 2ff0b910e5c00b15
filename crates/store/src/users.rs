//! Users and API tokens. Only token hashes are stored; the token itself is
//! shown once, to whoever created it.

use crate::Store;
use crate::audit::NewAudit;
use crate::error::StoreError;
use crate::writer::Op;
use aisc_model::UserId;
use sqlx::{Row, SqliteConnection};

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Whose it is.
    pub user: UserId,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// What it is for.
    pub label: String,
    /// When it was made.
    pub created_ms: i64,
    /// When it stops working, if ever.
    pub expires_ms: Option<i64>,
}

/// The user a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// Id.
    pub id: UserId,
    /// Name.
    pub name: String,
    /// Centre role (`admin`, `user`, ...).
    pub role: String,
}

pub(crate) async fn insert_user(
    conn: &mut SqliteConnection,
    name: &str,
    role: &str,
    at_ms: i64,
    token: Option<&NewToken>,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (name, role, created_ms) VALUES (?, ?, ?) RETURNING id",
    )
    .bind(name)
    .bind(role)
    .bind(at_ms)
    .fetch_one(&mut *conn)
    .await?;
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
    conn: &mut SqliteConnection,
    t: &NewToken,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, token_hash, label, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(t.user.0)
    .bind(&t.token_hash)
    .bind(&t.label)
    .bind(t.created_ms)
    .bind(t.expires_ms)
    .fetch_one(conn)
    .await?)
}

impl Store {
    /// Creates a user.
    pub async fn create_user(
        &self,
        name: &str,
        role: &str,
        at_ms: i64,
    ) -> Result<UserId, StoreError> {
        let op = Op::CreateUser {
            name: name.to_string(),
            role: role.to_string(),
            at_ms,
            token: None,
        };
        self.write(op, None).await.map(UserId)
    }

    /// Creates a user and its first token in one transaction (`token.user` is ignored).
    pub async fn create_user_with_token(
        &self,
        name: &str,
        role: &str,
        at_ms: i64,
        token: NewToken,
        audit: NewAudit,
    ) -> Result<UserId, StoreError> {
        let op = Op::CreateUser {
            name: name.to_string(),
            role: role.to_string(),
            at_ms,
            token: Some(token),
        };
        self.write(op, Some(audit)).await.map(UserId)
    }

    /// Stores a token's hash.
    pub async fn create_token(&self, token: NewToken) -> Result<(), StoreError> {
        self.write(Op::CreateToken(token), None).await.map(|_| ())
    }

    /// How many users exist.
    pub async fn user_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.read)
            .await?)
    }

    /// The user whose live (unrevoked, unexpired) token hashes to `token_hash`.
    pub async fn authenticate(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<AuthUser>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = ? AND t.revoked_ms IS NULL AND (t.expires_ms IS NULL OR t.expires_ms > ?)",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(AuthUser {
                id: UserId(r.try_get("id")?),
                name: r.try_get("name")?,
                role: r.try_get("role")?,
            })
        })
        .transpose()
    }
}
