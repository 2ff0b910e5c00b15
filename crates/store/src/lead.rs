//! Which server leads on a shared PostgreSQL database.
//!
//! One server at a time runs the scheduler and the engine. Leading means
//! holding a session advisory lock on a connection of its own: PostgreSQL
//! releases it the moment that connection ends (a killed server's socket
//! closes), and a waiting standby gets it then. Taking the lead raises the
//! epoch in `leader_lease`; every write batch of a fenced store checks, under
//! the write lock, that the epoch is still its own, so an old leader that
//! lost its lock without noticing (a paused process, a cut connection)
//! cannot write after another has taken over.

use crate::{Backend, Store, StoreError};
use sqlx::{AnyConnection, Connection};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The advisory lock whose holder leads.
const LEADER_LOCK: i64 = 7_427_003;

/// The epoch a store's writes must match (0: not fenced, as on SQLite).
#[derive(Debug, Default)]
pub(crate) struct Fence(AtomicI64);

impl Fence {
    pub(crate) fn epoch(&self) -> i64 {
        self.0.load(Ordering::Acquire)
    }
}

/// This server's lead: the connection holding the lock, and its epoch.
#[derive(Debug)]
pub struct Leadership {
    conn: Option<AnyConnection>,
    /// The epoch of this lead (1 for the first leader of a database).
    pub epoch: i64,
}

impl Leadership {
    /// Resolves when the lead is lost: the lock's connection failed.
    pub async fn lost(mut self) -> StoreError {
        let Some(mut conn) = self.conn.take() else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Err(e) = conn.ping().await {
                return StoreError::Db(e);
            }
        }
    }
}

impl Store {
    /// Waits until this server leads, then fences the store with the new
    /// epoch. `holder` and `url` say who leads, for others to read. On SQLite
    /// (one server) it leads at once.
    pub async fn lead(&self, holder: &str, url: &str) -> Result<Leadership, StoreError> {
        let Some(mut conn) = self.lock_connection().await? else {
            return Ok(Leadership {
                conn: None,
                epoch: 0,
            });
        };
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(LEADER_LOCK)
            .execute(&mut conn)
            .await?;
        self.take_lead(conn, holder, url).await
    }

    /// The lead if no other server holds it now, without waiting (on SQLite, always).
    pub async fn try_lead(
        &self,
        holder: &str,
        url: &str,
    ) -> Result<Option<Leadership>, StoreError> {
        let Some(mut conn) = self.lock_connection().await? else {
            return Ok(Some(Leadership {
                conn: None,
                epoch: 0,
            }));
        };
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LEADER_LOCK)
            .fetch_one(&mut conn)
            .await?;
        if !got {
            return Ok(None);
        }
        self.take_lead(conn, holder, url).await.map(Some)
    }

    /// A connection of its own for the leader's lock (`None` on SQLite).
    async fn lock_connection(&self) -> Result<Option<AnyConnection>, StoreError> {
        let Some(db_url) = self.url.as_deref() else {
            return Ok(None);
        };
        debug_assert_eq!(self.backend, Backend::Postgres);
        Ok(Some(AnyConnection::connect(db_url).await?))
    }

    /// The lock is held on `conn`: raise the epoch and fence this store with it.
    async fn take_lead(
        &self,
        mut conn: AnyConnection,
        holder: &str,
        url: &str,
    ) -> Result<Leadership, StoreError> {
        let epoch: i64 = sqlx::query_scalar(
            "INSERT INTO leader_lease (id, holder, url, epoch, expires_ms) VALUES (1, $1, $2, 1, 0) \
             ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, url = excluded.url, \
             epoch = leader_lease.epoch + 1 RETURNING epoch",
        )
        .bind(holder)
        .bind(url)
        .fetch_one(&mut conn)
        .await?;
        self.fence.0.store(epoch, Ordering::Release);
        Ok(Leadership {
            conn: Some(conn),
            epoch,
        })
    }

    /// Who leads now and at which epoch, if anyone has (PostgreSQL).
    pub async fn leader(&self) -> Result<Option<(String, String, i64)>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        Ok(
            sqlx::query_as("SELECT holder, url, epoch FROM leader_lease WHERE id = 1")
                .fetch_optional(&self.read)
                .await?,
        )
    }
}

/// Refuses the batch when the store is fenced and another server has taken
/// the lead since (run under the write lock, so no lead can change meanwhile).
pub(crate) async fn check_fence(
    conn: &mut AnyConnection,
    fence: &Arc<Fence>,
) -> Result<(), StoreError> {
    let mine = fence.epoch();
    if mine == 0 {
        return Ok(());
    }
    let now: Option<i64> = sqlx::query_scalar("SELECT epoch FROM leader_lease WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    if now == Some(mine) {
        Ok(())
    } else {
        Err(StoreError::Fenced {
            mine,
            now: now.unwrap_or(0),
        })
    }
}
