//! Unix names and the Slurm accounts sync.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user's Unix (Slurm) user name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnixNameRequest {
    /// The name (POSIX: 1 to 32 of a-z, 0-9, `_`, `-`, starting with a letter or `_`), or null to clear it.
    pub unix_name: Option<String>,
}

/// What a sync found (and, unless a dry run, did).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncReport {
    /// Whether the changes were made (false for a dry run).
    pub applied: bool,
    /// Each change, in words, in the order it is made; conflicts need a person.
    pub changes: Vec<String>,
}

/// Options of a sync.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Only list the changes.
    #[serde(default)]
    pub dry_run: bool,
}
