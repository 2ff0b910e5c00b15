//! Backups.

use serde::{Deserialize, Serialize};

/// What a backup holds, written into it as `backup.json`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackupManifest {
    /// Format version (1).
    pub version: u32,
    /// When the snapshot was taken.
    pub created_at: String,
    /// The master keys that wrap its data keys (ids only): one must be loaded to restore it.
    pub master_keys: Vec<String>,
    /// Projects' files in it.
    pub files: usize,
    /// Sealed job logs in it.
    pub logs: usize,
    /// Files named by the snapshot but removed before they were copied (their rows are dropped).
    pub files_gone: usize,
}
