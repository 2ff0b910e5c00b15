//! Funding schemes: what they pay for, whom, at what rate, judged how.

use crate::tenancy::OrgKind;
use serde::{Deserialize, Serialize};

/// One weighted review criterion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Criterion {
    /// Name (`impact`).
    pub name: String,
    /// Weight in percent; a scheme's weights add up to 100.
    pub weight: u32,
}

/// A funding programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheme {
    /// Unique name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Budget pool, HK cents.
    pub pool_cents: i64,
    /// Organisation kinds that may apply.
    pub eligible: Vec<OrgKind>,
    /// Subsidy rate granted by default, basis points.
    pub default_rate_bp: u16,
    /// Highest subsidy rate a grant may get, basis points.
    pub max_rate_bp: u16,
    /// Review criteria.
    pub criteria: Vec<Criterion>,
    /// Applications accepted from (epoch ms).
    pub opens_ms: i64,
    /// Applications accepted until (epoch ms, exclusive).
    pub closes_ms: i64,
    /// Discount on the list price for scavenger jobs, basis points (5,000 = 50 %).
    pub scavenger_discount_bp: u16,
    /// Reviews an application needs before it may be approved (0 only if the scheme says so).
    pub min_reviews: u32,
}

/// The reviews an application needs when a scheme names no number: 1.
pub const DEFAULT_MIN_REVIEWS: u32 = 1;

/// The most reviews a scheme may ask for.
pub const MAX_MIN_REVIEWS: u32 = 50;

/// The scavenger discount when a scheme names none: 50 %.
pub const DEFAULT_SCAVENGER_DISCOUNT_BP: u16 = 5_000;

/// The largest pool one scheme may hold: HK$100 billion.
pub const MAX_POOL_CENTS: i64 = 10_000_000_000_000;

/// Shows a rate in basis points as a percentage: 7,000 is `70.00%`.
pub fn format_percent(bp: u16) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

/// Reads a rate typed as a percentage (`70`, `70%`, `72.5%`) into basis points, exactly.
pub fn parse_percent(s: &str) -> Result<u16, String> {
    let bad = || format!("{s:?} is not a percentage from 0 to 100 (e.g. 70 or 72.5%)");
    let t = s.trim().trim_end_matches('%').trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty()
        || whole.len() > 3
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let bp = whole.parse::<u32>().map_err(|_| bad())? * 100
        + format!("{frac:0<2}").parse::<u32>().map_err(|_| bad())?;
    u16::try_from(bp)
        .ok()
        .filter(|bp| *bp <= 10_000)
        .ok_or_else(bad)
}

impl Scheme {
    /// Checks the scheme's figures; the error names the field.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        crate::tenancy::check_name(&self.name).map_err(|e| ("name", e))?;
        if self.title.trim().is_empty() || self.title.chars().count() > 200 {
            return Err(("title", "1 to 200 characters".into()));
        }
        if !(1..=MAX_POOL_CENTS).contains(&self.pool_cents) {
            return Err((
                "pool",
                "more than HK$0 and at most HK$100,000,000,000".into(),
            ));
        }
        if self.eligible.is_empty() {
            return Err(("eligible", "at least one organisation kind".into()));
        }
        if self.max_rate_bp > 10_000 {
            return Err(("max_rate", "at most 100%".into()));
        }
        if self.min_reviews > MAX_MIN_REVIEWS {
            return Err(("min_reviews", format!("0 to {MAX_MIN_REVIEWS}")));
        }
        if self.scavenger_discount_bp > 10_000 {
            return Err(("scavenger_discount", "0% to 100%".into()));
        }
        if self.default_rate_bp > self.max_rate_bp {
            return Err(("default_rate", "at most the maximum rate".into()));
        }
        if self.criteria.is_empty() || self.criteria.len() > 20 {
            return Err(("criteria", "1 to 20 criteria".into()));
        }
        for (i, c) in self.criteria.iter().enumerate() {
            crate::tenancy::check_name(&c.name).map_err(|e| ("criteria", e))?;
            if c.weight == 0 {
                return Err(("criteria", format!("{}: weights are 1 to 100", c.name)));
            }
            if self.criteria[..i].iter().any(|d| d.name == c.name) {
                return Err(("criteria", format!("{} appears twice", c.name)));
            }
        }
        let total: u32 = self.criteria.iter().map(|c| c.weight).sum();
        if total != 100 {
            return Err(("criteria", format!("weights add up to {total}, not 100")));
        }
        if self.closes_ms <= self.opens_ms {
            return Err(("closes", "after the opening date".into()));
        }
        Ok(())
    }

    /// Whether applications are accepted at `now_ms`.
    pub fn is_open(&self, now_ms: i64) -> bool {
        (self.opens_ms..self.closes_ms).contains(&now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn scheme() -> Scheme {
        Scheme {
            name: "hk-gpu".into(),
            title: "Hong Kong GPU subsidy".into(),
            pool_cents: 300_000_000_000,
            eligible: vec![OrgKind::University, OrgKind::ResearchInstitute],
            default_rate_bp: 7000,
            max_rate_bp: 9000,
            criteria: vec![
                Criterion {
                    name: "impact".into(),
                    weight: 60,
                },
                Criterion {
                    name: "feasibility".into(),
                    weight: 40,
                },
            ],
            opens_ms: 0,
            closes_ms: 1000,
            scavenger_discount_bp: DEFAULT_SCAVENGER_DISCOUNT_BP,
            min_reviews: DEFAULT_MIN_REVIEWS,
        }
    }

    #[test]
    fn percentages_are_exact() {
        assert_eq!(parse_percent("70"), Ok(7000));
        assert_eq!(parse_percent("72.5%"), Ok(7250));
        assert_eq!(parse_percent("100"), Ok(10_000));
        assert_eq!(format_percent(7250), "72.50%");
        assert_eq!(parse_percent(&format_percent(7250)), Ok(7250));
        for bad in ["101", "-5", "70.123", "seventy", "", "1e2"] {
            assert!(parse_percent(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bad_schemes_name_the_field() {
        assert_eq!(scheme().check(), Ok(()));
        let bad = |f: fn(&mut Scheme)| {
            let mut s = scheme();
            f(&mut s);
            s.check().unwrap_err().0
        };
        assert_eq!(bad(|s| s.pool_cents = 0), "pool");
        assert_eq!(bad(|s| s.default_rate_bp = 9500), "default_rate");
        assert_eq!(bad(|s| s.max_rate_bp = 10_001), "max_rate");
        assert_eq!(bad(|s| s.criteria[0].weight = 50), "criteria");
        assert_eq!(bad(|s| s.criteria[1].name = "impact".into()), "criteria");
        assert_eq!(bad(|s| s.eligible.clear()), "eligible");
        assert_eq!(bad(|s| s.closes_ms = 0), "closes");
        assert!(scheme().is_open(999) && !scheme().is_open(1000));
    }
}
