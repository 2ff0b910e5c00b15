//! The ledger's rules, once: each function builds an entry from the balances
//! it depends on, or refuses it saying why. Production builds every entry it
//! posts here (with the balances it read), the in-memory [`Ledger`] used by
//! the property tests applies the same functions, and the store's guards
//! check the result again inside its transaction, as a second line.
//!
//! [`Ledger`]: crate::ledger::Ledger

use crate::ledger::{Entry, LedgerError, approval, funding, holding, settled, subsidy_of};
use crate::money::{BasisPoints, Cents};
use crate::rating::Split;
use aisc_model::{GrantId, JobId, ProjectId, SchemeId};

/// Funds a scheme's pool with a non-negative `amount`.
pub fn fund(scheme: SchemeId, amount: Cents) -> Result<Entry, LedgerError> {
    non_negative(amount)?;
    Ok(funding(scheme, amount))
}

/// Approves a grant of `value` (list price) at subsidy `rate`, reserving the
/// subsidy from a pool that has `pool` left. Never over the pool.
pub fn approve(
    scheme: SchemeId,
    grant: GrantId,
    value: Cents,
    rate: BasisPoints,
    pool: Cents,
) -> Result<Entry, LedgerError> {
    non_negative(value)?;
    let subsidy = subsidy_of(value, rate);
    if subsidy > pool {
        return Err(LedgerError::PoolOverCommitted {
            available: pool,
            needed: subsidy,
        });
    }
    Ok(approval(scheme, grant, value, rate))
}

/// Holds a job's worst case, `amount`, against a grant that has `available`
/// for new liens. Never over the grant.
pub fn lien(
    grant: GrantId,
    job: JobId,
    amount: Cents,
    available: Cents,
) -> Result<Entry, LedgerError> {
    non_negative(amount)?;
    if amount > available {
        return Err(LedgerError::GrantExhausted {
            available,
            needed: amount,
        });
    }
    Ok(holding(grant, job, amount))
}

/// Ends a job: releases its `lien`, charges `charge` (within the lien),
/// split as `parts` (they add up to the charge, and the subsidy never
/// exceeds `subsidy_left`, what the grant's reserve has left).
pub fn settle(
    grant: GrantId,
    job: JobId,
    lien: Cents,
    charge: Cents,
    parts: Split,
    subsidy_left: Cents,
    project: ProjectId,
) -> Result<Entry, LedgerError> {
    non_negative(charge)?;
    non_negative(parts.subsidy)?;
    non_negative(parts.tenant)?;
    if charge > lien {
        return Err(LedgerError::ChargeOverLien { charge, lien });
    }
    let sum = i128::from(parts.subsidy.0) + i128::from(parts.tenant.0) - i128::from(charge.0);
    if sum != 0 {
        return Err(LedgerError::Unbalanced(sum));
    }
    if parts.subsidy > subsidy_left {
        return Err(LedgerError::PoolOverCommitted {
            available: subsidy_left,
            needed: parts.subsidy,
        });
    }
    Ok(settled(grant, job, lien, charge, parts, project))
}

fn non_negative(c: Cents) -> Result<(), LedgerError> {
    if c < Cents::ZERO {
        Err(LedgerError::Negative(c))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_refuses_what_would_break_the_ledger() {
        let (g, j, p) = (GrantId(1), JobId(2), ProjectId(3));
        assert!(fund(SchemeId(1), Cents(-1)).is_err());
        assert_eq!(
            approve(SchemeId(1), g, Cents(1000), BasisPoints::FULL, Cents(999)),
            Err(LedgerError::PoolOverCommitted {
                available: Cents(999),
                needed: Cents(1000)
            })
        );
        assert!(lien(g, j, Cents(101), Cents(100)).is_err());
        assert!(lien(g, j, Cents(100), Cents(100)).is_ok());
        let parts = Split {
            subsidy: Cents(70),
            tenant: Cents(30),
        };
        assert!(settle(g, j, Cents(100), Cents(100), parts, Cents(70), p).is_ok());
        assert!(
            settle(g, j, Cents(99), Cents(100), parts, Cents(70), p).is_err(),
            "over the lien"
        );
        assert!(
            settle(g, j, Cents(100), Cents(100), parts, Cents(69), p).is_err(),
            "over the subsidy left"
        );
        let wrong = Split {
            subsidy: Cents(70),
            tenant: Cents(31),
        };
        assert!(
            settle(g, j, Cents(100), Cents(100), wrong, Cents(70), p).is_err(),
            "parts that are not the charge"
        );
    }
}
