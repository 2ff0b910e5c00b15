//! The ledger's persistence. Entries are built by the pure `billing` crate;
//! the postings are the record; each account's running balance is kept beside
//! them in the same transaction (for guards and reads) and can be checked
//! against them at any time ([`Store::ledger_drift`]).
//! the store writes them atomically and enforces, inside the writer's
//! transaction, the rules that must hold whatever raced: no guarded account
//! below zero, and at most one entry of a kind per job.

use crate::Store;
use crate::audit::NewAudit;
use crate::error::StoreError;
use crate::sql::Sql;
use crate::writer::Op;
use sqlx::{AnyConnection, Row};
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
    /// The job concerned (at most one entry of a kind per run of a job).
    pub job: Option<i64>,
    /// Which run of the job (0, then one more each time it is requeued).
    pub run: u32,
    /// When.
    pub at_ms: i64,
    /// In words.
    pub memo: String,
    /// (account, amount in cents); they must sum to zero.
    pub postings: Vec<(String, i64)>,
    /// Accounts that must not be below zero after this entry.
    pub guarded: Vec<String>,
    /// A settlement's move of its grant's metered total (see `aisc_billing::carry`),
    /// refused as stale unless the total is still `before`.
    pub carry: Option<Carry>,
}

/// A grant's metered total moved by a settlement, as decimal text (it can
/// exceed 64 bits in its fine unit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carry {
    /// The grant.
    pub grant: i64,
    /// Its metered total as read before.
    pub before: String,
    /// Its metered total after.
    pub after: String,
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
    /// The grant's metered total moved since it was read: read it again.
    Stale,
}

pub(crate) async fn post(conn: &mut AnyConnection, e: &NewEntry) -> Result<i64, StoreError> {
    let sum: i64 = e.postings.iter().map(|(_, a)| a).sum();
    if sum != 0 {
        return Err(StoreError::Ledger(Refusal::Unbalanced(sum)));
    }
    sqlx::query("SAVEPOINT entry").execute(&mut *conn).await?;
    let result = post_inner(conn, e).await;
    match &result {
        Ok(_) => sqlx::query("RELEASE entry").execute(&mut *conn).await?,
        Err(_) => {
            sqlx::raw_sql("ROLLBACK TO entry; RELEASE entry")
                .execute(&mut *conn)
                .await?
        }
    };
    result
}

async fn post_inner(conn: &mut AnyConnection, e: &NewEntry) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_entries (id, kind, scheme_id, grant_id, job_id, at_ms, memo, run) \
         SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6, $7 FROM ledger_entries RETURNING id",
    )
    .bind(&e.kind)
    .bind(e.scheme)
    .bind(e.grant)
    .bind(e.job)
    .bind(e.at_ms)
    .bind(&e.memo)
    .bind(i64::from(e.run))
    .fetch_one(&mut *conn)
    .await
    .map_err(|err| match &err {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Ledger(Refusal::Duplicate)
        }
        _ => StoreError::Db(err),
    })?;
    if !e.postings.is_empty() {
        let mut q = Sql::new("INSERT INTO ledger_postings (entry_id, account, amount) ");
        q.push_values(&e.postings, |b, (account, amount)| {
            b.push_bind(id).push_bind(account).push_bind(amount);
        });
        q.build().execute(&mut *conn).await?;
    }
    let postings: Vec<(&String, i64)> = e.postings.iter().map(|(a, v)| (a, *v)).collect();
    apply_balances(conn, &postings, &e.guarded.iter().collect()).await?;
    if let Some(c) = &e.carry {
        let moved = sqlx::query("UPDATE grants SET metered = $1 WHERE id = $2 AND metered = $3")
            .bind(&c.after)
            .bind(c.grant)
            .bind(&c.before)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if moved != 1 {
            return Err(StoreError::Ledger(Refusal::Stale));
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
        let rows = sqlx::query(
            "SELECT account, balance FROM ledger_balances WHERE account >= $1 AND account < $2",
        )
        .bind(prefix)
        .bind(format!("{prefix}\u{10FFFF}"))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("account")?, r.try_get("balance")?)))
            .collect()
    }

    /// A grant's metered total (see `aisc_billing::carry`), as decimal text.
    pub async fn grant_metered(&self, grant: i64) -> Result<String, StoreError> {
        sqlx::query_scalar("SELECT metered FROM grants WHERE id = $1")
            .bind(grant)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// One account's balance.
    pub async fn balance(&self, account: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE((SELECT balance FROM ledger_balances WHERE account = $1), 0)",
        )
        .bind(account)
        .fetch_one(&self.read)
        .await?)
    }

    /// Accounts whose running balance differs from the sum of their postings:
    /// empty while the ledger is consistent.
    pub async fn ledger_drift(&self) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.account, COALESCE(b.balance, 0) AS kept, p.total AS summed FROM \
             (SELECT account, CAST(SUM(amount) AS BIGINT) AS total FROM ledger_postings GROUP BY account) p \
             LEFT JOIN ledger_balances b ON b.account = p.account WHERE COALESCE(b.balance, 0) <> p.total \
             UNION ALL SELECT b.account, b.balance, 0 FROM ledger_balances b \
             WHERE b.balance <> 0 AND NOT EXISTS (SELECT 1 FROM ledger_postings p WHERE p.account = b.account)",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("account")?,
                    r.try_get("kept")?,
                    r.try_get("summed")?,
                ))
            })
            .collect()
    }

    /// The sum of every posting: zero while the ledger balances.
    pub async fn ledger_total(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(CAST(SUM(amount) AS BIGINT), 0) FROM ledger_postings",
        )
        .fetch_one(&self.read)
        .await?)
    }
}

