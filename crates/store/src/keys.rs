//! Data keys: one per scope (a project, or the centre), made on first use,
//! stored wrapped by the current master key, unwrapped once and kept in memory.
//!
//! The writer is the only task that makes or destroys keys; it knows which
//! scope has which committed key (like the last job id, that advances only on
//! commit). Readers need only a key by its id, which every sealed value names.
//! Ids are random, so a key made in a batch that failed to commit leaves at
//! most an unused entry in memory, never a wrong one.

use crate::StoreError;
use crate::sql::Sql;
use aisc_model::{JobSpec, ProjectId};
use aisc_vault::{DataKey, MasterKeys};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// How a sealed column value starts.
const SEALED: &str = "sealed:";

/// The master keys and every live data key, unwrapped.
#[derive(Debug)]
pub struct Keyring {
    masters: RwLock<MasterKeys>,
    live: RwLock<HashMap<i64, DataKey>>,
}

/// The scope of what belongs to `project` (or to no project).
pub fn scope_of(project: Option<ProjectId>) -> String {
    project.map_or_else(|| "centre".to_string(), |p| format!("project:{}", p.0))
}

impl Keyring {
    /// A ring with these master keys and no data keys yet.
    pub fn new(masters: MasterKeys) -> Arc<Keyring> {
        Arc::new(Keyring {
            masters: RwLock::new(masters),
            live: RwLock::new(HashMap::new()),
        })
    }

    /// The live data key with this id.
    pub fn get(&self, id: i64) -> Option<DataKey> {
        self.live.read().ok()?.get(&id).cloned()
    }

    /// The master keys loaded now.
    pub fn masters(&self) -> MasterKeys {
        match self.masters.read() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn set_masters(&self, masters: MasterKeys) {
        match self.masters.write() {
            Ok(mut m) => *m = masters,
            Err(poisoned) => *poisoned.into_inner() = masters,
        }
    }

    fn insert(&self, id: i64, key: DataKey) {
        if let Ok(mut live) = self.live.write() {
            live.insert(id, key);
        }
    }

    pub(crate) fn forget(&self, id: i64) {
        if let Ok(mut live) = self.live.write() {
            live.remove(&id);
        }
    }
}

/// A key made in this batch, to be inserted with it.
pub(crate) struct NewKey {
    id: i64,
    scope: String,
    project: Option<i64>,
    kid: String,
    wrapped: Vec<u8>,
    created_ms: i64,
}

/// Which scope has which committed key, and what this batch changes.
#[derive(Debug, Default)]
pub(crate) struct Scopes {
    committed: HashMap<String, i64>,
    added: HashMap<String, i64>,
    removed: Vec<String>,
    /// Keys made and destroyed when the committed view was last read.
    seen: Option<(i64, i64)>,
}

impl Scopes {
    /// The key for `scope`, as the batch so far sees it.
    pub(crate) fn key(&self, scope: &str) -> Option<i64> {
        if self.removed.iter().any(|s| s == scope) {
            return self.added.get(scope).copied();
        }
        self.added
            .get(scope)
            .or_else(|| self.committed.get(scope))
            .copied()
    }

    /// A key for `scope`: the one it has, or a new one (returned to be inserted).
    pub(crate) fn ensure(
        &mut self,
        ring: &Keyring,
        scope: &str,
        project: Option<ProjectId>,
        at_ms: i64,
    ) -> (i64, Option<NewKey>) {
        if let Some(id) = self.key(scope) {
            return (id, None);
        }
        let id = aisc_vault::new_key_id();
        let key = DataKey::generate();
        let masters = ring.masters();
        let wrapped = aisc_vault::wrap(masters.current(), &key, id, scope);
        ring.insert(id, key);
        self.added.insert(scope.to_string(), id);
        let new = NewKey {
            id,
            scope: scope.to_string(),
            project: project.map(|p| p.0),
            kid: masters.current().kid().to_string(),
            wrapped,
            created_ms: at_ms,
        };
        (id, Some(new))
    }

    /// A key made in this batch was not stored after all.
    pub(crate) fn forget_added(&mut self, scope: &str) {
        self.added.remove(scope);
    }

    pub(crate) fn remove(&mut self, scope: &str) {
        self.added.remove(scope);
        self.removed.push(scope.to_string());
    }

