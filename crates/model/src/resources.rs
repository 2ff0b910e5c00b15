//! What a job asks for and what a node has.

use serde::{Deserialize, Serialize};

/// An amount of the three resources the centre allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Resources {
    /// Whole GPUs.
    pub gpus: u32,
    /// CPU cores.
    pub cpus: u32,
    /// Memory in MiB.
    pub mem_mb: u64,
}

impl Resources {
    /// True when `self` fits inside `avail` in every dimension.
    pub fn fits_in(&self, avail: &Resources) -> bool {
        self.gpus <= avail.gpus && self.cpus <= avail.cpus && self.mem_mb <= avail.mem_mb
    }

    /// `self - other`, saturating at zero in each dimension.
    pub fn saturating_sub(&self, other: &Resources) -> Resources {
        Resources {
            gpus: self.gpus.saturating_sub(other.gpus),
            cpus: self.cpus.saturating_sub(other.cpus),
            mem_mb: self.mem_mb.saturating_sub(other.mem_mb),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_checks_every_dimension() {
        let node = Resources {
            gpus: 8,
            cpus: 64,
            mem_mb: 1024,
        };
        assert!(
            Resources {
                gpus: 8,
                cpus: 64,
                mem_mb: 1024
            }
            .fits_in(&node)
        );
        assert!(
            !Resources {
                gpus: 9,
                cpus: 1,
                mem_mb: 1
            }
            .fits_in(&node)
        );
        assert!(
            !Resources {
                gpus: 1,
                cpus: 65,
                mem_mb: 1
            }
            .fits_in(&node)
        );
        assert!(
            !Resources {
                gpus: 1,
                cpus: 1,
                mem_mb: 1025
            }
            .fits_in(&node)
        );
    }
}
