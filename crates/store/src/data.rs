//! Projects' files (`aisc data`), quotas, and closing and erasing projects.
//! The files' bytes live sealed on disk; these rows say what they are.

use crate::Store;
use crate::error::StoreError;
use aisc_model::{ProjectId, UserId};
use sqlx::{AnyConnection, Row};

/// A file a project keeps, or an upload of one in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataObject {
    /// Id (also names its sealed file).
    pub id: i64,
    /// The project.
    pub project: ProjectId,
    /// Its path in the project's space (`results/run1.csv`).
    pub path: String,
    /// Bytes (of an upload: as declared).
    pub size: i64,
    /// SHA-256 of its bytes, in hex (of an upload: as declared).
    pub sha256: String,
    /// Who put it.
    pub owner_name: String,
    /// When the upload began.
    pub created_ms: i64,
    /// When it was complete (`None`: still uploading).
    pub complete_ms: Option<i64>,
}

/// A write of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataChange {
    /// Begins an upload, if the project's files, its other uploads and this
    /// one fit in `quota` bytes (a file it replaces does not count).
    BeginUpload {
        /// The project.
        project: ProjectId,
        /// Path.
        path: String,
        /// Declared size.
        size: i64,
        /// Declared SHA-256.
        sha256: String,
        /// Who.
        owner: UserId,
        /// When.
        at_ms: i64,
        /// The project's quota, bytes.
        quota: i64,
    },
    /// Completes an upload, replacing the file at its path; returns the id of
    /// the file it replaced (0 for none).
    CompleteUpload {
        /// The upload.
        id: i64,
        /// When.
        at_ms: i64,
    },
    /// Removes a file or an upload.
    Remove {
        /// Its id.
        id: i64,
    },
    /// Sets a project's quota (`None`: the server's default).
    Quota {
        /// The project.
        project: ProjectId,
        /// Bytes.
        bytes: Option<i64>,
    },
    /// Closes a project: no new jobs, grants or files; its files' rows go and
    /// its data key is destroyed.
    Close {
        /// The project.
        project: ProjectId,
        /// When.
        at_ms: i64,
    },
    /// Closes a project and removes the personal data in its records: job
    /// names and paths, members, application texts and review comments. The
    /// ledger keeps its amounts and the audit trail its events.
    Erase {
        /// The project.
        project: ProjectId,
        /// When.
        at_ms: i64,
    },
}

impl DataChange {
    /// The project whose data key this change destroys, and when.
    pub(crate) fn destroys_key(&self) -> Option<(ProjectId, i64)> {
        match self {
            DataChange::Close { project, at_ms } | DataChange::Erase { project, at_ms } => {
                Some((*project, *at_ms))
            }
            _ => None,
        }
    }
}

pub(crate) async fn apply(conn: &mut AnyConnection, c: &DataChange) -> Result<i64, StoreError> {
    match c {
        DataChange::BeginUpload {
            project,
            path,
            size,
            sha256,
            owner,
            at_ms,
            quota,
        } => {
            let open: Option<i64> =
                sqlx::query_scalar("SELECT closed_ms FROM projects WHERE id = $1")
                    .bind(project.0)
                    .fetch_optional(&mut *conn)
                    .await?
                    .ok_or(StoreError::NotFound)?;
            if open.is_some() {
                return Err(StoreError::Refused("the project is closed"));
            }
            let used: i64 = sqlx::query_scalar(
                "SELECT COALESCE(CAST(SUM(size) AS BIGINT), 0) FROM data_objects WHERE project_id = $1 \
                 AND NOT (complete_ms IS NOT NULL AND path = $2)",
            )
            .bind(project.0)
            .bind(path)
            .fetch_one(&mut *conn)
            .await?;
            if used.saturating_add(*size) > *quota {
                return Err(StoreError::OverQuota {
                    used,
                    quota: *quota,
                });
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO data_objects (project_id, path, size, sha256, owner_id, created_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(project.0)
            .bind(path)
            .bind(size)
            .bind(sha256)
            .bind(owner.0)
            .bind(at_ms)
            .fetch_one(&mut *conn)
            .await?;
            Ok(id)
        }
        DataChange::CompleteUpload { id, at_ms } => {
            let row = sqlx::query(
                "SELECT project_id, path FROM data_objects WHERE id = $1 AND complete_ms IS NULL",
            )
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
            let project: i64 = row.try_get("project_id")?;
            let path: String = row.try_get("path")?;
            let replaced: Option<i64> = sqlx::query_scalar(
                "DELETE FROM data_objects WHERE project_id = $1 AND path = $2 AND complete_ms IS NOT NULL RETURNING id",
            )
            .bind(project)
            .bind(&path)
            .fetch_optional(&mut *conn)
            .await?;
            sqlx::query("UPDATE data_objects SET complete_ms = $1 WHERE id = $2")
                .bind(at_ms)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(replaced.unwrap_or(0))
        }
        DataChange::Remove { id } => {
            let n = sqlx::query("DELETE FROM data_objects WHERE id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(*id)
        }
        DataChange::Quota { project, bytes } => {
            sqlx::query("UPDATE projects SET data_quota_bytes = $1 WHERE id = $2")
                .bind(bytes)
                .bind(project.0)
                .execute(&mut *conn)
                .await?;
            Ok(project.0)
        }
        DataChange::Close { project, at_ms } => close(conn, *project, *at_ms).await,
        DataChange::Erase { project, at_ms } => {
            close(conn, *project, *at_ms).await?;
            let p = project.0;
            for sql in [
                "UPDATE jobs SET name = 'erased', stdout_path = NULL, stderr_path = NULL, reason = 'erased' WHERE project_id = $1",
                "DELETE FROM memberships WHERE project_id = $1",
                "UPDATE applications SET justification = '{}' WHERE project_id = $1",
                "UPDATE reviews SET comment = '' WHERE application_id IN (SELECT id FROM applications WHERE project_id = $1)",
            ] {
                sqlx::query(sql).bind(p).execute(&mut *conn).await?;
            }
            sqlx::query("UPDATE projects SET title = 'erased', erased_ms = COALESCE(erased_ms, $1) WHERE id = $2")
                .bind(at_ms)
                .bind(p)
                .execute(&mut *conn)
                .await?;
            Ok(p)
        }
    }
}

/// Refuses while the project has jobs that have not ended.
async fn close(
    conn: &mut AnyConnection,
    project: ProjectId,
    at_ms: i64,
) -> Result<i64, StoreError> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT COUNT(*) FROM jobs WHERE project_id = $1 AND state IN {}",
            crate::jobs::sql_states(&aisc_model::JobState::LIVE)
        )
    });
    let active: i64 = sqlx::query_scalar(SQL.as_str())
        .bind(project.0)
        .fetch_one(&mut *conn)
        .await?;
    if active > 0 {
        return Err(StoreError::Refused(
            "the project has jobs that have not ended; cancel them first",
        ));
    }
    let n = sqlx::query("UPDATE projects SET closed_ms = COALESCE(closed_ms, $1) WHERE id = $2")
        .bind(at_ms)
        .bind(project.0)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    sqlx::query("DELETE FROM data_objects WHERE project_id = $1")
        .bind(project.0)
        .execute(&mut *conn)
        .await?;
    Ok(project.0)
}

