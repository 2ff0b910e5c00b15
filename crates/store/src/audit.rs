//! The audit trail: appended by the writer in the same transaction as the
//! change it records, chained by `aisc_model::audit`.

use crate::Store;
use crate::error::StoreError;
use crate::sql::Sql;
use aisc_model::audit::{AuditFields, ChainError, GENESIS, Verifier, chain_hash};
use sqlx::{AnyConnection, Row};

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    /// When (epoch ms).
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// What (`job.submit`).
    pub action: String,
    /// On what (`job:42`); left empty on a submission, it becomes the new job.
    pub target: String,
    /// In words.
    pub summary: String,
    /// From where.
    pub source: String,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// In words.
    pub summary: String,
    /// From where.
    pub source: String,
    /// The previous event's hash.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

impl AuditRow {
    fn fields(&self) -> AuditFields<'_> {
        AuditFields {
            id: self.id,
            at_ms: self.at_ms,
            actor: &self.actor,
            action: &self.action,
            target: &self.target,
            summary: &self.summary,
            source: &self.source,
        }
    }
}

/// The end of the chain: the last id and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainHead {
    pub id: i64,
    pub hash: String,
}

pub(crate) async fn head(conn: &mut AnyConnection) -> Result<ChainHead, StoreError> {
    let row = sqlx::query("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(r) => ChainHead {
            id: r.try_get("id")?,
            hash: r.try_get("hash")?,
        },
        None => ChainHead {
            id: 0,
            hash: GENESIS.to_string(),
        },
    })
}

/// An event's place in the chain.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    id: i64,
    prev: String,
    hash: String,
}

/// Chains `events` after `head`: their ids and hashes, and the new head.
pub(crate) fn chain(head: &ChainHead, events: &[NewAudit]) -> (Vec<Link>, ChainHead) {
    let mut links = Vec::with_capacity(events.len());
    let mut prev = head.hash.clone();
    for (i, e) in events.iter().enumerate() {
        let id = head.id + 1 + i as i64;
        let f = AuditFields {
            id,
            at_ms: e.at_ms,
            actor: &e.actor,
            action: &e.action,
            target: &e.target,
            summary: &e.summary,
            source: &e.source,
        };
        let hash = chain_hash(&prev, &f);
        links.push(Link {
            id,
            prev,
            hash: hash.clone(),
        });
        prev = hash;
    }
    let head = ChainHead {
        id: head.id + events.len() as i64,
        hash: prev,
    };
    (links, head)
}

/// Adds one multi-row `INSERT INTO audit_events` to `q`.
pub(crate) fn push_insert<'a>(q: &mut Sql, events: &'a [NewAudit], links: &'a [Link]) {
    q.push("INSERT INTO audit_events (id, at_ms, actor, action, target, summary, source, prev_hash, hash) ");
    q.push_values(events.iter().zip(links), |b, (e, l)| {
        b.push_bind(l.id)
            .push_bind(e.at_ms)
            .push_bind(&e.actor)
            .push_bind(&e.action)
            .push_bind(&e.target)
            .push_bind(&e.summary)
            .push_bind(&e.source)
            .push_bind(&l.prev)
            .push_bind(&l.hash);
    });
}

/// Appends `events` after `head` in one statement; returns the new head.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    head: &ChainHead,
    events: &[NewAudit],
) -> Result<ChainHead, StoreError> {
    let (links, head) = chain(head, events);
    let mut q = Sql::new("");
    push_insert(&mut q, events, &links);
    q.build().execute(conn).await?;
    Ok(head)
}

/// The result of checking the whole trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every event checked out.
    Intact {
        /// How many.
        checked: u64,
    },
    /// The first event that does not.
    Broken {
        /// Events checked before it.
        checked: u64,
        /// What is wrong, naming the event.
        error: ChainError,
    },
}

const PAGE: i64 = 10_000;

fn read(r: &sqlx::any::AnyRow) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        id: r.try_get("id")?,
        at_ms: r.try_get("at_ms")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        summary: r.try_get("summary")?,
        source: r.try_get("source")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// Which events to list: every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct AuditSearch {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Actions starting with this (`job.`, `grant.approve`).
    pub action: Option<String>,
    /// Text found in the target or the summary (any case).
    pub text: Option<String>,
}

impl Store {
    /// Events, newest first, older than `before` if given, matching `search`.
    pub async fn audit_list(
        &self,
        before: Option<i64>,
        limit: u32,
        search: &AuditSearch,
    ) -> Result<Vec<AuditRow>, StoreError> {
        // SQLite's `instr` is PostgreSQL's `strpos` (same arguments, same answer).
        macro_rules! list {
            ($find:literal) => {
                concat!(
                    "SELECT id, at_ms, actor, action, target, summary, source, prev_hash, hash FROM audit_events \
                     WHERE id < $1 AND ($3 IS NULL OR actor = $3) \
                       AND ($4 IS NULL OR substr(action, 1, length($4)) = $4) \
                       AND ($5 IS NULL OR ",
                    $find,
                    "(lower(target || ' ' || summary), lower($5)) > 0) \
                     ORDER BY id DESC LIMIT $2"
                )
            };
        }
        let sql = match self.backend {
            crate::Backend::Sqlite => list!("instr"),
            crate::Backend::Postgres => list!("strpos"),
        };
        let rows = sqlx::query(sql)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .bind(search.actor.as_deref())
            .bind(search.action.as_deref())
            .bind(search.text.as_deref())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(read).collect()
    }

    /// Checks the whole chain, a page at a time.
    pub async fn audit_verify(&self) -> Result<Verification, StoreError> {
        Ok(self.audit_verify_from(Verifier::new()).await?.0)
    }

    /// Goes on checking the chain after the events `v` has checked already,
    /// and hands back the verifier at the end of the chain for next time.
    /// The last event `v` checked is read again first, so that an edit of it
    /// (or its removal) is caught too; older events are not read again: a
    /// full check is [`Store::audit_verify`].
    pub async fn audit_verify_from(
        &self,
        mut v: Verifier,
    ) -> Result<(Verification, Verifier), StoreError> {
        if v.last_id() > 0 {
            let row = sqlx::query(
                "SELECT id, at_ms, actor, action, target, summary, source, prev_hash, hash FROM audit_events \
                 WHERE id = $1",
            )
            .bind(v.last_id())
            .fetch_optional(&self.read)
            .await?;
            let row = row.as_ref().map(read).transpose()?;
            let same = row.is_some_and(|r| {
                r.hash == v.last_hash() && chain_hash(&r.prev_hash, &r.fields()) == r.hash
            });
            if !same {
                let error = ChainError::Altered(v.last_id());
                let checked = v.checked().saturating_sub(1);
                return Ok((Verification::Broken { checked, error }, v));
            }
        }
        loop {
            let rows = sqlx::query(
                "SELECT id, at_ms, actor, action, target, summary, source, prev_hash, hash FROM audit_events \
                 WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(v.last_id())
            .bind(PAGE)
            .fetch_all(&self.read)
            .await?;
            if rows.is_empty() {
                let checked = v.checked();
                return Ok((Verification::Intact { checked }, v));
            }
            for r in &rows {
                let row = read(r)?;
                if let Err(error) = v.push(&row.fields(), &row.prev_hash, &row.hash) {
                    let checked = v.checked();
                    return Ok((Verification::Broken { checked, error }, v));
                }
            }
        }
    }
}
