//! What a submission is charged with, without a database round trip per
//! submission: each project's active grants and each class's price in force,
//! remembered for a few seconds. A decision or a price change on this server
//! clears them at once; another server's changes show within the lifetime.

use crate::clock::now_ms;
use aisc_model::ProjectId;
use aisc_store::{GrantRow, Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long an answer is reused.
const LIFETIME: Duration = Duration::from_secs(5);

/// A project's active grants, and when they were read.
type Grants = (Instant, Arc<Vec<GrantRow>>);

/// Recently read grants and prices.
#[derive(Debug, Default)]
pub struct ChargingCache {
    grants: RwLock<HashMap<ProjectId, Grants>>,
    prices: RwLock<HashMap<i64, (Instant, Option<i64>)>>,
}

impl ChargingCache {
    /// Forgets everything (after a decision or a price change).
    pub fn clear(&self) {
        if let Ok(mut g) = self.grants.write() {
            g.clear();
        }
        if let Ok(mut p) = self.prices.write() {
            p.clear();
        }
    }

    /// The project's grants whose period includes now, oldest first.
    pub async fn active_grants(
        &self,
        store: &Store,
        project: ProjectId,
    ) -> Result<Arc<Vec<GrantRow>>, StoreError> {
        let now = now_ms();
        if let Some((at, grants)) = self
            .grants
            .read()
            .ok()
            .and_then(|g| g.get(&project).cloned())
            && at.elapsed() < LIFETIME
        {
            // Still filter by period: a grant may have ended since it was read.
            if grants.iter().all(|g| g.starts_ms <= now && now < g.ends_ms) {
                return Ok(grants);
            }
        }
        let grants = Arc::new(store.active_grants(project, now).await?);
        if let Ok(mut g) = self.grants.write() {
            g.insert(project, (Instant::now(), grants.clone()));
        }
        Ok(grants)
    }

    /// The price per GPU-hour in force now for a class, in cents.
    pub async fn price(&self, store: &Store, class: i64) -> Result<Option<i64>, StoreError> {
        if let Some((at, price)) = self.prices.read().ok().and_then(|p| p.get(&class).copied())
            && at.elapsed() < LIFETIME
        {
            return Ok(price);
        }
        let price = store
            .price_at(class, now_ms())
            .await?
            .map(|p| p.cents_per_gpu_hour);
        if let Ok(mut p) = self.prices.write() {
            p.insert(class, (Instant::now(), price));
        }
        Ok(price)
    }
}