/// One charged job in a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// The job.
    pub job: i64,
    /// Which run of it (0 unless it was requeued; each run is settled on its own).
    pub run: u32,
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
    /// Whether this run of the job has an entry of this kind (a lien, a settlement).
    pub async fn has_entry(&self, kind: &str, job: i64, run: u32) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM ledger_entries WHERE kind = $1 AND job_id = $2 AND run = $3",
        )
        .bind(kind)
        .bind(job)
        .bind(i64::from(run))
        .fetch_one(&self.read)
        .await?;
        Ok(n > 0)
    }

    /// A project's charged jobs settled in [from, to), oldest first. The query
    /// starts from the project's jobs (`CROSS JOIN` fixes that order in SQLite):
    /// its cost follows the project's size, not the ledger's.
    pub async fn statement(
        &self,
        project: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<StatementLine>, StoreError> {
        // PostgreSQL plans the plain join from the project's jobs by itself.
        macro_rules! statement {
            ($join:literal) => {
                concat!(
                    "SELECT e.job_id, e.run, j.name, e.grant_id, e.at_ms, COALESCE(r.gpu_ms, j.gpu_ms, 0) AS gpu_ms, COALESCE(j.price_cents, 0) AS price_cents, \
                     CAST(SUM(CASE WHEN p.account LIKE 'grant/%/used' THEN p.amount ELSE 0 END) AS BIGINT) AS charge, \
                     CAST(SUM(CASE WHEN p.account LIKE 'grant/%/subsidy-spent' THEN p.amount ELSE 0 END) AS BIGINT) AS subsidy, \
                     CAST(SUM(CASE WHEN p.account LIKE 'project/%/due' THEN p.amount ELSE 0 END) AS BIGINT) AS tenant \
                     FROM jobs j ",
                    $join,
                    " ledger_entries e ON e.kind = 'settle' AND e.job_id = j.id \
                     JOIN ledger_postings p ON p.entry_id = e.id \
                     LEFT JOIN job_runs r ON r.job_id = e.job_id AND r.run = e.run \
                     WHERE j.project_id = $1 AND e.at_ms >= $2 AND e.at_ms < $3 GROUP BY e.id, j.id, r.gpu_ms ORDER BY e.at_ms, e.id"
                )
            };
        }
        let sql = match self.backend {
            crate::Backend::Sqlite => statement!("CROSS JOIN"),
            crate::Backend::Postgres => statement!("JOIN"),
        };
        let rows = sqlx::query(sql)
            .bind(project)
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StatementLine {
                    job: r.try_get("job_id")?,
                    run: u32::try_from(r.try_get::<i64, _>("run")?).unwrap_or(0),
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

/// Adds postings to the running balances, then refuses if any guarded account is below zero.
async fn apply_balances(
    conn: &mut AnyConnection,
    postings: &[(&String, i64)],
    guarded: &std::collections::BTreeSet<&String>,
) -> Result<(), StoreError> {
    let mut sums: std::collections::BTreeMap<&String, i64> = std::collections::BTreeMap::new();
    for (a, v) in postings {
        *sums.entry(*a).or_insert(0) += v;
    }
    let sums: Vec<(&String, i64)> = sums.into_iter().collect();
    for part in sums.chunks(10_000) {
        let mut q = Sql::new("INSERT INTO ledger_balances (account, balance) ");
        q.push_values(part, |b, (a, v)| {
            b.push_bind(*a).push_bind(*v);
        });
        q.push(" ON CONFLICT (account) DO UPDATE SET balance = ledger_balances.balance + excluded.balance");
        q.build().execute(&mut *conn).await?;
    }
    let guarded: Vec<&&String> = guarded.iter().collect();
    for part in guarded.chunks(10_000) {
        let mut q = Sql::new(
            "SELECT account, balance FROM ledger_balances WHERE balance < 0 AND account IN (",
        );
        for (i, a) in part.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).push_bind(a.as_str());
        }
        q.push(") ORDER BY account LIMIT 1");
        if let Some(r) = q.build().fetch_optional(&mut *conn).await? {
            return Err(StoreError::Ledger(Refusal::Overdrawn(
                r.try_get("account")?,
                r.try_get("balance")?,
            )));
        }
    }
    Ok(())
}

/// Posts many entries all or nothing, in three statements whatever their
/// number: the entries, their postings, and one check of every guarded
/// account. For bulk work such as usage read back from accounting.
pub(crate) async fn post_batch(
    conn: &mut AnyConnection,
    entries: &[NewEntry],
) -> Result<i64, StoreError> {
    if let Some(e) = entries
        .iter()
        .find(|e| e.postings.iter().map(|(_, a)| a).sum::<i64>() != 0)
    {
        return Err(StoreError::Ledger(Refusal::Unbalanced(
            e.postings.iter().map(|(_, a)| a).sum(),
        )));
    }
    sqlx::query("SAVEPOINT batch").execute(&mut *conn).await?;
    let result = post_batch_inner(conn, entries).await;
    match &result {
        Ok(_) => sqlx::query("RELEASE batch").execute(&mut *conn).await?,
        Err(_) => {
            sqlx::raw_sql("ROLLBACK TO batch; RELEASE batch")
                .execute(&mut *conn)
                .await?
        }
    };
    result
}

async fn post_batch_inner(
    conn: &mut AnyConnection,
    entries: &[NewEntry],
) -> Result<i64, StoreError> {
    // The writer is the only writer: ids can be given here, so that postings can name them.
    let first: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM ledger_entries")
        .fetch_one(&mut *conn)
        .await?;
    for (k, chunk) in entries.chunks(2_000).enumerate() {
        let base = first + (k * 2_000) as i64;
        let mut q = Sql::new(
            "INSERT INTO ledger_entries (id, kind, scheme_id, grant_id, job_id, at_ms, memo, run) ",
        );
        q.push_values(chunk.iter().enumerate(), |b, (i, e)| {
            b.push_bind(base + i as i64)
                .push_bind(&e.kind)
                .push_bind(e.scheme)
                .push_bind(e.grant)
                .push_bind(e.job)
                .push_bind(e.at_ms)
                .push_bind(&e.memo)
                .push_bind(i64::from(e.run));
        });
        q.build()
            .execute(&mut *conn)
            .await
            .map_err(|err| match &err {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    StoreError::Ledger(Refusal::Duplicate)
                }
                _ => StoreError::Db(err),
            })?;
        let rows: Vec<(i64, &String, i64)> = chunk
            .iter()
            .enumerate()
            .flat_map(|(i, e)| {
                e.postings
                    .iter()
                    .map(move |(a, v)| (base + i as i64, a, *v))
            })
            .collect();
        for part in rows.chunks(10_000) {
            let mut q = Sql::new("INSERT INTO ledger_postings (entry_id, account, amount) ");
            q.push_values(part, |b, (id, a, v)| {
                b.push_bind(*id).push_bind(*a).push_bind(*v);
            });
            q.build().execute(&mut *conn).await?;
        }
    }
    let guarded: std::collections::BTreeSet<&String> =
        entries.iter().flat_map(|e| &e.guarded).collect();
    let postings: Vec<(&String, i64)> = entries
        .iter()
        .flat_map(|e| e.postings.iter().map(|(a, v)| (a, *v)))
        .collect();
    apply_balances(conn, &postings, &guarded).await?;
    Ok(entries.len() as i64)
}

impl Store {
    /// Posts many entries (with one audit event) all or nothing: for bulk work.
    pub async fn post_batch(
        &self,
        entries: Vec<NewEntry>,
        audit: Option<NewAudit>,
    ) -> Result<i64, StoreError> {
        self.write(Op::PostBatch(entries), audit).await
    }
}
