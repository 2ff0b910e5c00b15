//! The ledger's persistence. Entries are built by the pure `billing` crate;
//! the store writes them atomically and enforces, inside the writer's
//! transaction, the rules that must hold whatever raced: no guarded account
//! below zero, and at most one entry of a kind per job.

use crate::Store;
use crate::audit::NewAudit;
use crate::error::StoreError;
use crate::writer::Op;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::HashMap;

/// An entry to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// `fund`, `approve`, `lien`, `settle`, ...
    pub kind: String,
    /// The scheme concerned.
    pub scheme: Option<i64>,
    /// The grant concerned.
    pub grant: Option<i64>,
    /// The job concerned (at most one entry of a kind per job).
    pub job: Option<i64>,
    /// When.
    pub at_ms: i64,
    /// In words.
    pub memo: String,
    /// (account, amount in cents); they must sum to zero.
    pub postings: Vec<(String, i64)>,
    /// Accounts that must not be below zero after this entry.
    pub guarded: Vec<String>,
}

/// Why the ledger refused an entry; nothing was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The postings do not sum to zero.
    Unbalanced(i64),
    /// This account would go below zero (its balance after the entry).
    Overdrawn(String, i64),
    /// The job already has an entry of this kind.
    Duplicate,
}

pub(crate) async fn post(conn: &mut SqliteConnection, e: &NewEntry) -> Result<i64, StoreError> {
    let sum: i64 = e.postings.iter().map(|(_, a)| a).sum();
    if sum != 0 {
        return Err(StoreError::Ledger(Refusal::Unbalanced(sum)));
    }
    sqlx::query("SAVEPOINT entry").execute(&mut *conn).await?;
    let result = post_inner(conn, e).await;
    match &result {
        Ok(_) => sqlx::query("RELEASE entry").execute(&mut *conn).await?,
        Err(_) => {
            sqlx::query("ROLLBACK TO entry; RELEASE entry")
                .execute(&mut *conn)
                .await?
        }
    };
    result
}

async fn post_inner(conn: &mut SqliteConnection, e: &NewEntry) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_entries (kind, scheme_id, grant_id, job_id, at_ms, memo) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&e.kind)
    .bind(e.scheme)
    .bind(e.grant)
    .bind(e.job)
    .bind(e.at_ms)
    .bind(&e.memo)
    .fetch_one(&mut *conn)
    .await
    .map_err(|err| match &err {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Ledger(Refusal::Duplicate),
        _ => StoreError::Db(err),
    })?;
    if !e.postings.is_empty() {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO ledger_postings (entry_id, account, amount) ");
        q.push_values(&e.postings, |mut b, (account, amount)| {
            b.push_bind(id).push_bind(account).push_bind(amount);
        });
        q.build().execute(&mut *conn).await?;
    }
    for account in &e.guarded {
        let bal: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(amount), 0) FROM ledger_postings WHERE account = ?",
        )
        .bind(account)
        .fetch_one(&mut *conn)
        .await?;
        if bal < 0 {
            return Err(StoreError::Ledger(Refusal::Overdrawn(account.clone(), bal)));
        }
    }
    Ok(id)
}

impl Store {
    /// Posts an entry (with its audit event) or refuses it, changing nothing.
    pub async fn post(&self, entry: NewEntry, audit: Option<NewAudit>) -> Result<i64, StoreError> {
        self.write(Op::Post(entry), audit).await
    }

    /// Balances of the accounts whose names start with `prefix`.
    pub async fn balances(&self, prefix: &str) -> Result<HashMap<String, i64>, StoreError> {
        let rows = sqlx::query("SELECT account, SUM(amount) AS balance FROM ledger_postings WHERE account >= ? AND account < ? GROUP BY account")
            .bind(prefix)
            .bind(format!("{prefix}\u{10FFFF}"))
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("account")?, r.try_get("balance")?)))
            .collect()
    }

    /// One account's balance.
    pub async fn balance(&self, account: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(SUM(amount), 0) FROM ledger_postings WHERE account = ?",
        )
        .bind(account)
        .fetch_one(&self.read)
        .await?)
    }

    /// The sum of every posting: zero while the ledger balances.
    pub async fn ledger_total(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(SUM(amount), 0) FROM ledger_postings")
                .fetch_one(&self.read)
                .await?,
        )
    }
}

/// One charged job in a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// The job.
    pub job: i64,
    /// Its name.
    pub name: String,
    /// The grant charged.
    pub grant: i64,
    /// When it was settled (epoch ms).
    pub at_ms: i64,
    /// GPU-milliseconds metered.
    pub gpu_ms: i64,
    /// List price per GPU-hour, cents.
    pub price_cents: i64,
    /// The charge at list price, cents.
    pub charge: i64,
    /// Paid by the scheme, cents.
    pub subsidy: i64,
    /// Owed by the project, cents.
    pub tenant: i64,
}

impl Store {
    /// Whether the job has an entry of this kind (a lien, a settlement).
    pub async fn has_entry(&self, kind: &str, job: i64) -> Result<bool, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM ledger_entries WHERE kind = ? AND job_id = ?")
                .bind(kind)
                .bind(job)
                .fetch_one(&self.read)
                .await?;
        Ok(n > 0)
    }

    /// A project's charged jobs settled in [from, to), oldest first.
    pub async fn statement(
        &self,
        project: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<StatementLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.job_id, j.name, e.grant_id, e.at_ms, COALESCE(j.gpu_ms, 0) AS gpu_ms, COALESCE(j.price_cents, 0) AS price_cents, \
             SUM(CASE WHEN p.account LIKE 'grant/%/used' THEN p.amount ELSE 0 END) AS charge, \
             SUM(CASE WHEN p.account LIKE 'grant/%/subsidy-spent' THEN p.amount ELSE 0 END) AS subsidy, \
             SUM(CASE WHEN p.account LIKE 'project/%/due' THEN p.amount ELSE 0 END) AS tenant \
             FROM jobs j JOIN ledger_entries e ON e.kind = 'settle' AND e.job_id = j.id \
             JOIN ledger_postings p ON p.entry_id = e.id \
             WHERE j.project_id = ? AND e.at_ms >= ? AND e.at_ms < ? GROUP BY e.id ORDER BY e.at_ms, e.id",
        )
        .bind(project)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StatementLine {
                    job: r.try_get("job_id")?,
                    name: r.try_get("name")?,
                    grant: r.try_get("grant_id")?,
                    at_ms: r.try_get("at_ms")?,
                    gpu_ms: r.try_get("gpu_ms")?,
                    price_cents: r.try_get("price_cents")?,
                    charge: r.try_get("charge")?,
                    subsidy: r.try_get("subsidy")?,
                    tenant: r.try_get("tenant")?,
                })
            })
            .collect()
    }
}
