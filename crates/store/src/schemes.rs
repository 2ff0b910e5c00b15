//! Funding schemes. A scheme and the ledger entry that funds its pool are
//! written in one transaction.

use crate::Store;
use crate::audit::NewAudit;
use crate::error::StoreError;
use crate::ledger::{self, NewEntry};
use crate::sql::RowExt as _;
use crate::writer::Op;
use aisc_model::scheme::{Criterion, Scheme};
use aisc_model::tenancy::OrgKind;
use sqlx::{AnyConnection, Row};

/// Builds the funding entry once the new scheme's id is known.
pub type EntryFor = Box<dyn Fn(i64) -> NewEntry + Send + Sync>;

/// A stored scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeRow {
    /// Id.
    pub id: i64,
    /// The scheme (its `pool_cents` is the amount it was funded with).
    pub scheme: Scheme,
    /// Created at.
    pub created_ms: i64,
}

pub(crate) async fn insert(
    conn: &mut AnyConnection,
    s: &Scheme,
    at_ms: i64,
    fund: &EntryFor,
) -> Result<i64, StoreError> {
    let kinds = s
        .eligible
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO schemes (name, title, eligible_kinds, default_rate_bp, max_rate_bp, criteria, opens_ms, closes_ms, created_ms, \
         scavenger_discount_bp, min_reviews) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(&s.name)
    .bind(&s.title)
    .bind(kinds)
    .bind(i64::from(s.default_rate_bp))
    .bind(i64::from(s.max_rate_bp))
    .bind(serde_json::to_string(&s.criteria)?)
    .bind(s.opens_ms)
    .bind(s.closes_ms)
    .bind(at_ms)
    .bind(i64::from(s.scavenger_discount_bp))
    .bind(i64::from(s.min_reviews))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Exists("a scheme with this name"),
        _ => StoreError::Db(e),
    })?;
    ledger::post(conn, &fund(id)).await?;
    Ok(id)
}

fn row(r: &sqlx::any::AnyRow) -> Result<SchemeRow, StoreError> {
    let kinds: String = r.try_get("eligible_kinds")?;
    let eligible = kinds
        .split(',')
        .map(|k| {
            k.parse::<OrgKind>().map_err(|_| StoreError::Corrupt {
                column: "schemes.eligible_kinds",
                value: kinds.clone(),
            })
        })
        .collect::<Result<_, _>>()?;
    let criteria: Vec<Criterion> = serde_json::from_str(&r.try_get::<String, _>("criteria")?)?;
    Ok(SchemeRow {
        id: r.try_get("id")?,
        created_ms: r.try_get("created_ms")?,
        scheme: Scheme {
            name: r.try_get("name")?,
            title: r.try_get("title")?,
            pool_cents: r.try_get("funded")?,
            eligible,
            default_rate_bp: r.num("default_rate_bp")?,
            max_rate_bp: r.num("max_rate_bp")?,
            criteria,
            opens_ms: r.try_get("opens_ms")?,
            closes_ms: r.try_get("closes_ms")?,
            scavenger_discount_bp: r.num("scavenger_discount_bp")?,
            min_reviews: r.num("min_reviews")?,
        },
    })
}

macro_rules! scheme_select {
    () => {
        "SELECT s.id, s.name, s.title, s.eligible_kinds, s.default_rate_bp, s.max_rate_bp, s.criteria, s.opens_ms, \
         s.closes_ms, s.created_ms, s.scavenger_discount_bp, s.min_reviews, COALESCE((SELECT CAST(SUM(p.amount) AS BIGINT) FROM ledger_entries e JOIN ledger_postings p \
         ON p.entry_id = e.id WHERE e.scheme_id = s.id AND e.kind = 'fund' AND p.amount > 0), 0) AS funded FROM schemes s"
    };
}

impl Store {
    /// Creates a scheme and posts the entry that funds it, in one transaction.
    pub async fn create_scheme(
        &self,
        scheme: Scheme,
        at_ms: i64,
        fund: EntryFor,
        audit: NewAudit,
    ) -> Result<i64, StoreError> {
        self.write(
            Op::Scheme {
                scheme,
                at_ms,
                fund,
            },
            Some(audit),
        )
        .await
    }

    /// Every scheme, by name.
    pub async fn schemes(&self) -> Result<Vec<SchemeRow>, StoreError> {
        let rows = sqlx::query(concat!(scheme_select!(), " ORDER BY s.name"))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(row).collect()
    }

    /// A scheme by name.
    pub async fn scheme(&self, name: &str) -> Result<SchemeRow, StoreError> {
        let r = sqlx::query(concat!(scheme_select!(), " WHERE s.name = $1"))
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        r.as_ref().map(row).ok_or(StoreError::NotFound)?
    }
}
