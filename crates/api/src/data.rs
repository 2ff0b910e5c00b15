//! Project data: resumable uploads, listings, quotas.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A file to upload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// Path in the project's space: segments of printable characters separated by `/`,
    /// no `.` or `..` segment, at most 1,024 bytes.
    pub path: String,
    /// Its size in bytes.
    pub size: i64,
    /// SHA-256 of its bytes, 64 hex digits.
    pub sha256: String,
}

/// An upload in progress.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UploadView {
    /// Id.
    pub id: i64,
    /// Project.
    pub project: String,
    /// Path.
    pub path: String,
    /// Declared size.
    pub size: i64,
    /// Bytes received so far: the offset of the next part.
    pub offset: u64,
    /// The size of parts to send (the last may be shorter; every other must be a multiple of 65,536).
    pub part_bytes: usize,
}

/// A project's file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileView {
    /// Id.
    pub id: i64,
    /// Path.
    pub path: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Who put it.
    pub owner: String,
    /// When it was complete.
    pub created_at: String,
}

/// A project's files and how much of its quota they take.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FileList {
    /// Files, by path.
    pub files: Vec<FileView>,
    /// Bytes its files and uploads in progress take.
    pub used_bytes: i64,
    /// Its quota, bytes.
    pub quota_bytes: i64,
}

/// Where a part goes.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PartParams {
    /// The part's offset in the file: must equal the upload's `offset`.
    pub offset: u64,
}

/// Which files to list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListParams {
    /// Only paths starting with this.
    pub prefix: Option<String>,
}

/// A project's quota to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaRequest {
    /// Bytes (`null`: the server's default).
    pub bytes: Option<i64>,
}
