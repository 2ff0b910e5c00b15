//! The control loop's side of the ledger: a lien when a job is admitted, its
//! release and the real charge when the job ends.
//!
//! Guarantees: a lien is posted before the job is stored `admitted` (so a
//! started job always holds one); a job's lien is released at most once (the
//! store refuses a second settlement); the charge never exceeds the lien (a
//! job that ran past its limit during the kill grace is charged the lien).

use super::Controller;
use crate::clock::now_ms;
use aisc_billing::carry::{self, Metered};
use aisc_billing::ledger::{Account, EntryKind};
use aisc_billing::money::{BasisPoints, Cents};
use aisc_billing::rating::Price;
use aisc_billing::rules;
use aisc_model::{GrantId, JobId, ProjectId};
use aisc_store::{Charging, Refusal, StoreError};

/// What became of a request to hold a job's lien.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hold {
    /// The lien is held (now, or from an earlier attempt).
    Held,
    /// The grant cannot cover it.
    Exhausted,
}

impl Controller {
    /// What a grant has available for new liens (read from the ledger once, then kept up to date here).
    pub(super) async fn available(&mut self, grant: i64) -> Result<i64, StoreError> {
        if let Some(a) = self.grant_available.get(&grant) {
            return Ok(*a);
        }
        let a = self
            .store
            .balance(&Account::GrantAvailable(GrantId(grant)).key())
            .await?;
        self.grant_available.insert(grant, a);
        Ok(a)
    }

    /// Holds a job's worst case against its grant, before it is admitted.
    /// The ledger's rule decides on the grant's available amount as known
    /// here (read again once when it says no, in case it moved); the
    /// store's guard checks again at commit.
    pub(super) async fn hold(&mut self, job: JobId, c: &Charging) -> Result<Hold, StoreError> {
        let (grant, lien) = (GrantId(c.grant), Cents(c.lien_cents));
        let e = match rules::lien(grant, job, lien, Cents(self.available(c.grant).await?)) {
            Ok(e) => e,
            Err(_) => {
                self.grant_available.remove(&c.grant);
                match rules::lien(grant, job, lien, Cents(self.available(c.grant).await?)) {
                    Ok(e) => e,
                    // Held already (an admission a crash interrupted): its lien stands.
                    Err(_)
                        if self
                            .store
                            .has_entry(EntryKind::Lien.as_str(), job.0, c.run)
                            .await? =>
                    {
                        return Ok(Hold::Held);
                    }
                    Err(_) => return Ok(Hold::Exhausted),
                }
            }
        };
        let memo = format!("lien of {}", crate::money::job_run(job, c.run));
        let mut entry = crate::money::to_store(&e, None, now_ms(), memo);
        entry.run = c.run;
        match self.store.post(entry, None).await {
            Ok(_) => {
                // Adjust the cache only where it holds the ledger's figure; otherwise it is read when needed.
                if let Some(a) = self.grant_available.get_mut(&c.grant) {
                    *a -= c.lien_cents;
                }
                Ok(Hold::Held)
            }
            Err(StoreError::Ledger(Refusal::Duplicate)) => Ok(Hold::Held),
            Err(StoreError::Ledger(Refusal::Overdrawn(..))) => {
                // Someone else's change moved the grant: read it again.
                self.grant_available.remove(&c.grant);
                Ok(Hold::Exhausted)
            }
            Err(e) => Err(e),
        }
    }

    /// Releases a job's lien and posts what it really used (`gpu_ms` at its
    /// price, by the carry rule of `aisc_billing::carry`: the whole cents its
    /// exact cost moves its grant's metered total across, at most the lien),
    /// split between the scheme and the project. Does nothing for a job that
    /// holds no lien, or was settled already. When another settlement moved
    /// the grant's total meanwhile (another server), it reads it again.
    pub(super) async fn settle(
        &mut self,
        job: JobId,
        c: &Charging,
        project: Option<ProjectId>,
        gpu_ms: u64,
    ) -> Result<(), StoreError> {
        if !self
            .store
            .has_entry(EntryKind::Lien.as_str(), job.0, c.run)
            .await?
        {
            return Ok(());
        }
        let rate = match self.grant_rates.get(&c.grant) {
            Some(r) => *r,
            None => {
                let g = self.store.grant(c.grant).await?;
                self.grant_rates.insert(c.grant, g.rate_bp);
                g.rate_bp
            }
        };
        let grant = GrantId(c.grant);
        let lien = Cents(c.lien_cents);
        let price = Price {
            per_gpu_hour: Cents(c.price_cents),
        };
        let rate = BasisPoints::new(rate).unwrap_or(BasisPoints::FULL);
        let project = project.unwrap_or(ProjectId(0));
        for _ in 0..3 {
            let before = self.metered(c.grant).await?;
            let carried = carry::carry(before, Metered::of(gpu_ms, price), lien);
            let subsidy_left = Cents(
                self.store
                    .balance(&Account::GrantSubsidy(grant).key())
                    .await?,
            );
            let parts = carry::split(before.whole_cents(), carried.charge, rate, subsidy_left);
            let e = rules::settle(
                grant,
                job,
                lien,
                carried.charge,
                parts,
                subsidy_left,
                project,
            )
            .map_err(|e| {
                tracing::error!(%job, error = %e, "the ledger's rules refused a settlement");
                StoreError::Refused("the ledger's rules refused the settlement")
            })?;
            let memo = crate::money::job_run(job, c.run);
            let mut entry = crate::money::to_store(&e, None, now_ms(), memo);
            entry.run = c.run;
            if carried.after != before {
                entry.carry = Some(aisc_store::Carry {
                    grant: c.grant,
                    before: before.to_string(),
                    after: carried.after.to_string(),
                });
            }
            match self.store.post(entry, None).await {
                Ok(_) => {
                    self.grant_metered.insert(c.grant, carried.after);
                    if let Some(a) = self.grant_available.get_mut(&c.grant) {
                        *a += (lien - carried.charge).0;
                    }
                    return Ok(());
                }
                Err(StoreError::Ledger(Refusal::Duplicate)) => return Ok(()),
                Err(StoreError::Ledger(Refusal::Stale)) => {
                    self.grant_metered.remove(&c.grant);
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Ledger(Refusal::Stale))
    }

    /// A grant's metered total (read once, then kept up to date here).
    async fn metered(&mut self, grant: i64) -> Result<Metered, StoreError> {
        if let Some(m) = self.grant_metered.get(&grant) {
            return Ok(*m);
        }
        let text = self.store.grant_metered(grant).await?;
        let m: Metered = text.parse().map_err(|_| StoreError::Corrupt {
            column: "grants.metered",
            value: text,
        })?;
        self.grant_metered.insert(grant, m);
        Ok(m)
    }
}
