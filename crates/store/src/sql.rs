//! The store's one portable SQL dialect and a statement builder for it.
//!
//! Every statement is written once and runs on both back ends through sqlx's
//! `Any` driver. The rules that make that work:
//! - placeholders are `$1, $2, …` (PostgreSQL's form, which sqlx's SQLite
//!   driver also reads by number); [`Sql`] numbers them as values are bound;
//! - integers are 64-bit (`BIGINT` in PostgreSQL), flags are integers 0/1,
//!   sums are cast back to `BIGINT` (PostgreSQL widens them to `NUMERIC`);
//! - what only one back end has (`VACUUM INTO`, `sqlite_sequence`,
//!   advisory locks) is chosen by [`Backend::of`].

use sqlx::AnyConnection;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Arguments, AssertSqlSafe, Encode, Row, Type};
use std::fmt::{Display, Write};

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite: one server, one file.
    Sqlite,
    /// PostgreSQL: several servers may share it.
    Postgres,
}

impl Backend {
    /// The back end a connection talks to.
    pub(crate) fn of(conn: &AnyConnection) -> Backend {
        if conn.backend_name().eq_ignore_ascii_case("postgresql") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Its name as users see it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The statement that opens a write transaction: SQLite's takes the write
/// lock at once (no deadlock between two that read first).
pub(crate) fn begin_write(conn: &AnyConnection) -> &'static str {
    match Backend::of(conn) {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    }
}

/// A statement built at run time: its text, with `$n` placeholders, and its values.
#[derive(Default)]
pub(crate) struct Sql {
    text: String,
    args: AnyArguments,
}

impl Sql {
    pub(crate) fn new(text: impl Display) -> Sql {
        let mut sql = Sql::default();
        sql.push(text);
        sql
    }

    pub(crate) fn push(&mut self, text: impl Display) -> &mut Sql {
        let _ = write!(self.text, "{text}");
        self
    }

    /// Binds `value` and writes its placeholder.
    pub(crate) fn push_bind<'t, T>(&mut self, value: T) -> &mut Sql
    where
        T: Encode<'t, Any> + Type<Any>,
    {
        // `add` fails only when a value cannot be encoded, which the bound
        // types here never are; the statement then fails on a missing value.
        let _ = self.args.add(value);
        let n = self.args.len();
        let _ = write!(self.text, "${n}");
        self
    }

    /// `VALUES (…), (…)`: one tuple per item, its values bound by `row`.
    pub(crate) fn push_values<I, F>(&mut self, items: I, mut row: F) -> &mut Sql
    where
        I: IntoIterator,
        F: FnMut(&mut Tuple<'_>, I::Item),
    {
        self.push("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            row(
                &mut Tuple {
                    sql: self,
                    first: true,
                },
                item,
            );
            self.push(")");
        }
        self
    }

    pub(crate) fn build(self) -> Query<'static, Any, AnyArguments> {
        sqlx::query_with(AssertSqlSafe(self.text), self.args)
    }
}

/// The values of one tuple of [`Sql::push_values`], separated by commas.
pub(crate) struct Tuple<'s> {
    sql: &'s mut Sql,
    first: bool,
}

impl Tuple<'_> {
    pub(crate) fn push_bind<'t, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'t, Any> + Type<Any>,
    {
        if !self.first {
            self.sql.push(", ");
        }
        self.first = false;
        self.sql.push_bind(value);
        self
    }
}

/// A column read as a narrower Rust type than the `i64` both back ends store
/// (counts, flags): out of range is an error naming the column.
pub(crate) trait FromDb: Sized {
    fn from_db(row: &AnyRow, col: &str) -> Result<Self, sqlx::Error>;
}

fn narrow<T: TryFrom<i64>>(col: &str, v: i64) -> Result<T, sqlx::Error> {
    T::try_from(v).map_err(|_| sqlx::Error::ColumnDecode {
        index: col.to_string(),
        source: format!("{v} is out of range for this column").into(),
    })
}

macro_rules! from_db_int {
    ($($t:ty),*) => {$(
        impl FromDb for $t {
            fn from_db(row: &AnyRow, col: &str) -> Result<Self, sqlx::Error> {
                narrow(col, row.try_get::<i64, _>(col)?)
            }
        }
        impl FromDb for Option<$t> {
            fn from_db(row: &AnyRow, col: &str) -> Result<Self, sqlx::Error> {
                row.try_get::<Option<i64>, _>(col)?.map(|v| narrow(col, v)).transpose()
            }
        }
    )*};
}
from_db_int!(u16, u32, u64, i32);

impl FromDb for bool {
    fn from_db(row: &AnyRow, col: &str) -> Result<Self, sqlx::Error> {
        // A stored flag is an integer on both; a comparison is PostgreSQL's boolean.
        match row.try_get::<i64, _>(col) {
            Ok(v) => Ok(v != 0),
            Err(_) => row.try_get::<bool, _>(col),
        }
    }
}

/// [`FromDb`] as a method of rows.
pub(crate) trait RowExt {
    fn num<T: FromDb>(&self, col: &str) -> Result<T, sqlx::Error>;
}

impl RowExt for AnyRow {
    fn num<T: FromDb>(&self, col: &str) -> Result<T, sqlx::Error> {
        T::from_db(self, col)
    }
}