    /// The batch committed: its changes become the committed view.
    /// Returns the ids of keys it destroyed.
    pub(crate) fn commit(&mut self) -> Vec<i64> {
        let mut gone = Vec::new();
        for s in self.removed.drain(..) {
            if let Some(id) = self.committed.remove(&s) {
                gone.push(id);
            }
        }
        self.committed.extend(self.added.drain());
        gone
    }

    /// The batch failed: forget its changes.
    pub(crate) fn rollback(&mut self) {
        self.added.clear();
        self.removed.clear();
    }
}

/// Unwraps every live key into `ring`. Fails, naming the master key, if one
/// is wrapped by a master key that is not loaded.
pub(crate) async fn load(conn: &mut AnyConnection, ring: &Keyring) -> Result<Scopes, StoreError> {
    let rows = sqlx::query(
        "SELECT id, scope, master_kid, wrapped FROM data_keys WHERE wrapped IS NOT NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    let masters = ring.masters();
    let mut scopes = Scopes::default();
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let scope: String = r.try_get("scope")?;
        let kid: String = r.try_get("master_kid")?;
        let wrapped: Vec<u8> = r.try_get("wrapped")?;
        let key = aisc_vault::unwrap(&masters, &kid, &wrapped, id, &scope)?;
        ring.insert(id, key);
        scopes.committed.insert(scope, id);
    }
    Ok(scopes)
}

/// Another server may have made keys since this one read them (PostgreSQL):
/// at the start of each write batch the writer reloads its view when the
/// count of keys made or destroyed has changed.
pub(crate) async fn sync(
    conn: &mut AnyConnection,
    ring: &Keyring,
    scopes: &mut Scopes,
) -> Result<(), StoreError> {
    let seen: (i64, i64) = sqlx::query_as("SELECT COUNT(*), COUNT(destroyed_ms) FROM data_keys")
        .fetch_one(&mut *conn)
        .await?;
    if scopes.seen == Some(seen) {
        return Ok(());
    }
    let fresh = load(conn, ring).await?;
    scopes.committed = fresh.committed;
    scopes.seen = Some(seen);
    Ok(())
}

/// Unwraps into `ring` the live keys among `ids` that it lacks (made by
/// another server on the same PostgreSQL database).
pub(crate) async fn load_missing(
    pool: &sqlx::AnyPool,
    ring: &Keyring,
    ids: impl IntoIterator<Item = i64>,
) -> Result<(), StoreError> {
    let masters = ring.masters();
    for id in ids {
        if ring.get(id).is_some() {
            continue;
        }
        let row = sqlx::query(
            "SELECT scope, master_kid, wrapped FROM data_keys WHERE id = $1 AND wrapped IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?;
        if let Some(r) = row {
            let scope: String = r.try_get("scope")?;
            let kid: String = r.try_get("master_kid")?;
            let wrapped: Vec<u8> = r.try_get("wrapped")?;
            ring.insert(
                id,
                aisc_vault::unwrap(&masters, &kid, &wrapped, id, &scope)?,
            );
        }
    }
    Ok(())
}

/// The id of the key a stored spec is sealed with (`None` for a clear one).
pub(crate) fn spec_key_id(text: &str) -> Option<i64> {
    let body = text.strip_prefix(SEALED)?;
    let sealed = STANDARD.decode(body).ok()?;
    aisc_vault::sealed_key_id(&sealed).ok()
}

/// Adds one `INSERT INTO data_keys` for `keys` to `q`.
pub(crate) fn push_insert(q: &mut Sql, keys: &[NewKey]) {
    q.push("INSERT INTO data_keys (id, scope, project_id, master_kid, wrapped, created_ms) ");
    q.push_values(keys, |b, k| {
        b.push_bind(k.id)
            .push_bind(&k.scope)
            .push_bind(k.project)
            .push_bind(&k.kid)
            .push_bind(&k.wrapped)
            .push_bind(k.created_ms);
    });
}

pub(crate) async fn insert(conn: &mut AnyConnection, keys: &[NewKey]) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new("");
    push_insert(&mut q, keys);
    q.build().execute(&mut *conn).await?;
    Ok(())
}

/// The key of `project`'s scope, made and inserted if it has none. Refused for
/// a closed project: its data is gone and nothing new is kept.
pub(crate) async fn ensure(
    conn: &mut AnyConnection,
    ring: &Keyring,
    scopes: &mut Scopes,
    project: Option<ProjectId>,
    at_ms: i64,
) -> Result<i64, StoreError> {
    refuse_closed(conn, project).await?;
    let scope = scope_of(project);
    let (id, new) = scopes.ensure(ring, &scope, project, at_ms);
    if let Err(e) = insert(conn, new.as_slice()).await {
        scopes.forget_added(&scope);
        return Err(e);
    }
    Ok(id)
}

async fn refuse_closed(
    conn: &mut AnyConnection,
    project: Option<ProjectId>,
) -> Result<(), StoreError> {
    let Some(p) = project else {
        return Ok(());
    };
    let closed: Option<Option<i64>> =
        sqlx::query_scalar("SELECT closed_ms FROM projects WHERE id = $1")
            .bind(p.0)
            .fetch_optional(&mut *conn)
            .await?;
    match closed {
        None => Err(StoreError::NotFound),
        Some(Some(_)) => Err(StoreError::Refused("the project is closed")),
        Some(None) => Ok(()),
    }
}

/// Destroys the live key of `scope`. Returns its id, if it had one.
pub(crate) async fn destroy(
    conn: &mut AnyConnection,
    scopes: &mut Scopes,
    scope: &str,
    at_ms: i64,
) -> Result<i64, StoreError> {
    let Some(id) = scopes.key(scope) else {
        return Ok(0);
    };
    sqlx::query(
        "UPDATE data_keys SET wrapped = NULL, master_kid = NULL, destroyed_ms = $1 WHERE id = $2",
    )
    .bind(at_ms)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    scopes.remove(scope);
    Ok(id)
}

/// Re-wraps every live key not wrapped by the current master key. Returns how many.
pub(crate) async fn rewrap(conn: &mut AnyConnection, ring: &Keyring) -> Result<i64, StoreError> {
    let masters = ring.masters();
    let current = masters.current();
    let rows = sqlx::query("SELECT id, scope, master_kid, wrapped FROM data_keys WHERE wrapped IS NOT NULL AND master_kid <> $1")
        .bind(current.kid())
        .fetch_all(&mut *conn)
        .await?;
    let mut n = 0;
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let scope: String = r.try_get("scope")?;
        let kid: String = r.try_get("master_kid")?;
        let wrapped: Vec<u8> = r.try_get("wrapped")?;
        let key = aisc_vault::unwrap(&masters, &kid, &wrapped, id, &scope)?;
        let again = aisc_vault::wrap(current, &key, id, &scope);
        sqlx::query("UPDATE data_keys SET master_kid = $1, wrapped = $2 WHERE id = $3")
            .bind(current.kid())
            .bind(again)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        n += 1;
    }
    Ok(n)
}

