//! Pricing usage: the charge for GPU-time at a list price, the lien that
//! covers a job's worst case, and the split between the scheme and the tenant.

use crate::money::{BasisPoints, Cents, div_ceil, div_round_half_even};
use serde::{Deserialize, Serialize};

const MS_PER_HOUR: i128 = 3_600_000;

/// The list price of one GPU-hour of a resource class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// HK cents per GPU-hour.
    pub per_gpu_hour: Cents,
}

/// The charge for `gpu_ms` GPU-milliseconds: exact, then rounded half to even.
pub fn charge(gpu_ms: u64, price: Price) -> Cents {
    let exact = i128::from(gpu_ms) * i128::from(price.per_gpu_hour.0);
    Cents(clamp(div_round_half_even(exact, MS_PER_HOUR)))
}

/// The most a job can cost: all its GPUs for its whole time limit, rounded up,
/// so that its real charge can never exceed it.
pub fn lien(gpus: u32, time_limit_s: u64, price: Price) -> Cents {
    let gpu_ms = i128::from(gpus) * i128::from(time_limit_s) * 1000;
    Cents(clamp(div_ceil(
        gpu_ms * i128::from(price.per_gpu_hour.0),
        MS_PER_HOUR,
    )))
}

/// Why a job's QOS cannot be priced on its grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("its grant does not allow the high QOS")]
pub struct HighQosNotAllowed;

/// What a grant says about pricing its jobs' QOS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QosTerms {
    /// The grant allows the `high` QOS.
    pub high_allowed: bool,
    /// The scheme's discount for scavenger jobs.
    pub scavenger_discount: BasisPoints,
}

/// The price per GPU-hour a job of `qos` pays on a grant with `terms`, from
/// the class's list price: `normal` and `high` pay the list price (`high` only
/// where the grant allows it, or for a centre administrator,
/// `privileged`); `scavenger` pays it less the scheme's discount (rounded
/// half to even).
pub fn qos_price(
    list: Price,
    qos: aisc_model::Qos,
    terms: QosTerms,
    privileged: bool,
) -> Result<Price, HighQosNotAllowed> {
    match qos {
        aisc_model::Qos::High if !terms.high_allowed && !privileged => Err(HighQosNotAllowed),
        aisc_model::Qos::Scavenger => Ok(Price {
            per_gpu_hour: terms.scavenger_discount.complement().of(list.per_gpu_hour),
        }),
        _ => Ok(list),
    }
}

/// What a job is charged with when it is submitted: its price per GPU-hour
/// and the lien of its worst case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobCharge {
    /// Per GPU-hour, after its QOS.
    pub price: Price,
    /// Its worst case (GPUs x time limit at that price), rounded up.
    pub lien: Cents,
}

/// Prices a job of `qos` asking `gpus` for `time_limit_s` on a grant with
/// `terms`, from the class's `list` price ([`qos_price`], then [`lien`]).
pub fn job_charge(
    list: Price,
    qos: aisc_model::Qos,
    terms: QosTerms,
    privileged: bool,
    gpus: u32,
    time_limit_s: u64,
) -> Result<JobCharge, HighQosNotAllowed> {
    let price = qos_price(list, qos, terms, privileged)?;
    Ok(JobCharge {
        price,
        lien: lien(gpus, time_limit_s, price),
    })
}

/// A charge divided between the scheme's pool and the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Paid by the scheme.
    pub subsidy: Cents,
    /// Paid by the tenant.
    pub tenant: Cents,
}

/// Splits `charge` at `rate`, never granting more subsidy than `subsidy_left`
/// (what remains of the grant's reserved subsidy). The parts add up to the charge.
pub fn split(charge: Cents, rate: BasisPoints, subsidy_left: Cents) -> Split {
    let wanted = Cents(clamp(div_round_half_even(
        i128::from(charge.0) * i128::from(rate.get()),
        10_000,
    )));
    let subsidy = wanted.min(subsidy_left.max(Cents::ZERO));
    Split {
        subsidy,
        tenant: charge - subsidy,
    }
}

