//! The budget forecast: every simulated job rated through `billing` as the
//! centre would rate it (its GPU time at its class's list price, rounded to
//! the cent half to even; the subsidy at the scheme's rate, never more than
//! the pool has left), in the order jobs end. Months are Hong Kong calendar
//! months. When the pool outlasts the run, the date it would run out is
//! projected at the run's mean daily subsidy.

use crate::engine::{Outcome, Phase};
use crate::workload::Workload;
use aisc_billing::money::{BasisPoints, Cents};
use aisc_billing::rating::{Price, charge, split};
use serde::Serialize;
use std::collections::BTreeMap;

/// The scheme and prices to forecast with.
#[derive(Debug, Clone)]
pub struct BudgetOptions {
    /// The scheme's pool.
    pub pool: Cents,
    /// The share of each charge the scheme pays.
    pub rate: BasisPoints,
    /// List price per GPU-hour of each class.
    pub prices: BTreeMap<String, Cents>,
    /// Epoch seconds of the run's time 0.
    pub start_s: i64,
}

/// One month's burn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthBurn {
    /// `YYYY-MM`, Hong Kong time.
    pub month: String,
    /// Jobs that ended in it.
    pub jobs: usize,
    /// Charges at list price, HK cents.
    pub charge_cents: i64,
    /// Paid by the pool.
    pub subsidy_cents: i64,
    /// Paid by tenants.
    pub tenant_cents: i64,
}

/// One tenant's bill over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantBill {
    /// Tenant.
    pub tenant: String,
    /// Charges, HK cents.
    pub charge_cents: i64,
    /// Subsidy received.
    pub subsidy_cents: i64,
    /// Paid by the tenant.
    pub tenant_cents: i64,
}

/// The forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    /// The pool, HK cents.
    pub pool_cents: i64,
    /// The subsidy rate, basis points.
    pub rate_bp: u16,
    /// The run's first day, `YYYY-MM-DD`.
    pub start: String,
    /// All charges.
    pub charge_cents: i64,
    /// All subsidy paid.
    pub subsidy_cents: i64,
    /// All paid by tenants.
    pub tenant_cents: i64,
    /// What is left of the pool at the end of the run.
    pub pool_left_cents: i64,
    /// Month by month.
    pub months: Vec<MonthBurn>,
    /// The day the pool ran out during the run.
    pub runs_out: Option<String>,
    /// The day it would run out at the run's mean daily subsidy, when it lasted the run.
    pub projected_runs_out: Option<String>,
    /// Per tenant.
    pub tenants: Vec<TenantBill>,
}

/// `YYYY-MM-DD` (Hong Kong) of epoch seconds.
pub fn date(s: i64) -> String {
    aisc_model::calendar::format_date(s.saturating_mul(1000))
}

fn month(s: i64) -> String {
    date(s)[..7].to_string()
}

