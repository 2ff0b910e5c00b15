//! Quality of service: how a job competes for GPUs.
//!
//! - `high`: granted by an operator; ranks above every `normal` job.
//! - `normal`: the default; guaranteed work, ranked by fair share and age.
//! - `scavenger`: runs only on GPUs no guaranteed job wants, is charged at the
//!   scheme's scavenger discount, and is preempted (SIGTERM, grace, requeue)
//!   as soon as guaranteed work needs its GPUs.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A job's quality of service.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Qos {
    /// Operator-granted; ahead of every normal job.
    High,
    /// Guaranteed work (the default).
    #[default]
    Normal,
    /// Idle GPUs only; preemptible; discounted.
    Scavenger,
}

/// Every QOS, highest first.
pub const ALL_QOS: [Qos; 3] = [Qos::High, Qos::Normal, Qos::Scavenger];

impl Qos {
    /// The name used in the API, the CLI, `#SBATCH --qos` and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Qos::High => "high",
            Qos::Normal => "normal",
            Qos::Scavenger => "scavenger",
        }
    }

    /// Guaranteed work is never preempted and never waits for scavenger jobs.
    pub fn is_guaranteed(self) -> bool {
        self != Qos::Scavenger
    }
}

impl fmt::Display for Qos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A QOS name that is not one of [`ALL_QOS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown QOS {0:?} (expected high, normal or scavenger)")]
pub struct UnknownQos(pub String);

impl FromStr for Qos {
    type Err = UnknownQos;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_QOS
            .into_iter()
            .find(|q| q.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownQos(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for q in ALL_QOS {
            assert_eq!(q.as_str().parse::<Qos>(), Ok(q));
        }
        assert_eq!("Scavenger".parse::<Qos>(), Ok(Qos::Scavenger));
        assert!("urgent".parse::<Qos>().is_err());
        assert!(!Qos::Scavenger.is_guaranteed());
        assert!(Qos::High.is_guaranteed() && Qos::Normal.is_guaranteed());
    }
}
