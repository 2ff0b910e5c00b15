//! The double-entry ledger. Every movement of money is an [`Entry`] whose
//! postings sum to zero; balances are derived by adding postings up, never
//! stored on their own. [`Ledger`] holds balances derived from the entries
//! applied so far and refuses any entry that would break a rule:
//!
//! - a scheme's pool never goes below zero: grants can never reserve more
//!   subsidy than the scheme has (no over-commitment);
//! - a grant's available value never goes below zero: a lien that does not
//!   fit is refused ([`LedgerError::GrantExhausted`]), so no grant is overspent;
//! - a grant's reserved subsidy never goes below zero: the scheme never pays
//!   more than it reserved;
//! - a job is charged at most once: settling it again is refused and changes nothing.
//!
//! Two kinds of amount move, each balanced on its own: a grant's *value* at
//! list price (allocation → available → held → used), and *money*: the
//! scheme's subsidy (funding → pool → reserved → spent) and the tenant's
//! share (centre income ↔ tenant due).

use crate::money::{BasisPoints, Cents};
use crate::rating::{Split, split};
use aisc_model::{GrantId, JobId, ProjectId, SchemeId};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// A ledger account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Account {
    /// The funder's side of a scheme's budget (negative once funded).
    SchemeFunding(SchemeId),
    /// A scheme's budget not reserved for any grant.
    SchemePool(SchemeId),
    /// Subsidy reserved for a grant and not yet spent.
    GrantSubsidy(GrantId),
    /// Subsidy spent on a grant's jobs.
    SubsidySpent(GrantId),
    /// The source side of a grant's value at list price (negative once approved).
    GrantAllocation(GrantId),
    /// What is left of a grant's value.
    GrantAvailable(GrantId),
    /// Value held by liens of unfinished jobs.
    GrantHeld(GrantId),
    /// Value consumed by finished jobs.
    GrantUsed(GrantId),
    /// What a project owes the centre: its share of charges.
    TenantDue(ProjectId),
    /// The centre's side of tenants' shares (negative).
    CentreIncome,
}

impl Account {
    /// The account's name in the store (`scheme/1/pool`, `grant/7/held`, ...).
    pub fn key(&self) -> String {
        match self {
            Account::SchemeFunding(s) => format!("scheme/{s}/funding"),
            Account::SchemePool(s) => format!("scheme/{s}/pool"),
            Account::GrantSubsidy(g) => format!("grant/{g}/subsidy"),
            Account::SubsidySpent(g) => format!("grant/{g}/subsidy-spent"),
            Account::GrantAllocation(g) => format!("grant/{g}/allocation"),
            Account::GrantAvailable(g) => format!("grant/{g}/available"),
            Account::GrantHeld(g) => format!("grant/{g}/held"),
            Account::GrantUsed(g) => format!("grant/{g}/used"),
            Account::TenantDue(p) => format!("project/{p}/due"),
            Account::CentreIncome => "centre/income".to_string(),
        }
    }

    /// Whether the account must never go below zero.
    pub fn guarded(&self) -> bool {
        never_negative(self)
    }
}

/// One line of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// The account.
    pub account: Account,
    /// The amount (positive adds to the account, negative takes from it).
    pub amount: Cents,
}

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryKind {
    /// Money put into a scheme's pool.
    Fund,
    /// A grant approved: its value allocated and its subsidy reserved.
    Approve,
    /// A job's worst case held against its grant.
    Lien,
    /// A job ended: its lien released and its real charge posted and split.
    Settle,
}

impl EntryKind {
    /// The kind's name in the store (`fund`, `approve`, `lien`, `settle`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Fund => "fund",
            EntryKind::Approve => "approve",
            EntryKind::Lien => "lien",
            EntryKind::Settle => "settle",
        }
    }
}

/// A balanced set of postings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What it records.
    pub kind: EntryKind,
    /// The grant concerned, if any.
    pub grant: Option<GrantId>,
    /// The job concerned, if any.
    pub job: Option<JobId>,
    /// The postings; they sum to zero.
    pub postings: Vec<Posting>,
}

impl Entry {
    /// The sum of the postings (zero for a valid entry).
    pub fn sum(&self) -> i128 {
        self.postings.iter().map(|p| i128::from(p.amount.0)).sum()
    }
}