fn object_row(r: &sqlx::any::AnyRow) -> Result<DataObject, StoreError> {
    Ok(DataObject {
        id: r.try_get("id")?,
        project: ProjectId(r.try_get("project_id")?),
        path: r.try_get("path")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
        owner_name: r.try_get("owner_name")?,
        created_ms: r.try_get("created_ms")?,
        complete_ms: r.try_get("complete_ms")?,
    })
}

macro_rules! objects {
    ($where:literal) => {
        concat!(
            "SELECT d.id, d.project_id, d.path, d.size, d.sha256, u.name AS owner_name, d.created_ms, d.complete_ms \
             FROM data_objects d JOIN users u ON u.id = d.owner_id ",
            $where
        )
    };
}

impl Store {
    /// A change to files, quotas, or a project's closing or erasure, with its audit event.
    pub async fn data_change(
        &self,
        change: DataChange,
        audit: Option<crate::NewAudit>,
    ) -> Result<i64, StoreError> {
        self.write(crate::writer::Op::Data(change), audit).await
    }

    /// A project's complete files whose path starts with `prefix`, by path.
    pub async fn data_objects(
        &self,
        project: ProjectId,
        prefix: &str,
    ) -> Result<Vec<DataObject>, StoreError> {
        let sql = objects!(
            "WHERE d.project_id = $1 AND d.complete_ms IS NOT NULL AND substr(d.path, 1, length($2)) = $3 ORDER BY d.path"
        );
        let rows = sqlx::query(sql)
            .bind(project.0)
            .bind(prefix)
            .bind(prefix)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(object_row).collect()
    }

    /// A project's complete file at `path`.
    pub async fn data_object(
        &self,
        project: ProjectId,
        path: &str,
    ) -> Result<DataObject, StoreError> {
        let sql = objects!("WHERE d.project_id = $1 AND d.path = $2 AND d.complete_ms IS NOT NULL");
        let row = sqlx::query(sql)
            .bind(project.0)
            .bind(path)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(object_row).ok_or(StoreError::NotFound)?
    }

    /// A file or upload by id.
    pub async fn data_object_by_id(&self, id: i64) -> Result<DataObject, StoreError> {
        let sql = objects!("WHERE d.id = $1");
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.read).await?;
        row.as_ref().map(object_row).ok_or(StoreError::NotFound)?
    }

    /// Bytes a project's files and uploads take (as declared).
    pub async fn data_used(&self, project: ProjectId) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(CAST(SUM(size) AS BIGINT), 0) FROM data_objects WHERE project_id = $1",
        )
        .bind(project.0)
        .fetch_one(&self.read)
        .await?)
    }

    /// Ids of every file and upload (for removing sealed files no row names).
    pub async fn data_object_ids(&self) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT id FROM data_objects")
            .fetch_all(&self.read)
            .await?)
    }
}
