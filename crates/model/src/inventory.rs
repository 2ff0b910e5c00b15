//! Resource classes and the centre's capacity, derived from the inventory.

use serde::{Deserialize, Serialize};

/// Peak TFLOPS of one GPU, per precision.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Peak {
    /// FP64.
    pub fp64: f64,
    /// FP32.
    pub fp32: f64,
    /// BF16 (dense).
    pub bf16: f64,
    /// FP8 (dense).
    pub fp8: f64,
}

/// A kind of accelerator node and how many the centre has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceClass {
    /// Unique name (`h800-8x`).
    pub name: String,
    /// GPU model (`H800`).
    pub gpu_model: String,
    /// GPUs per node.
    pub gpus_per_node: u32,
    /// CPU cores per node.
    pub cpus_per_node: u32,
    /// Memory per node, MiB.
    pub mem_mb_per_node: u64,
    /// Peak per GPU.
    pub peak: Peak,
    /// Nodes in the inventory.
    pub nodes: u32,
}

/// Peak PFLOPS per precision.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Capacity {
    /// GPUs in all.
    pub gpus: u64,
    /// FP64 PFLOPS.
    pub fp64: f64,
    /// FP32 PFLOPS.
    pub fp32: f64,
    /// BF16 PFLOPS.
    pub bf16: f64,
    /// FP8 PFLOPS.
    pub fp8: f64,
}

impl ResourceClass {
    /// GPUs of this class in the inventory.
    pub fn gpus(&self) -> u64 {
        u64::from(self.nodes) * u64::from(self.gpus_per_node)
    }
}

/// The centre's peak capacity: the sum over classes of GPUs x peak per GPU.
pub fn capacity<'a>(classes: impl IntoIterator<Item = &'a ResourceClass>) -> Capacity {
    classes.into_iter().fold(Capacity::default(), |c, rc| {
        let g = rc.gpus() as f64;
        Capacity {
            gpus: c.gpus + rc.gpus(),
            fp64: c.fp64 + g * rc.peak.fp64 / 1000.0,
            fp32: c.fp32 + g * rc.peak.fp32 / 1000.0,
            bf16: c.bf16 + g * rc.peak.bf16 / 1000.0,
            fp8: c.fp8 + g * rc.peak.fp8 / 1000.0,
        }
    })
}

/// Checks a class's figures, naming the field and the limit.
pub fn check_class(rc: &ResourceClass) -> Result<(), (&'static str, String)> {
    crate::tenancy::check_name(&rc.name).map_err(|e| ("name", e))?;
    if rc.gpu_model.trim().is_empty() || rc.gpu_model.len() > 64 {
        return Err(("gpu_model", "1 to 64 characters".into()));
    }
    if !(1..=64).contains(&rc.gpus_per_node) {
        return Err(("gpus_per_node", "1 to 64".into()));
    }
    if !(1..=4096).contains(&rc.cpus_per_node) {
        return Err(("cpus_per_node", "1 to 4096".into()));
    }
    if !(1..=crate::units::MAX_MEM_MB).contains(&rc.mem_mb_per_node) {
        return Err(("mem_mb_per_node", "1M to 64T".into()));
    }
    for (field, v) in [
        ("tflops_fp64", rc.peak.fp64),
        ("tflops_fp32", rc.peak.fp32),
        ("tflops_bf16", rc.peak.bf16),
        ("tflops_fp8", rc.peak.fp8),
    ] {
        if !(0.0..=100_000.0).contains(&v) || v.is_nan() {
            return Err((field, "0 to 100000 TFLOPS per GPU".into()));
        }
    }
    if rc.nodes > 100_000 {
        return Err(("nodes", "0 to 100000".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h800(nodes: u32) -> ResourceClass {
        ResourceClass {
            name: "h800-8x".into(),
            gpu_model: "H800".into(),
            gpus_per_node: 8,
            cpus_per_node: 128,
            mem_mb_per_node: 2 << 20,
            peak: Peak {
                fp64: 67.0,
                fp32: 67.0,
                bf16: 989.5,
                fp8: 1979.0,
            },
            nodes,
        }
    }

    #[test]
    fn capacity_is_derived_from_the_inventory() {
        // 375 nodes x 8 H800 at 989.5 dense BF16 TFLOPS: about 2,969 PFLOPS.
        let c = capacity(&[h800(375)]);
        assert_eq!(c.gpus, 3000);
        assert!((c.bf16 - 2968.5).abs() < 1e-9, "{}", c.bf16);
        let both = capacity(&[h800(375), h800(5)]);
        assert_eq!(both.gpus, 3040);
        assert_eq!(capacity(&[]), Capacity::default());
    }

    #[test]
    fn absurd_figures_are_refused_by_field() {
        assert!(check_class(&h800(1)).is_ok());
        let bad = |f: fn(&mut ResourceClass)| {
            let mut rc = h800(1);
            f(&mut rc);
            check_class(&rc).unwrap_err().0
        };
        assert_eq!(bad(|r| r.gpus_per_node = 0), "gpus_per_node");
        assert_eq!(bad(|r| r.peak.bf16 = -1.0), "tflops_bf16");
        assert_eq!(bad(|r| r.peak.fp8 = f64::NAN), "tflops_fp8");
        assert_eq!(bad(|r| r.name = "Bad".into()), "name");
        assert_eq!(bad(|r| r.nodes = 1_000_000), "nodes");
    }
}
