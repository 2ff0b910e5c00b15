//! Copies a whole database between the back ends: a PostgreSQL database is
//! backed up as the same SQLite snapshot file an SQLite one is (`aisc
//! backup`), and a snapshot is restored into either (`aisc restore`).
//!
//! The copy reads every table inside one transaction, so it is consistent:
//! on PostgreSQL a `REPEATABLE READ READ ONLY` one, which sees one snapshot of
//! all tables while writers go on.

use crate::{Backend, StoreError};
use futures_util::TryStreamExt;
use sqlx::any::AnyTypeInfoKind;
use sqlx::{AnyConnection, Column, Row, ValueRef};

/// Every table, parents before children (foreign keys hold at every insert).
const TABLES: &[&str] = &[
    "users",
    "api_tokens",
    "organisations",
    "org_admins",
    "projects",
    "memberships",
    "resource_classes",
    "prices",
    "schemes",
    "applications",
    "reviews",
    "grants",
    "jobs",
    "job_events",
    "job_runs",
    "audit_events",
    "ledger_entries",
    "ledger_postings",
    "ledger_balances",
    "instance",
    "node_drains",
    "data_keys",
    "data_objects",
];

/// PostgreSQL's tables whose ids a sequence gives (moved past the copied ids).
const IDENTITY: &[&str] = &[
    "users",
    "api_tokens",
    "organisations",
    "projects",
    "resource_classes",
    "prices",
    "schemes",
    "applications",
    "job_events",
    "data_objects",
];

/// Rows per insert (at most 40 columns: well under SQLite's bound values).
const ROWS_PER_INSERT: usize = 500;

enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

fn value(row: &sqlx::any::AnyRow, i: usize) -> Result<Val, StoreError> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Val::Null);
    }
    let kind = raw.type_info().kind();
    Ok(match kind {
        AnyTypeInfoKind::Null => Val::Null,
        AnyTypeInfoKind::Bool => Val::Int(i64::from(row.try_get::<bool, _>(i)?)),
        AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
            Val::Int(row.try_get(i)?)
        }
        AnyTypeInfoKind::Real | AnyTypeInfoKind::Double => Val::Real(row.try_get(i)?),
        AnyTypeInfoKind::Text => Val::Text(row.try_get(i)?),
        AnyTypeInfoKind::Blob => Val::Blob(row.try_get(i)?),
    })
}

fn bind(t: &mut crate::sql::Tuple<'_>, v: Val) {
    match v {
        Val::Null => t.push_bind(None::<i64>),
        Val::Int(i) => t.push_bind(i),
        Val::Real(r) => t.push_bind(r),
        Val::Text(s) => t.push_bind(s),
        Val::Blob(b) => t.push_bind(b),
    };
}

async fn flush(
    to: &mut AnyConnection,
    table: &str,
    columns: &[String],
    rows: &mut Vec<Vec<Val>>,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut q = crate::sql::Sql::new(format!("INSERT INTO {table} ({}) ", columns.join(", ")));
    q.push_values(rows.drain(..), |t, row| {
        for v in row {
            bind(t, v);
        }
    });
    q.build().execute(&mut *to).await?;
    Ok(())
}

/// Copies every table from `from` (inside a transaction the caller opened)
/// into `to` (freshly migrated, inside the caller's transaction). Returns
/// the rows copied.
async fn copy_all(from: &mut AnyConnection, to: &mut AnyConnection) -> Result<u64, StoreError> {
    // Migrations may have put rows in (the instance id): the copy replaces them.
    for table in TABLES.iter().rev() {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut *to)
            .await?;
    }
    let mut total = 0;
    for table in TABLES {
        let sql = format!("SELECT * FROM {table}");
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut *from);
        let mut columns: Vec<String> = Vec::new();
        let mut batch: Vec<Vec<Val>> = Vec::with_capacity(ROWS_PER_INSERT);
        while let Some(row) = rows.try_next().await? {
            if columns.is_empty() {
                columns = row.columns().iter().map(|c| c.name().to_string()).collect();
            }
            batch.push(
                (0..columns.len())
                    .map(|i| value(&row, i))
                    .collect::<Result<_, _>>()?,
            );
            total += 1;
            if batch.len() == ROWS_PER_INSERT {
                flush(to, table, &columns, &mut batch).await?;
            }
        }
        flush(to, table, &columns, &mut batch).await?;
    }
    if Backend::of(to) == Backend::Postgres {
        for table in IDENTITY {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )))
            .execute(&mut *to)
            .await?;
        }
    }
    Ok(total)
}

/// Copies the PostgreSQL database at `url` into a new SQLite file at
/// `target`, as one consistent snapshot. Returns the rows copied.
pub(crate) async fn export_postgres(
    url: &str,
    target: &std::path::Path,
) -> Result<u64, StoreError> {
    use sqlx::Connection;
    let mut from = AnyConnection::connect(url).await?;
    let to = crate::open_sqlite_file(target).await?;
    sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut from)
        .await?;
    copy_in_one_transaction(from, to).await
}

/// Copies everything from `from` (in whatever transaction it is in, ended
/// after) into `to` in one transaction: committed whole, or rolled back.
async fn copy_in_one_transaction(
    mut from: AnyConnection,
    mut to: AnyConnection,
) -> Result<u64, StoreError> {
    use sqlx::Connection;
    sqlx::raw_sql("BEGIN").execute(&mut to).await?;
    let copied = copy_all(&mut from, &mut to).await;
    // Only reads happened on `from`: ending its transaction either way is the same.
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut from).await;
    match copied {
        Ok(n) => {
            sqlx::raw_sql("COMMIT").execute(&mut to).await?;
            to.close().await?;
            from.close().await?;
            Ok(n)
        }
        Err(e) => {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut to).await;
            Err(e)
        }
    }
}

/// Copies an SQLite snapshot file into the empty PostgreSQL database at
/// `url` (migrated first), in one transaction. Refused if it holds users or
/// jobs. Returns the rows copied.
pub async fn import_into_postgres(
    snapshot: &std::path::Path,
    url: &str,
) -> Result<u64, StoreError> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut to = AnyConnection::connect(url).await?;
    crate::POSTGRES_MIGRATIONS.run(&mut to).await?;
    let used: i64 =
        sqlx::query_scalar("SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM jobs)")
            .fetch_one(&mut to)
            .await?;
    if used > 0 {
        return Err(StoreError::Refused(
            "the PostgreSQL database already holds users or jobs: restore into an empty one",
        ));
    }
    let from = crate::open_sqlite_file(snapshot).await?;
    copy_in_one_transaction(from, to).await
}
