//! What the Slurm engine's reconcile loop keeps Slurm in step with: every
//! organisation, project, member with a Unix name, and each project's grants
//! with the GPU time already charged to them, read in one go.

use crate::Store;
use crate::error::StoreError;
use aisc_model::ProjectId;
use sqlx::Row;

/// The tenancy and grants as Slurm's accounts should mirror them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlurmTenancy {
    /// Organisation names.
    pub orgs: Vec<String>,
    /// Projects, by name.
    pub projects: Vec<SlurmProject>,
}

/// One project, as its Slurm account should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmProject {
    /// Id.
    pub id: ProjectId,
    /// Name (the Slurm account's name).
    pub name: String,
    /// Its organisation's name (the parent account).
    pub org: String,
    /// Members' Unix names, sorted.
    pub members: Vec<String>,
    /// Members with no Unix name yet (they get no association).
    pub unmapped: Vec<String>,
    /// Its grants.
    pub grants: Vec<SlurmGrant>,
}

/// A grant and what has been used of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmGrant {
    /// Id.
    pub id: i64,
    /// GPU-hours granted.
    pub gpu_hours: i64,
    /// Period start, epoch ms.
    pub starts_ms: i64,
    /// Period end, epoch ms.
    pub ends_ms: i64,
    /// GPU time of finished jobs charged to it, ms.
    pub used_gpu_ms: i64,
    /// The most GPUs the project's jobs may hold at once under it (None: no cap).
    pub max_gpus: Option<i64>,
}

impl Store {
    /// This installation's id (made once, by the migration that added it).
    pub async fn instance_id(&self) -> Result<String, StoreError> {
        Ok(sqlx::query_scalar("SELECT id FROM instance LIMIT 1")
            .fetch_one(&self.read)
            .await?)
    }

    /// Everything the Slurm accounts should mirror, read in one snapshot.
    pub async fn slurm_tenancy(&self) -> Result<SlurmTenancy, StoreError> {
        let mut tx = self.read.begin().await?;
        let orgs: Vec<String> = sqlx::query_scalar("SELECT name FROM organisations ORDER BY name")
            .fetch_all(&mut *tx)
            .await?;
        let rows = sqlx::query(
            "SELECT p.id, p.name, o.name AS org FROM projects p JOIN organisations o ON o.id = p.org_id ORDER BY p.name",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut projects = Vec::with_capacity(rows.len());
        for r in &rows {
            projects.push(SlurmProject {
                id: ProjectId(r.try_get("id")?),
                name: r.try_get("name")?,
                org: r.try_get("org")?,
                members: Vec::new(),
                unmapped: Vec::new(),
                grants: Vec::new(),
            });
        }
        let by_id =
            |projects: &mut Vec<SlurmProject>, id: i64| projects.iter().position(|p| p.id.0 == id);
        let members = sqlx::query(
            "SELECT m.project_id, u.name, u.unix_name FROM memberships m JOIN users u ON u.id = m.user_id \
             ORDER BY u.unix_name, u.name",
        )
        .fetch_all(&mut *tx)
        .await?;
        for r in &members {
            let Some(i) = by_id(&mut projects, r.try_get("project_id")?) else {
                continue;
            };
            match r.try_get::<Option<String>, _>("unix_name")? {
                Some(unix) => projects[i].members.push(unix),
                None => projects[i].unmapped.push(r.try_get("name")?),
            }
        }
        let grants = sqlx::query(
            // One pass over the finished jobs, not one per grant.
            "WITH used AS (SELECT grant_id, CAST(SUM(gpu_ms) AS BIGINT) AS ms FROM jobs WHERE grant_id IS NOT NULL AND end_ms IS NOT NULL GROUP BY grant_id) \
             SELECT g.id, g.project_id, g.gpu_hours, g.starts_ms, g.ends_ms, g.max_gpus, COALESCE(u.ms, 0) AS used \
             FROM grants g LEFT JOIN used u ON u.grant_id = g.id ORDER BY g.id",
        )
        .fetch_all(&mut *tx)
        .await?;
        for r in &grants {
            let Some(i) = by_id(&mut projects, r.try_get("project_id")?) else {
                continue;
            };
            projects[i].grants.push(SlurmGrant {
                id: r.try_get("id")?,
                gpu_hours: r.try_get("gpu_hours")?,
                starts_ms: r.try_get("starts_ms")?,
                ends_ms: r.try_get("ends_ms")?,
                used_gpu_ms: r.try_get("used")?,
                max_gpus: r.try_get("max_gpus")?,
            });
        }
        tx.commit().await?;
        Ok(SlurmTenancy { orgs, projects })
    }
}
