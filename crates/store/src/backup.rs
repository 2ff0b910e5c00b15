//! Consistent copies of the database while the server runs.

use crate::{Store, StoreError};
use sqlx::Connection;
use std::path::Path;

impl Store {
    /// Writes a consistent copy of the database to `path` (which must not
    /// exist): SQLite's with `VACUUM INTO`, from a read transaction, compacted
    /// and without a WAL; PostgreSQL's as an SQLite file of the same schema,
    /// filled from one `REPEATABLE READ` transaction. Writers go on meanwhile,
    /// and the copy holds every commit before it began.
    pub async fn snapshot(&self, path: &Path) -> Result<(), StoreError> {
        let target = path
            .to_str()
            .ok_or(StoreError::Refused("the snapshot's path is not UTF-8"))?;
        if let Some(url) = &self.url {
            // PostgreSQL: the same SQLite file, filled from one consistent read.
            // On a runtime of its own: the copy's future, which streams one
            // connection into another, is not `Send`.
            let (url, path) = (url.clone(), path.to_path_buf());
            return tokio::task::spawn_blocking(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
                    .block_on(crate::transfer::export_postgres(&url, &path))
                    .map(|_| ())
            })
            .await
            .map_err(|e| StoreError::CommitFailed(format!("the export stopped: {e}")))?;
        }
        let mut conn = self.read.acquire().await?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// Removes, in a snapshot at `path` (not the live database), the rows of
/// projects' files whose sealed file was gone when the backup copied them (a
/// file removed between the snapshot and the copy), so that a restore never
/// names a file it lacks. Returns how many.
pub async fn drop_missing_objects(path: &Path, missing: &[i64]) -> Result<u64, StoreError> {
    if missing.is_empty() {
        return Ok(0);
    }
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
    let mut n = 0;
    for id in missing {
        n += sqlx::query("DELETE FROM data_objects WHERE id = $1")
            .bind(id)
            .execute(&mut conn)
            .await?
            .rows_affected();
    }
    conn.close().await?;
    Ok(n)
}

/// The files a snapshot's rows name: (project, id) of every complete file.
pub async fn snapshot_objects(path: &Path) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display())).await?;
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT project_id, id FROM data_objects WHERE complete_ms IS NOT NULL ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await?;
    conn.close().await?;
    Ok(rows)
}
