//! Applications, reviews and grants.

use crate::Store;
use crate::audit::NewAudit;
use crate::error::StoreError;
use crate::ledger::{self, NewEntry};
use crate::sql::RowExt as _;
use crate::writer::Op;
use aisc_model::{OrgId, ProjectId, UserId};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// An application to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication {
    /// The applying project.
    pub project: ProjectId,
    /// The scheme.
    pub scheme: i64,
    /// The resource class asked for.
    pub class: i64,
    /// GPU-hours asked for.
    pub gpu_hours: i64,
    /// Period start.
    pub starts_ms: i64,
    /// Period end.
    pub ends_ms: i64,
    /// Justification per criterion.
    pub justification: BTreeMap<String, String>,
    /// Who applied.
    pub applicant: UserId,
    /// When.
    pub created_ms: i64,
}

/// An application as stored, with names resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRow {
    /// Id (also the id of the grant it becomes).
    pub id: i64,
    /// Project.
    pub project: ProjectId,
    /// Project name.
    pub project_name: String,
    /// The project's organisation.
    pub org: OrgId,
    /// The organisation's kind.
    pub org_kind: String,
    /// Scheme id.
    pub scheme: i64,
    /// Scheme name.
    pub scheme_name: String,
    /// Class id.
    pub class: i64,
    /// Class name.
    pub class_name: String,
    /// GPU-hours asked for.
    pub gpu_hours: i64,
    /// Period start.
    pub starts_ms: i64,
    /// Period end.
    pub ends_ms: i64,
    /// Justification per criterion.
    pub justification: BTreeMap<String, String>,
    /// Who applied.
    pub applicant: String,
    /// `submitted`, `approved` or `rejected`.
    pub state: String,
    /// The decision's reason or terms.
    pub decision: Option<String>,
    /// Created at.
    pub created_ms: i64,
}

/// A review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    /// Reviewer.
    pub reviewer: String,
    /// Score per criterion.
    pub scores: BTreeMap<String, u32>,
    /// Weighted score, hundredths.
    pub weighted: u32,
    /// Comment.
    pub comment: String,
    /// When.
    pub at_ms: i64,
}

/// A review to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    /// The application.
    pub app: i64,
    /// The reviewer.
    pub reviewer: UserId,
    /// Score per criterion.
    pub scores: BTreeMap<String, u32>,
    /// Weighted score, hundredths.
    pub weighted: u32,
    /// Comment.
    pub comment: String,
    /// When.
    pub at_ms: i64,
}

/// A grant to create on approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    /// GPU-hours granted.
    pub gpu_hours: i64,
    /// List price per GPU-hour at approval, cents.
    pub price_cents: i64,
    /// Value at list price, cents.
    pub value_cents: i64,
    /// Subsidy rate, basis points.
    pub rate_bp: u16,
}

/// A grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    /// Id (= its application's id).
    pub id: i64,
    /// Project.
    pub project: ProjectId,
    /// Project name.
    pub project_name: String,
    /// The project's organisation.
    pub org: OrgId,
    /// Scheme id.
    pub scheme: i64,
    /// Scheme name.
    pub scheme_name: String,
    /// Class id.
    pub class: i64,
    /// Class name.
    pub class_name: String,
    /// GPU-hours granted.
    pub gpu_hours: i64,
    /// Value at list price, cents.
    pub value_cents: i64,
    /// Price per GPU-hour at approval, cents.
    pub price_cents: i64,
    /// Subsidy rate, basis points.
    pub rate_bp: u16,
    /// Period start.
    pub starts_ms: i64,
    /// Period end.
    pub ends_ms: i64,
    /// The most GPUs the project's jobs may hold at once under it (None: no cap).
    pub max_gpus: Option<i64>,
    /// Its jobs may use the `high` QOS.
    pub high_qos: bool,
    /// The scheme's discount for scavenger jobs, basis points.
    pub scavenger_discount_bp: u16,
}

/// A project's claim on the scheduler: its active grants summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectShare {
    /// The project.
    pub project: ProjectId,
    /// GPU-hours of its active grants.
    pub gpu_hours: i64,
    /// The sum of its active grants' GPU caps; None when any of them has none.
    pub max_gpus: Option<i64>,
}

