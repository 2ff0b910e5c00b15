//! Money: integer HK cents, and the one rounding rule.
//!
//! **Rounding rule.** Every derived amount (a charge from GPU-time and a price,
//! a subsidy from a charge and a rate) is computed exactly in integers and
//! rounded once, to the nearest cent, ties to even ("banker's rounding"), so
//! that rounding errors over millions of records do not drift one way.
//! Amounts that must cover a worst case (liens) round up instead, and say so.
//! A split never rounds twice: the tenant's share is the charge minus the
//! subsidy, so the parts always add up to the whole, to the cent.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Neg, Sub};

/// An amount of money in HK cents. Negative amounts are credits in postings.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(pub i64);

impl Cents {
    /// Zero.
    pub const ZERO: Cents = Cents(0);

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }
}

impl Cents {
    /// Reads an amount of Hong Kong dollars typed by a person: `25`, `25.5`,
    /// `25.50`, `HK$1,234.56`. Exact (no floating point); at most two decimals.
    pub fn parse_hkd(s: &str) -> Result<Cents, String> {
        let bad =
            || format!("{s:?} is not an amount of HK$: use e.g. 25.00 (at most two decimals)");
        let t = s.trim();
        let t = t
            .strip_prefix("HK$")
            .or_else(|| t.strip_prefix("HKD"))
            .unwrap_or(t)
            .trim()
            .replace(',', "");
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest.to_string()),
            None => (false, t),
        };
        let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 2
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        if whole.len() > 15 {
            return Err(bad());
        }
        let dollars: i64 = whole.parse().map_err(|_| bad())?;
        let cents: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
        let v = dollars
            .checked_mul(100)
            .and_then(|d| d.checked_add(cents))
            .ok_or_else(bad)?;
        Ok(Cents(if neg { -v } else { v }))
    }
}

impl Add for Cents {
    type Output = Cents;
    fn add(self, o: Cents) -> Cents {
        Cents(self.0 + o.0)
    }
}

impl Sub for Cents {
    type Output = Cents;
    fn sub(self, o: Cents) -> Cents {
        Cents(self.0 - o.0)
    }
}

impl Neg for Cents {
    type Output = Cents;
    fn neg(self) -> Cents {
        Cents(-self.0)
    }
}

impl fmt::Display for Cents {
    /// `HK$1,234.56`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let dollars = (abs / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in dollars.chars().enumerate() {
            if i > 0 && (dollars.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "{sign}HK${grouped}.{:02}", abs % 100)
    }
}

/// A rate in basis points: 7,000 is 70 %. At most 10,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BasisPoints(u16);

impl BasisPoints {
    /// 100 %.
    pub const FULL: BasisPoints = BasisPoints(10_000);

    /// A rate, if at most 100 %.
    pub fn new(bp: u16) -> Option<BasisPoints> {
        (bp <= 10_000).then_some(BasisPoints(bp))
    }

    /// The rate in basis points.
    pub fn get(self) -> u16 {
        self.0
    }

    /// What is left of 100 % after this rate: 30 % for 70 %.
    pub fn complement(self) -> BasisPoints {
        BasisPoints(10_000 - self.0)
    }

    /// This rate of `value`, rounded half to even (the project's one rounding rule).
    pub fn of(self, value: Cents) -> Cents {
        Cents(
            i64::try_from(div_round_half_even(
                i128::from(value.0) * i128::from(self.0),
                10_000,
            ))
            .unwrap_or(i64::MAX),
        )
    }
}

/// `num / den` rounded to the nearest integer, ties to even. `den` must be positive.
pub fn div_round_half_even(num: i128, den: i128) -> i128 {
    debug_assert!(den > 0);
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den);
    match (2 * r).cmp(&den) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// `num / den` rounded up. `den` must be positive.
pub fn div_ceil(num: i128, den: i128) -> i128 {
    debug_assert!(den > 0);
    let q = num.div_euclid(den);
    if num.rem_euclid(den) == 0 { q } else { q + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_even() {
        assert_eq!(div_round_half_even(5, 2), 2);
        assert_eq!(div_round_half_even(7, 2), 4);
        assert_eq!(div_round_half_even(-5, 2), -2);
        assert_eq!(div_round_half_even(10, 4), 2);
        assert_eq!(div_round_half_even(11, 4), 3);
        assert_eq!(div_round_half_even(9, 4), 2);
    }

    #[test]
    fn ceil_rounds_up_only_with_a_remainder() {
        assert_eq!(div_ceil(10, 5), 2);
        assert_eq!(div_ceil(11, 5), 3);
        assert_eq!(div_ceil(0, 5), 0);
    }

    #[test]
    fn display() {
        assert_eq!(Cents(300_000_000_000).to_string(), "HK$3,000,000,000.00");
        assert_eq!(Cents(-1_05).to_string(), "-HK$1.05");
        assert_eq!(Cents(7).to_string(), "HK$0.07");
    }

    #[test]
    fn typed_amounts_are_exact() {
        assert_eq!(Cents::parse_hkd("25"), Ok(Cents(2_500)));
        assert_eq!(Cents::parse_hkd("25.5"), Ok(Cents(2_550)));
        assert_eq!(
            Cents::parse_hkd("HK$3,000,000,000.00"),
            Ok(Cents(300_000_000_000))
        );
        assert_eq!(Cents::parse_hkd("0.07"), Ok(Cents(7)));
        assert_eq!(Cents::parse_hkd("-1.05"), Ok(Cents(-105)));
        for bad in [
            "",
            "1.234",
            "abc",
            "1.2.3",
            ".5",
            "1e3",
            "99999999999999999",
        ] {
            assert!(Cents::parse_hkd(bad).is_err(), "{bad:?}");
        }
        for c in [0, 7, 105, 2_500, 300_000_000_000] {
            assert_eq!(
                Cents::parse_hkd(&Cents(c).to_string()),
                Ok(Cents(c)),
                "round trip"
            );
        }
    }

    #[test]
    fn rates_stop_at_one_hundred_percent() {
        assert!(BasisPoints::new(10_000).is_some());
        assert!(BasisPoints::new(10_001).is_none());
    }

    #[test]
    fn a_rate_of_an_amount_rounds_half_to_even_and_complements_add_up() {
        let half = BasisPoints::new(5_000).unwrap();
        assert_eq!(half.of(Cents(1_001)), Cents(500)); // 500.5 -> 500
        assert_eq!(half.of(Cents(1_003)), Cents(502)); // 501.5 -> 502
        let seventy = BasisPoints::new(7_000).unwrap();
        assert_eq!(seventy.complement(), BasisPoints::new(3_000).unwrap());
        assert_eq!(BasisPoints::FULL.complement().of(Cents(999)), Cents(0));
    }
}
