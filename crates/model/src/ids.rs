//! Newtype ids, so that a job id is never passed where a user id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map($name)
            }
        }
    };
}

define_id!(
    /// A job's id: assigned by the store, increasing, never reused.
    JobId
);
define_id!(
    /// A user's id.
    UserId
);
define_id!(
    /// A funding scheme's id.
    SchemeId
);
define_id!(
    /// A grant's id.
    GrantId
);
define_id!(
    /// A project's id.
    ProjectId
);
define_id!(
    /// An organisation's id.
    OrgId
);