/// A decision on an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approved: the grant and the entry reserving its subsidy.
    Approve(NewGrant, Box<NewEntry>, String),
    /// Rejected, with the reason.
    Reject(String),
}

pub(crate) async fn insert(
    conn: &mut AnyConnection,
    a: &NewApplication,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO applications (project_id, scheme_id, class_id, gpu_hours, starts_ms, ends_ms, justification, applicant_id, \
         state, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'submitted', $9) RETURNING id",
    )
    .bind(a.project.0)
    .bind(a.scheme)
    .bind(a.class)
    .bind(a.gpu_hours)
    .bind(a.starts_ms)
    .bind(a.ends_ms)
    .bind(serde_json::to_string(&a.justification)?)
    .bind(a.applicant.0)
    .bind(a.created_ms)
    .fetch_one(conn)
    .await?)
}

pub(crate) async fn review(conn: &mut AnyConnection, r: &NewReview) -> Result<i64, StoreError> {
    let NewReview {
        app,
        reviewer,
        scores,
        weighted,
        comment,
        at_ms,
    } = r;
    let app = *app;
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM applications WHERE id = $1")
        .bind(app)
        .fetch_optional(&mut *conn)
        .await?;
    match state.as_deref() {
        None => return Err(StoreError::NotFound),
        Some("submitted") => {}
        Some(_) => return Err(StoreError::Exists("a decision on this application")),
    }
    sqlx::query("INSERT INTO reviews (application_id, reviewer_id, scores, weighted, comment, at_ms) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(app)
        .bind(reviewer.0)
        .bind(serde_json::to_string(scores)?)
        .bind(i64::from(*weighted))
        .bind(comment)
        .bind(at_ms)
        .execute(conn)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Exists("your review of this application"),
            _ => StoreError::Db(e),
        })?;
    Ok(app)
}

pub(crate) async fn decide(
    conn: &mut AnyConnection,
    app: i64,
    by: UserId,
    d: &Decision,
    at_ms: i64,
) -> Result<i64, StoreError> {
    let (state, text) = match d {
        Decision::Approve(_, _, terms) => ("approved", terms.as_str()),
        Decision::Reject(reason) => ("rejected", reason.as_str()),
    };
    let done = sqlx::query("UPDATE applications SET state = $1, decision = $2, decided_by = $3 WHERE id = $4 AND state = 'submitted'")
        .bind(state)
        .bind(text)
        .bind(by.0)
        .bind(app)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Exists("a decision on this application"));
    }
    if let Decision::Approve(g, entry, _) = d {
        sqlx::query(
            "INSERT INTO grants (id, project_id, scheme_id, class_id, gpu_hours, value_cents, price_cents, rate_bp, starts_ms, ends_ms, created_ms) \
             SELECT id, project_id, scheme_id, class_id, $1, $2, $3, $4, starts_ms, ends_ms, $5 FROM applications WHERE id = $6",
        )
        .bind(g.gpu_hours)
        .bind(g.value_cents)
        .bind(g.price_cents)
        .bind(i64::from(g.rate_bp))
        .bind(at_ms)
        .bind(app)
        .execute(&mut *conn)
        .await?;
        ledger::post(conn, entry).await?;
    }
    Ok(app)
}

macro_rules! app_select {
    () => {
        "SELECT a.id, a.project_id, p.name AS project_name, p.org_id, o.kind AS org_kind, a.scheme_id, s.name AS scheme_name, \
         a.class_id, c.name AS class_name, a.gpu_hours, a.starts_ms, a.ends_ms, a.justification, u.name AS applicant, a.state, \
         a.decision, a.created_ms FROM applications a JOIN projects p ON p.id = a.project_id \
         JOIN organisations o ON o.id = p.org_id JOIN schemes s ON s.id = a.scheme_id \
         JOIN resource_classes c ON c.id = a.class_id JOIN users u ON u.id = a.applicant_id"
    };
}