fn context(job: i64) -> Vec<u8> {
    format!("job:{job}").into_bytes()
}

/// A job's spec as stored: its JSON sealed with the key `key_id`, bound to the job's id.
pub(crate) fn seal_spec(
    ring: &Keyring,
    key_id: i64,
    job: i64,
    spec: &JobSpec,
) -> Result<String, StoreError> {
    let json = serde_json::to_vec(spec)?;
    let key = ring
        .get(key_id)
        .ok_or(StoreError::Refused("the data key is gone"))?;
    let sealed = aisc_vault::seal(&key, key_id, &context(job), &json);
    Ok(format!("{SEALED}{}", STANDARD.encode(sealed)))
}

/// A stored spec read back: `None` once its key has been destroyed.
pub(crate) fn open_spec(
    ring: &Keyring,
    job: i64,
    text: &str,
) -> Result<Option<JobSpec>, StoreError> {
    let Some(body) = text.strip_prefix(SEALED) else {
        // Written before specs were sealed (and not yet sealed at start).
        return Ok(Some(serde_json::from_str(text)?));
    };
    let corrupt = || StoreError::Corrupt {
        column: "jobs.spec",
        value: format!("sealed value of job {job}"),
    };
    let sealed = STANDARD.decode(body).map_err(|_| corrupt())?;
    let key_id = aisc_vault::sealed_key_id(&sealed).map_err(|_| corrupt())?;
    let Some(key) = ring.get(key_id) else {
        return Ok(None);
    };
    let json = aisc_vault::open(&key, &context(job), &sealed)?;
    Ok(Some(serde_json::from_slice(&json)?))
}