/// An exact amount as whole cents, saturating at the ends of `i64`.
pub(crate) fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H800: Price = Price {
        per_gpu_hour: Cents(2_500),
    }; // HK$25 per GPU-hour

    #[test]
    fn qos_prices_follow_the_grant() {
        let terms = QosTerms {
            high_allowed: false,
            scavenger_discount: BasisPoints::new(5_000).unwrap_or(BasisPoints::FULL),
        };
        use aisc_model::Qos;
        assert_eq!(qos_price(H800, Qos::Normal, terms, false), Ok(H800));
        assert_eq!(
            qos_price(H800, Qos::Scavenger, terms, false).map(|p| p.per_gpu_hour),
            Ok(Cents(1_250))
        );
        assert_eq!(
            qos_price(H800, Qos::High, terms, false),
            Err(HighQosNotAllowed)
        );
        assert_eq!(qos_price(H800, Qos::High, terms, true), Ok(H800));
        let allowed = QosTerms {
            high_allowed: true,
            ..terms
        };
        assert_eq!(qos_price(H800, Qos::High, allowed, false), Ok(H800));
    }

    #[test]
    fn an_hour_costs_the_price() {
        assert_eq!(charge(3_600_000, H800), Cents(2_500));
        assert_eq!(charge(0, H800), Cents(0));
        // 1 ms of a HK$25 GPU-hour is 0.000694 cents: rounds to 0.
        assert_eq!(charge(1, H800), Cents(0));
        // 8 GPUs for 90 minutes.
        assert_eq!(charge(8 * 5_400_000, H800), Cents(30_000));
    }

    #[test]
    fn seventy_percent_split() {
        let rate = BasisPoints::new(7_000).unwrap();
        let s = split(Cents(30_000), rate, Cents(1_000_000));
        assert_eq!(
            s,
            Split {
                subsidy: Cents(21_000),
                tenant: Cents(9_000)
            }
        );
        // 0.7 x 5 = 3.5 cents: ties to even gives 4; the tenant pays the rest.
        assert_eq!(
            split(Cents(5), rate, Cents(100)),
            Split {
                subsidy: Cents(4),
                tenant: Cents(1)
            }
        );
        // The reserved subsidy caps what the scheme pays.
        assert_eq!(
            split(Cents(30_000), rate, Cents(100)),
            Split {
                subsidy: Cents(100),
                tenant: Cents(29_900)
            }
        );
    }

    #[test]
    fn liens_round_up() {
        assert_eq!(lien(1, 3600, H800), Cents(2_500));
        assert_eq!(
            lien(
                1,
                1,
                Price {
                    per_gpu_hour: Cents(1)
                }
            ),
            Cents(1)
        );
    }

    proptest! {
        #[test]
        fn the_real_charge_never_exceeds_the_lien(
            gpus in 0u32..=4096, limit in 1u64..=31_536_000, used_frac in 0.0f64..=1.0, price in 0i64..=1_000_000,
        ) {
            let price = Price { per_gpu_hour: Cents(price) };
            let max_ms = u64::from(gpus) * limit * 1000;
            let used = (max_ms as f64 * used_frac) as u64;
            prop_assert!(charge(used.min(max_ms), price) <= lien(gpus, limit, price));
        }

        #[test]
        fn splits_add_up_and_respect_the_cap(charge in 0i64..=i64::MAX / 20_000, bp in 0u16..=10_000, left in -100i64..=1_000_000_000) {
            let s = split(Cents(charge), BasisPoints::new(bp).unwrap(), Cents(left));
            prop_assert_eq!(s.subsidy + s.tenant, Cents(charge));
            prop_assert!(s.subsidy >= Cents::ZERO);
            prop_assert!(s.subsidy <= Cents(left.max(0)));
            prop_assert!(s.tenant >= Cents::ZERO);
        }

        #[test]
        fn charging_is_monotone(a in 0u64..=1_000_000_000_000, b in 0u64..=1_000_000_000_000, price in 0i64..=1_000_000) {
            let price = Price { per_gpu_hour: Cents(price) };
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(charge(lo, price) <= charge(hi, price));
        }
    }
}