macro_rules! grant_select {
    () => {
        "SELECT g.id, g.project_id, p.name AS project_name, p.org_id, g.scheme_id, s.name AS scheme_name, g.class_id, \
         c.name AS class_name, g.gpu_hours, g.value_cents, g.price_cents, g.rate_bp, g.starts_ms, g.ends_ms, \
         g.max_gpus, g.high_qos, s.scavenger_discount_bp \
         FROM grants g JOIN projects p ON p.id = g.project_id JOIN schemes s ON s.id = g.scheme_id \
         JOIN resource_classes c ON c.id = g.class_id"
    };
}

fn app_row(r: &sqlx::any::AnyRow) -> Result<ApplicationRow, StoreError> {
    Ok(ApplicationRow {
        id: r.try_get("id")?,
        project: ProjectId(r.try_get("project_id")?),
        project_name: r.try_get("project_name")?,
        org: OrgId(r.try_get("org_id")?),
        org_kind: r.try_get("org_kind")?,
        scheme: r.try_get("scheme_id")?,
        scheme_name: r.try_get("scheme_name")?,
        class: r.try_get("class_id")?,
        class_name: r.try_get("class_name")?,
        gpu_hours: r.try_get("gpu_hours")?,
        starts_ms: r.try_get("starts_ms")?,
        ends_ms: r.try_get("ends_ms")?,
        justification: serde_json::from_str(&r.try_get::<String, _>("justification")?)?,
        applicant: r.try_get("applicant")?,
        state: r.try_get("state")?,
        decision: r.try_get("decision")?,
        created_ms: r.try_get("created_ms")?,
    })
}

fn grant_row(r: &sqlx::any::AnyRow) -> Result<GrantRow, StoreError> {
    Ok(GrantRow {
        id: r.try_get("id")?,
        project: ProjectId(r.try_get("project_id")?),
        project_name: r.try_get("project_name")?,
        org: OrgId(r.try_get("org_id")?),
        scheme: r.try_get("scheme_id")?,
        scheme_name: r.try_get("scheme_name")?,
        class: r.try_get("class_id")?,
        class_name: r.try_get("class_name")?,
        gpu_hours: r.try_get("gpu_hours")?,
        value_cents: r.try_get("value_cents")?,
        price_cents: r.try_get("price_cents")?,
        rate_bp: r.num("rate_bp")?,
        starts_ms: r.try_get("starts_ms")?,
        ends_ms: r.try_get("ends_ms")?,
        max_gpus: r.try_get("max_gpus")?,
        high_qos: r.try_get::<i64, _>("high_qos")? != 0,
        scavenger_discount_bp: r.num("scavenger_discount_bp")?,
    })
}

pub(crate) async fn set_grant_limits(
    conn: &mut AnyConnection,
    id: i64,
    max_gpus: Option<i64>,
    high_qos: bool,
) -> Result<i64, StoreError> {
    let done = sqlx::query("UPDATE grants SET max_gpus = $1, high_qos = $2 WHERE id = $3")
        .bind(max_gpus)
        .bind(i64::from(high_qos))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(id)
}

impl Store {
    /// Sets a grant's scheduling limits: its GPU cap and whether `high` QOS is allowed.
    pub async fn set_grant_limits(
        &self,
        id: i64,
        max_gpus: Option<i64>,
        high_qos: bool,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        self.write(
            Op::GrantLimits {
                id,
                max_gpus,
                high_qos,
            },
            Some(audit),
        )
        .await
        .map(|_| ())
    }