/// Rates every finished job of `o`; `classes[pool]` names each pool's class.
pub fn forecast(
    w: &Workload,
    o: &Outcome,
    classes: &[String],
    opts: &BudgetOptions,
) -> Result<Forecast, String> {
    let mut order: Vec<usize> = (0..w.jobs.len())
        .filter(|&i| o.state[i].phase == Phase::Done)
        .collect();
    order.sort_by(|a, b| o.state[*a].end.total_cmp(&o.state[*b].end));
    let mut left = opts.pool;
    let mut months: BTreeMap<String, MonthBurn> = BTreeMap::new();
    let mut tenants: Vec<TenantBill> = w
        .tenants
        .iter()
        .map(|t| TenantBill {
            tenant: t.clone(),
            charge_cents: 0,
            subsidy_cents: 0,
            tenant_cents: 0,
        })
        .collect();
    let mut runs_out = None;
    let (mut all_charge, mut all_subsidy) = (Cents::ZERO, Cents::ZERO);
    let mut last_end = opts.start_s;
    for i in order {
        let job = &w.jobs[i];
        let s = &o.state[i];
        let class = &classes[job.pool as usize];
        let price = opts
            .prices
            .get(class)
            .ok_or_else(|| format!("--price: no price for class {class}"))?;
        let gpu_ms = (s.gpu_seconds * 1000.0).round() as u64;
        let c = charge(
            gpu_ms,
            Price {
                per_gpu_hour: *price,
            },
        );
        let wanted = split(c, opts.rate, Cents(i64::MAX));
        let got = split(c, opts.rate, left);
        left = left - got.subsidy;
        let end_s = opts.start_s + s.end.floor() as i64;
        last_end = last_end.max(end_s);
        if runs_out.is_none() && got.subsidy < wanted.subsidy {
            runs_out = Some(date(end_s));
        }
        let m = months.entry(month(end_s)).or_insert_with(|| MonthBurn {
            month: month(end_s),
            jobs: 0,
            charge_cents: 0,
            subsidy_cents: 0,
            tenant_cents: 0,
        });
        m.jobs += 1;
        m.charge_cents += c.0;
        m.subsidy_cents += got.subsidy.0;
        m.tenant_cents += got.tenant.0;
        let t = &mut tenants[job.tenant as usize];
        t.charge_cents += c.0;
        t.subsidy_cents += got.subsidy.0;
        t.tenant_cents += got.tenant.0;
        all_charge = all_charge + c;
        all_subsidy = all_subsidy + got.subsidy;
    }
    let days = (last_end - opts.start_s) as f64 / 86_400.0;
    let projected_runs_out = (runs_out.is_none() && all_subsidy.0 > 0 && days > 0.0).then(|| {
        let per_day = all_subsidy.0 as f64 / days;
        let more = left.0 as f64 / per_day;
        // Far beyond any plan: say so rather than print a year 30,000 date.
        if more > 365_000.0 {
            "beyond 1,000 years".to_string()
        } else {
            date(last_end + (more * 86_400.0) as i64)
        }
    });
    Ok(Forecast {
        pool_cents: opts.pool.0,
        rate_bp: opts.rate.get(),
        start: date(opts.start_s),
        charge_cents: all_charge.0,
        subsidy_cents: all_subsidy.0,
        tenant_cents: all_charge.0 - all_subsidy.0,
        pool_left_cents: left.0,
        months: months.into_values().collect(),
        runs_out,
        projected_runs_out,
        tenants,
    })
}

/// Reads `--subsidy-rate`: a fraction (`0.7`) or a percentage (`70%`), at most 100 %.
pub fn parse_rate(s: &str) -> Result<BasisPoints, String> {
    let t = s.trim();
    let bp = if t.ends_with('%') {
        aisc_model::scheme::parse_percent(t)?
    } else {
        let msg = || format!("{s:?} is not a rate: use a fraction from 0 to 1 (0.7) or 70%");
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        if whole.is_empty() && frac.is_empty()
            || frac.len() > 4
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(msg());
        }
        let w: u32 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| msg())?
        };
        let f: u32 = format!("{frac:0<4}").parse().map_err(|_| msg())?;
        let bp = w
            .checked_mul(10_000)
            .and_then(|v| v.checked_add(f))
            .ok_or_else(msg)?;
        u16::try_from(bp)
            .ok()
            .filter(|b| *b <= 10_000)
            .ok_or_else(msg)?
    };
    BasisPoints::new(bp).ok_or_else(|| format!("{s:?}: at most 100 %"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_fractions_or_percentages() {
        assert_eq!(parse_rate("0.7").unwrap().get(), 7_000);
        assert_eq!(parse_rate("70%").unwrap().get(), 7_000);
        assert_eq!(parse_rate(".925").unwrap().get(), 9_250);
        assert_eq!(parse_rate("1").unwrap().get(), 10_000);
        for bad in ["70", "1.5", "-0.1", "abc", "0.12345", ""] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_are_hong_kong_days() {
        // 2017-09-30 16:00 UTC is midnight on 1 October in Hong Kong.
        assert_eq!(date(1_506_787_200), "2017-10-01");
        assert_eq!(date(1_506_787_199), "2017-09-30");
    }
}
