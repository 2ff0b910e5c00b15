//! The one rounding rule for jobs' charges: no usage goes unbilled, and none
//! is billed twice, however the work is split into jobs.
//!
//! Each grant keeps its **metered total**: the exact cost of every job
//! settled against it, in units of 1/3,600,000 cent (one GPU-millisecond at
//! one cent per GPU-hour), so no division ever rounds it. A job is charged
//! the whole cents its cost moves that total across:
//! `floor(after / 3,600,000) - floor(before / 3,600,000)`. The fraction of a
//! cent below the total's last whole cent is carried to the grant's next job.
//! So the charges of a grant's jobs always add up to its metered total
//! rounded down to the cent: within one cent of price x GPU-time, for any
//! split of the same work into jobs, in any order.
//!
//! A job is never charged more than its lien (its worst case, held at
//! admission); one that overran its limit is charged its lien and the total
//! moves by exactly that.
//!
//! The subsidy follows the same rule over whole cents: a grant's subsidy so
//! far is `floor(charged so far x rate)`, and each job's share of the subsidy
//! is what its charge adds to that, so the subsidy of a grant's jobs adds up
//! to the rate of its total to within one cent too.

use crate::money::{BasisPoints, Cents};
use crate::rating::{Price, Split, clamp};
use serde::{Deserialize, Serialize};

/// Units of a metered total per cent.
pub const UNITS_PER_CENT: i128 = 3_600_000;

/// An exact cost: units of 1/3,600,000 cent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Metered(pub i128);

impl Metered {
    /// The exact cost of `gpu_ms` GPU-milliseconds at `price`.
    pub fn of(gpu_ms: u64, price: Price) -> Metered {
        Metered(i128::from(gpu_ms) * i128::from(price.per_gpu_hour.0))
    }

    /// A whole number of cents, exactly.
    pub fn cents(c: Cents) -> Metered {
        Metered(i128::from(c.0) * UNITS_PER_CENT)
    }

    /// The whole cents in this total (rounded down).
    pub fn whole_cents(self) -> Cents {
        Cents(clamp(self.0.div_euclid(UNITS_PER_CENT)))
    }
}

impl std::fmt::Display for Metered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for Metered {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(Metered)
    }
}

/// What settling a job against its grant's metered total gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carried {
    /// The job's charge.
    pub charge: Cents,
    /// The grant's metered total after it.
    pub after: Metered,
}

/// The charge for a job costing `cost` when its grant's metered total is
/// `before`, never more than `cap` (its lien).
pub fn carry(before: Metered, cost: Metered, cap: Cents) -> Carried {
    let cost = Metered(cost.0.max(0));
    let after = Metered(before.0.saturating_add(cost.0));
    let charge = Cents(after.whole_cents().0 - before.whole_cents().0);
    if charge > cap {
        Carried {
            charge: cap,
            after: Metered(before.0.saturating_add(Metered::cents(cap).0)),
        }
    } else {
        Carried { charge, after }
    }
}

/// Splits a job's `charge` when its grant has been charged `charged_before`
/// so far: the subsidy is what the charge adds to `floor(charged x rate)`,
/// never more than `subsidy_left`; the tenant pays the rest.
pub fn split(
    charged_before: Cents,
    charge: Cents,
    rate: BasisPoints,
    subsidy_left: Cents,
) -> Split {
    let at_rate = |c: Cents| (i128::from(c.0) * i128::from(rate.get())).div_euclid(10_000);
    let wanted = Cents(clamp(
        at_rate(charged_before + charge) - at_rate(charged_before),
    ));
    let subsidy = wanted
        .min(subsidy_left.max(Cents::ZERO))
        .min(charge)
        .max(Cents::ZERO);
    Split {
        subsidy,
        tenant: charge - subsidy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TEN: Price = Price {
        per_gpu_hour: Cents(1_000),
    }; // HK$10 per GPU-hour

    #[test]
    fn short_jobs_are_not_free_and_are_not_overbilled() {
        // 200 jobs of 1 s on 1 GPU at HK$10/GPU-hour: 200 GPU-seconds cost 55.55... cents.
        let mut total = Metered::default();
        let mut charged = Cents::ZERO;
        for _ in 0..200 {
            let c = carry(total, Metered::of(1_000, TEN), Cents(1_000));
            charged = charged + c.charge;
            total = c.after;
        }
        assert_eq!(charged, Cents(55));
        // 30 jobs of about 1 s at HK$100/GPU-hour: 30 s cost 83.3 cents, charged 83.
        let hundred = Price {
            per_gpu_hour: Cents(10_000),
        };
        let (mut total, mut charged) = (Metered::default(), Cents::ZERO);
        for _ in 0..30 {
            let c = carry(total, Metered::of(1_000, hundred), Cents(1_000));
            charged = charged + c.charge;
            total = c.after;
        }
        assert_eq!(charged, Cents(83));
    }

    #[test]
    fn a_job_is_never_charged_above_its_lien_and_the_total_moves_by_what_was_charged() {
        let c = carry(
            Metered(1_000_000),
            Metered::of(3_600_000 * 5, TEN),
            Cents(2_000),
        );
        assert_eq!(c.charge, Cents(2_000));
        assert_eq!(
            c.after.whole_cents().0 - Metered(1_000_000).whole_cents().0,
            2_000
        );
    }

    proptest! {
        /// However the same GPU-time is split into jobs, the charges add up
        /// to price x GPU-time rounded down: within one cent of it.
        #[test]
        fn any_split_of_the_same_work_is_charged_the_same_to_the_cent(
            jobs in proptest::collection::vec(0u64..5_000_000, 1..300),
            price in 1i64..100_000,
            rate in 0u16..=10_000,
        ) {
            let price = Price { per_gpu_hour: Cents(price) };
            let rate = BasisPoints::new(rate).unwrap_or(BasisPoints::FULL);
            let mut total = Metered::default();
            let (mut charged, mut subsidy) = (Cents::ZERO, Cents::ZERO);
            for ms in &jobs {
                let lien = crate::rating::lien(1, ms.div_ceil(1000), price);
                let c = carry(total, Metered::of(*ms, price), lien);
                prop_assert!(c.charge <= lien && c.charge >= Cents::ZERO);
                let s = split(charged, c.charge, rate, Cents(i64::MAX / 4));
                prop_assert_eq!(s.subsidy + s.tenant, c.charge);
                prop_assert!(s.tenant >= Cents::ZERO);
                charged = charged + c.charge;
                subsidy = subsidy + s.subsidy;
                total = c.after;
            }
            let all: u64 = jobs.iter().sum();
            let exact = i128::from(all) * i128::from(price.per_gpu_hour.0);
            // Charged: price x GPU-time rounded down, so less than a cent below it.
            prop_assert_eq!(i128::from(charged.0), exact.div_euclid(UNITS_PER_CENT));
            // Subsidy: the rate of the total charged, rounded down.
            prop_assert_eq!(
                i128::from(subsidy.0),
                (i128::from(charged.0) * i128::from(rate.get())).div_euclid(10_000)
            );
            // One job doing all of it is charged the same.
            let one = carry(Metered::default(), Metered::of(all, price), Cents(i64::MAX));
            prop_assert_eq!(one.charge, charged);
        }
    }
}
