//! Users, logins, tokens and roles.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A password login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// What the token is for (default `login`).
    #[serde(default)]
    pub label: Option<String>,
    /// Lifetime, e.g. `30d`, `12h` (default 30 days, at most 365 days).
    #[serde(default)]
    pub expires: Option<String>,
    /// `full` (default) or `read`.
    #[serde(default)]
    pub scope: Option<String>,
}

/// A token request for the caller.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TokenRequest {
    /// What the token is for.
    pub label: Option<String>,
    /// Lifetime, e.g. `90d` (default 90 days, at most 365 days).
    pub expires: Option<String>,
    /// `full` (default) or `read`.
    pub scope: Option<String>,
}

/// A new token: shown this once, never again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssuedToken {
    /// Token id (for listing and revoking).
    pub id: i64,
    /// The token itself.
    pub token: String,
    /// Whose it is.
    pub user: String,
    /// What it is for.
    pub label: String,
    /// `full` or `read`.
    pub scope: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// A token as listed (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    /// Id.
    pub id: i64,
    /// Whose it is.
    pub user: String,
    /// What it is for.
    pub label: String,
    /// `full` or `read`.
    pub scope: String,
    /// Created at.
    pub created_at: String,
    /// Expires at, if ever.
    pub expires_at: Option<String>,
    /// Revoked at, if revoked.
    pub revoked_at: Option<String>,
}

/// A user to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    /// Unique name: 1 to 64 of a-z, 0-9, `.`, `_`, `-`, starting with a letter or digit.
    pub name: String,
    /// `admin`, `reviewer`, `auditor` or `user` (default).
    #[serde(default)]
    pub role: Option<String>,
    /// A password (12 to 1024 bytes), if the user may log in with one.
    #[serde(default)]
    pub password: Option<String>,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Centre role.
    pub role: String,
    /// Whether the user can log in with a password.
    pub has_password: bool,
    /// Created at.
    pub created_at: String,
    /// The Unix user name their jobs run as on Slurm, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix_name: Option<String>,
}

/// A user's new centre role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// `admin`, `reviewer`, `auditor` or `user`.
    pub role: String,
}

/// Which tokens to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TokenListParams {
    /// Everyone's tokens (administrators only).
    #[serde(default)]
    pub all: bool,
}

/// A new password.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// 12 to 1024 bytes.
    pub password: String,
    /// The password now, when changing your own that is set already (so that
    /// a stolen session cannot lock its owner out). Not needed when an
    /// administrator sets another user's.
    #[serde(default)]
    pub current: Option<String>,
}

impl std::fmt::Debug for PasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordRequest { password: <hidden>, current: <hidden> }")
    }
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .field("label", &self.label)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}