/// Why an entry was refused. Nothing changes when one is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The postings do not sum to zero.
    #[error("unbalanced entry: postings sum to {0} cents")]
    Unbalanced(i128),
    /// An amount is negative where it must not be.
    #[error("amount must not be negative: {0}")]
    Negative(Cents),
    /// The scheme's pool cannot cover the subsidy asked for.
    #[error("the scheme's pool has {available} left; this needs {needed}")]
    PoolOverCommitted {
        /// Left in the pool.
        available: Cents,
        /// Asked for.
        needed: Cents,
    },
    /// The grant's available value cannot cover the lien.
    #[error("the grant has {available} available; this job may cost up to {needed}")]
    GrantExhausted {
        /// Left on the grant.
        available: Cents,
        /// The lien asked for.
        needed: Cents,
    },
    /// The job already has a lien.
    #[error("job {0} already has a lien")]
    LienExists(JobId),
    /// The job has no lien to settle.
    #[error("job {0} has no lien")]
    NoLien(JobId),
    /// The job was charged already.
    #[error("job {0} was charged already")]
    AlreadyCharged(JobId),
    /// The charge exceeds the lien that was meant to cover it.
    #[error("charge {charge} exceeds the lien {lien}")]
    ChargeOverLien {
        /// The charge.
        charge: Cents,
        /// The lien.
        lien: Cents,
    },
    /// An account would go below zero.
    #[error("{0:?} would go below zero")]
    Overdrawn(Account),
}

/// Balances derived from the entries applied so far, and the rules.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    balances: HashMap<Account, i64>,
    liens: HashMap<JobId, (GrantId, Cents)>,
    charged: HashSet<JobId>,
}

/// Accounts that must never go below zero.
fn never_negative(a: &Account) -> bool {
    matches!(
        a,
        Account::SchemePool(_)
            | Account::GrantSubsidy(_)
            | Account::SubsidySpent(_)
            | Account::GrantAvailable(_)
            | Account::GrantHeld(_)
            | Account::GrantUsed(_)
    )
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Ledger::default()
    }

    /// An account's balance.
    pub fn balance(&self, a: Account) -> Cents {
        Cents(self.balances.get(&a).copied().unwrap_or(0))
    }

    /// Every balance (for checks and reports).
    pub fn balances(&self) -> impl Iterator<Item = (&Account, Cents)> {
        self.balances.iter().map(|(a, v)| (a, Cents(*v)))
    }

    /// The entry that funds a scheme's pool.
    pub fn fund(&self, scheme: SchemeId, amount: Cents) -> Result<Entry, LedgerError> {
        crate::rules::fund(scheme, amount)
    }

    /// The entry that approves a grant of `value` (list price) at subsidy `rate`,
    /// reserving the subsidy from the scheme's pool. Refused if the pool cannot cover it.
    pub fn approve(
        &self,
        scheme: SchemeId,
        grant: GrantId,
        value: Cents,
        rate: BasisPoints,
    ) -> Result<Entry, LedgerError> {
        crate::rules::approve(
            scheme,
            grant,
            value,
            rate,
            self.balance(Account::SchemePool(scheme)),
        )
    }

    /// The entry that holds a job's worst case against its grant. Refused
    /// ([`LedgerError::GrantExhausted`]) if the grant's available value cannot cover it.
    pub fn lien(&self, grant: GrantId, job: JobId, amount: Cents) -> Result<Entry, LedgerError> {
        if self.liens.contains_key(&job) || self.charged.contains(&job) {
            return Err(LedgerError::LienExists(job));
        }
        crate::rules::lien(
            grant,
            job,
            amount,
            self.balance(Account::GrantAvailable(grant)),
        )
    }

    /// The entry that ends a job: releases its lien, posts its real `charge`
    /// against the grant, and splits it at `rate` between the scheme (never
    /// more than the grant's reserved subsidy left) and the project.
    pub fn settle(
        &self,
        job: JobId,
        charge: Cents,
        rate: BasisPoints,
        project: ProjectId,
    ) -> Result<(Entry, Split), LedgerError> {
        non_negative(charge)?;
        if self.charged.contains(&job) {
            return Err(LedgerError::AlreadyCharged(job));
        }
        let (grant, lien) = *self.liens.get(&job).ok_or(LedgerError::NoLien(job))?;
        let subsidy_left = self.balance(Account::GrantSubsidy(grant));
        let parts = split(charge, rate, subsidy_left);
        let e = crate::rules::settle(grant, job, lien, charge, parts, subsidy_left, project)?;
        Ok((e, parts))
    }

    /// Applies an entry, or refuses it and changes nothing. The job checks
    /// come first, so that a replayed entry is refused as a replay.
    pub fn apply(&mut self, e: &Entry) -> Result<(), LedgerError> {
        let sum = e.sum();
        if sum != 0 {
            return Err(LedgerError::Unbalanced(sum));
        }
        match (e.kind, e.job) {
            (EntryKind::Lien, Some(job))
                if self.liens.contains_key(&job) || self.charged.contains(&job) =>
            {
                return Err(LedgerError::LienExists(job));
            }
            (EntryKind::Settle, Some(job)) if self.charged.contains(&job) => {
                return Err(LedgerError::AlreadyCharged(job));
            }
            _ => {}
        }
        let mut next: HashMap<Account, i64> = HashMap::new();
        for p in &e.postings {
            let cur = next
                .get(&p.account)
                .copied()
                .unwrap_or_else(|| self.balances.get(&p.account).copied().unwrap_or(0));
            let v = cur
                .checked_add(p.amount.0)
                .ok_or(LedgerError::Overdrawn(p.account))?;
            next.insert(p.account, v);
        }
        if let Some((a, _)) = next.iter().find(|(a, v)| never_negative(a) && **v < 0) {
            return Err(LedgerError::Overdrawn(*a));
        }
        match (e.kind, e.job, e.grant) {
            (EntryKind::Lien, Some(job), Some(grant)) => {
                let held = e
                    .postings
                    .iter()
                    .find(|p| p.account == Account::GrantHeld(grant))
                    .map_or(Cents::ZERO, |p| p.amount);
                self.liens.insert(job, (grant, held));
            }
            (EntryKind::Settle, Some(job), _) => {
                self.charged.insert(job);
                self.liens.remove(&job);
            }
            _ => {}
        }
        self.balances.extend(next);
        Ok(())
    }
}