    /// Every project with an active grant at `at_ms`: its GPU-hours and GPU cap.
    pub async fn project_shares(&self, at_ms: i64) -> Result<Vec<ProjectShare>, StoreError> {
        let rows = sqlx::query(
            "SELECT project_id, CAST(SUM(gpu_hours) AS BIGINT) AS hours, \
             CASE WHEN COUNT(*) = COUNT(max_gpus) THEN CAST(SUM(max_gpus) AS BIGINT) END AS cap \
             FROM grants WHERE starts_ms <= $1 AND $2 < ends_ms GROUP BY project_id ORDER BY project_id",
        )
        .bind(at_ms)
        .bind(at_ms)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ProjectShare {
                    project: ProjectId(r.try_get("project_id")?),
                    gpu_hours: r.try_get("hours")?,
                    max_gpus: r.try_get("cap")?,
                })
            })
            .collect()
    }

    /// GPU-milliseconds of the jobs that ended at or after `since_ms`, with
    /// their project and end time: the usage behind fair share.
    pub async fn usage_since(
        &self,
        since_ms: i64,
    ) -> Result<Vec<(ProjectId, i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT project_id, end_ms, gpu_ms FROM jobs \
             WHERE end_ms >= $1 AND project_id IS NOT NULL AND gpu_ms > 0",
        )
        .bind(since_ms)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    ProjectId(r.try_get("project_id")?),
                    r.try_get("end_ms")?,
                    r.try_get("gpu_ms")?,
                ))
            })
            .collect()
    }

    /// Stores an application; returns its id.
    pub async fn apply_for(&self, a: NewApplication, audit: NewAudit) -> Result<i64, StoreError> {
        self.write(Op::Application(a), Some(audit)).await
    }

    /// Records a review; refused when the reviewer reviewed it already or it was decided.
    pub async fn review(&self, review: NewReview, audit: NewAudit) -> Result<(), StoreError> {
        self.write(Op::Review(review), Some(audit))
            .await
            .map(|_| ())
    }

    /// Decides an application once; an approval creates the grant and reserves its subsidy.
    pub async fn decide(
        &self,
        app: i64,
        by: UserId,
        decision: Decision,
        at_ms: i64,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        self.write(
            Op::Decide {
                app,
                by,
                decision,
                at_ms,
            },
            Some(audit),
        )
        .await
        .map(|_| ())
    }

    /// One application.
    pub async fn application(&self, id: i64) -> Result<ApplicationRow, StoreError> {
        let r = sqlx::query(concat!(app_select!(), " WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        r.as_ref().map(app_row).ok_or(StoreError::NotFound)?
    }

    /// Every application, newest first.
    pub async fn applications(&self) -> Result<Vec<ApplicationRow>, StoreError> {
        let rows = sqlx::query(concat!(app_select!(), " ORDER BY a.id DESC"))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(app_row).collect()
    }

    /// An application's reviews.
    pub async fn reviews(&self, app: i64) -> Result<Vec<ReviewRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.name, r.scores, r.weighted, r.comment, r.at_ms FROM reviews r JOIN users u ON u.id = r.reviewer_id \
             WHERE r.application_id = $1 ORDER BY r.at_ms",
        )
        .bind(app)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReviewRow {
                    reviewer: r.try_get("name")?,
                    scores: serde_json::from_str(&r.try_get::<String, _>("scores")?)?,
                    weighted: r.num("weighted")?,
                    comment: r.try_get("comment")?,
                    at_ms: r.try_get("at_ms")?,
                })
            })
            .collect()
    }

    /// One grant.
    pub async fn grant(&self, id: i64) -> Result<GrantRow, StoreError> {
        let r = sqlx::query(concat!(grant_select!(), " WHERE g.id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        r.as_ref().map(grant_row).ok_or(StoreError::NotFound)?
    }

    /// A project's grants whose period includes `at_ms`, oldest first (none once it is closed).
    pub async fn active_grants(
        &self,
        project: ProjectId,
        at_ms: i64,
    ) -> Result<Vec<GrantRow>, StoreError> {
        let rows = sqlx::query(concat!(
            grant_select!(),
            " WHERE g.project_id = $1 AND g.starts_ms <= $2 AND $3 < g.ends_ms \
             AND (SELECT closed_ms FROM projects WHERE id = g.project_id) IS NULL ORDER BY g.id"
        ))
        .bind(project.0)
        .bind(at_ms)
        .bind(at_ms)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(grant_row).collect()
    }

    /// Every grant, newest first.
    pub async fn grants(&self) -> Result<Vec<GrantRow>, StoreError> {
        let rows = sqlx::query(concat!(grant_select!(), " ORDER BY g.id DESC"))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(grant_row).collect()
    }
}