/// Seals the specs of jobs stored before specs were sealed, a thousand a
/// transaction. Returns how many.
pub(crate) async fn seal_plain_specs(
    conn: &mut AnyConnection,
    ring: &Keyring,
    scopes: &mut Scopes,
) -> Result<u64, StoreError> {
    let mut total = 0;
    let mut after = 0i64;
    loop {
        // By id, so that each batch starts where the last one ended.
        let rows = sqlx::query(
            "SELECT id, project_id, submit_ms, spec FROM jobs WHERE id > $1 AND spec NOT LIKE 'sealed:%' ORDER BY id LIMIT 1000",
        )
        .bind(after)
        .fetch_all(&mut *conn)
        .await?;
        let Some(last) = rows.last() else {
            return Ok(total);
        };
        after = last.try_get("id")?;
        sqlx::query(crate::sql::begin_write(conn))
            .execute(&mut *conn)
            .await?;
        let mut new_keys = Vec::new();
        let mut updates = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let project = r.try_get::<Option<i64>, _>("project_id")?.map(ProjectId);
            let spec: JobSpec = serde_json::from_str(&r.try_get::<String, _>("spec")?)?;
            let (key_id, new) =
                scopes.ensure(ring, &scope_of(project), project, r.try_get("submit_ms")?);
            new_keys.extend(new);
            updates.push((id, seal_spec(ring, key_id, id, &spec)?));
        }
        let res: Result<(), StoreError> = async {
            insert(conn, &new_keys).await?;
            for (id, text) in &updates {
                sqlx::query("UPDATE jobs SET spec = $1 WHERE id = $2")
                    .bind(text)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }
        .await;
        match res {
            Ok(()) => {
                sqlx::query("COMMIT").execute(&mut *conn).await?;
                scopes.commit();
            }
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                scopes.rollback();
                return Err(e);
            }
        }
        total += rows.len() as u64;
    }
}

/// How many live data keys each master key wraps, and how many keys were destroyed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyReport {
    /// Master key id → live data keys it wraps.
    pub wrapped_by: Vec<(String, i64)>,
    /// Data keys destroyed (crypto-shredded).
    pub destroyed: i64,
}

impl crate::Store {
    /// The live data key with this id (`None` once destroyed).
    pub fn data_key(&self, id: i64) -> Option<DataKey> {
        self.keys.get(id)
    }

    /// The key for `project`'s data (made and stored if it has none yet), with its id.
    pub async fn key_for(
        &self,
        project: Option<ProjectId>,
        at_ms: i64,
    ) -> Result<(i64, DataKey), StoreError> {
        // The common case, a key made long ago, is a read; only a new key is a write.
        let live: Option<i64> =
            sqlx::query_scalar("SELECT id FROM data_keys WHERE scope = $1 AND wrapped IS NOT NULL")
                .bind(scope_of(project))
                .fetch_optional(&self.read)
                .await?;
        if let Some(id) = live {
            if self.backend == crate::Backend::Postgres {
                load_missing(&self.read, &self.keys, [id]).await?;
            }
            if let Some(key) = self.keys.get(id) {
                return Ok((id, key));
            }
        }
        let id = self
            .write(crate::writer::Op::EnsureKey { project, at_ms }, None)
            .await?;
        let key = self.keys.get(id).ok_or(StoreError::NotFound)?;
        Ok((id, key))
    }

    /// The master keys in use.
    pub fn master_keys(&self) -> MasterKeys {
        self.keys.masters()
    }

    /// Counts of data keys by master key.
    pub async fn key_report(&self) -> Result<KeyReport, StoreError> {
        let rows = sqlx::query(
            "SELECT master_kid, COUNT(*) AS n FROM data_keys WHERE wrapped IS NOT NULL GROUP BY master_kid ORDER BY master_kid",
        )
        .fetch_all(&self.read)
        .await?;
        let destroyed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM data_keys WHERE wrapped IS NULL")
                .fetch_one(&self.read)
                .await?;
        Ok(KeyReport {
            wrapped_by: rows
                .iter()
                .map(|r| Ok((r.try_get("master_kid")?, r.try_get("n")?)))
                .collect::<Result<_, sqlx::Error>>()?,
            destroyed,
        })
    }

    /// Loads `masters` (a superset of the keys in use) and re-wraps every data
    /// key under its current key in one transaction, with `audit`. Readers keep
    /// working throughout: they use the unwrapped keys. Returns how many were re-wrapped.
    pub async fn rewrap_keys(
        &self,
        masters: MasterKeys,
        audit: crate::NewAudit,
    ) -> Result<i64, StoreError> {
        self.keys.set_masters(masters);
        self.write(crate::writer::Op::Rewrap, Some(audit)).await
    }

    /// Replaces the loaded master keys (after a retired key left the ring).
    pub fn set_master_keys(&self, masters: MasterKeys) {
        self.keys.set_masters(masters);
    }
}
