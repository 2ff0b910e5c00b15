//! Metering, rating, liens and the ledger. Pure: the caller passes the times;
//! nothing here reads a clock or a database.
//!
//! - [`money`]: integer HK cents, rounding half to even where a price or a
//!   rate is applied once;
//! - [`rating`]: prices by QOS, liens (rounded up) and splits;
//! - [`carry`]: the one rule a job's charge follows: each grant's exact
//!   metered total, charged by the whole cents it crosses;
//! - [`ledger`]: double-entry entries and derived balances (an in-memory
//!   ledger for the property tests);
//! - [`rules`]: the rules no entry may break, used by production and by the
//!   in-memory ledger alike;
//! - [`meter`]: a finished job's allocation and run time as [`Usage`] (wall,
//!   GPU and CPU milliseconds). Usage is allocation-based, as Slurm's
//!   `CPUTime`: a job that holds 4 GPUs for 10 s used 40 GPU-seconds whether
//!   or not it kept them busy.

pub mod carry;
pub mod ledger;
pub mod money;
pub mod rating;
pub mod rules;

use aisc_model::Resources;
use serde::{Deserialize, Serialize};

/// Metered time of one job run, in milliseconds (integers: no float drift).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Wall-clock time from start to end.
    pub wall_ms: u64,
    /// GPUs held x wall time.
    pub gpu_ms: u64,
    /// CPU cores held x wall time.
    pub cpu_ms: u64,
}

/// Meters a run that held `alloc` from `start_ms` to `end_ms` (epoch ms).
/// An end before the start (a clock step) meters as zero rather than negative.
pub fn meter(alloc: &Resources, start_ms: i64, end_ms: i64) -> Usage {
    meter_for(
        alloc,
        u64::try_from(end_ms.saturating_sub(start_ms)).unwrap_or(0),
    )
}

/// Meters a run that held `alloc` for `wall_ms` (as an engine with its own
/// accounting reports it, e.g. Slurm's elapsed time and allocated TRES).
pub fn meter_for(alloc: &Resources, wall_ms: u64) -> Usage {
    Usage {
        wall_ms,
        gpu_ms: wall_ms.saturating_mul(u64::from(alloc.gpus)),
        cpu_ms: wall_ms.saturating_mul(u64::from(alloc.cpus)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_scales_with_what_was_held() {
        let u = meter(
            &Resources {
                gpus: 4,
                cpus: 8,
                mem_mb: 1,
            },
            1_000,
            11_500,
        );
        assert_eq!(
            u,
            Usage {
                wall_ms: 10_500,
                gpu_ms: 42_000,
                cpu_ms: 84_000
            }
        );
    }

    #[test]
    fn a_backwards_clock_meters_nothing() {
        assert_eq!(
            meter(
                &Resources {
                    gpus: 1,
                    cpus: 1,
                    mem_mb: 1
                },
                5,
                4
            ),
            Usage::default()
        );
    }
}