/// The subsidy a grant of `value` at `rate` reserves from its scheme's pool
/// (rounded half to even).
pub fn subsidy_of(value: Cents, rate: BasisPoints) -> Cents {
    rate.of(value)
}

/// The entry that approves a grant of non-negative `value` at `rate`: its
/// value allocated, its subsidy reserved from the pool. Whether the pool can
/// cover it is for [`Ledger::approve`], or the store, to enforce.
pub fn approval(scheme: SchemeId, grant: GrantId, value: Cents, rate: BasisPoints) -> Entry {
    let subsidy = subsidy_of(value, rate);
    entry(
        EntryKind::Approve,
        Some(grant),
        None,
        &[
            (Account::SchemePool(scheme), -subsidy),
            (Account::GrantSubsidy(grant), subsidy),
            (Account::GrantAllocation(grant), -value),
            (Account::GrantAvailable(grant), value),
        ],
    )
}

/// The entry that ends a job: releases its `lien`, posts its real `charge`
/// (at most the lien) against the grant, and splits it at `rate` between the
/// scheme (never more than `subsidy_left`, the grant's reserved subsidy) and
/// the project. Whether the charge fits the lien is for the caller (liens are
/// rounded up, so a charge for the job's own run always does).
pub fn settlement(
    grant: GrantId,
    job: JobId,
    lien: Cents,
    charge: Cents,
    rate: BasisPoints,
    subsidy_left: Cents,
    project: ProjectId,
) -> (Entry, Split) {
    let parts = split(charge, rate, subsidy_left);
    (settled(grant, job, lien, charge, parts, project), parts)
}

/// The entry that ends a job with a charge already split (see
/// [`crate::carry`], the rule production uses): releases its lien, posts the
/// charge against the grant, the subsidy from its reserve and the rest to
/// the project.
pub fn settled(
    grant: GrantId,
    job: JobId,
    lien: Cents,
    charge: Cents,
    parts: Split,
    project: ProjectId,
) -> Entry {
    entry(
        EntryKind::Settle,
        Some(grant),
        Some(job),
        &[
            (Account::GrantHeld(grant), -lien),
            (Account::GrantAvailable(grant), lien - charge),
            (Account::GrantUsed(grant), charge),
            (Account::GrantSubsidy(grant), -parts.subsidy),
            (Account::SubsidySpent(grant), parts.subsidy),
            (Account::TenantDue(project), parts.tenant),
            (Account::CentreIncome, -parts.tenant),
        ],
    )
}

/// The entry that holds a job's worst case against its grant. Whether the
/// grant can cover it is for [`Ledger::lien`], or the store, to enforce.
pub fn holding(grant: GrantId, job: JobId, amount: Cents) -> Entry {
    entry(
        EntryKind::Lien,
        Some(grant),
        Some(job),
        &[
            (Account::GrantAvailable(grant), -amount),
            (Account::GrantHeld(grant), amount),
        ],
    )
}

/// The entry that funds a scheme's pool with `amount`, which the caller has
/// checked is positive ([`Ledger::fund`] checks it for you).
pub fn funding(scheme: SchemeId, amount: Cents) -> Entry {
    entry(
        EntryKind::Fund,
        None,
        None,
        &[
            (Account::SchemeFunding(scheme), -amount),
            (Account::SchemePool(scheme), amount),
        ],
    )
}

fn non_negative(c: Cents) -> Result<(), LedgerError> {
    if c < Cents::ZERO {
        Err(LedgerError::Negative(c))
    } else {
        Ok(())
    }
}

fn entry(
    kind: EntryKind,
    grant: Option<GrantId>,
    job: Option<JobId>,
    lines: &[(Account, Cents)],
) -> Entry {
    Entry {
        kind,
        grant,
        job,
        postings: lines
            .iter()
            .filter(|(_, c)| *c != Cents::ZERO)
            .map(|(account, amount)| Posting {
                account: *account,
                amount: *amount,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;
