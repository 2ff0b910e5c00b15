//! Organisations, projects and members.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An organisation to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgRequest {
    /// Unique name (a-z, 0-9, `.`, `_`, `-`).
    pub name: String,
    /// university, research-institute, enterprise, start-up, government, school or sme.
    pub kind: String,
}

/// An organisation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrgView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Created at.
    pub created_at: String,
}

/// Someone to make an organisation administrator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgAdminRequest {
    /// User name.
    pub user: String,
}

/// A project to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectRequest {
    /// Unique name (a-z, 0-9, `.`, `_`, `-`): what jobs name with `-A`.
    pub name: String,
    /// Its organisation.
    pub org: String,
    /// Its principal investigator (a user name).
    pub pi: String,
    /// A title (default: the name).
    #[serde(default)]
    pub title: Option<String>,
}

/// A project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Organisation.
    pub org: String,
    /// Created at.
    pub created_at: String,
}

/// A project member.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    /// User name.
    pub user: String,
    /// `pi` or `member`.
    pub role: String,
}

/// A project with its members.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectDetail {
    /// The project.
    #[serde(flatten)]
    pub project: ProjectView,
    /// Its members, PIs first.
    pub members: Vec<MemberView>,
}

/// A role to give a member.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MemberRequest {
    /// `member` (default) or `pi`.
    pub role: Option<String>,
}
