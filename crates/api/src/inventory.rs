//! Resource classes, their nodes and prices, and capacity.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A resource class to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassRequest {
    /// Unique name, e.g. `h800-8x`.
    pub name: String,
    /// GPU model, e.g. `H800`.
    pub gpu_model: String,
    /// GPUs per node (1 to 64).
    pub gpus_per_node: u32,
    /// CPU cores per node.
    pub cpus_per_node: u32,
    /// Memory per node, e.g. `2T`.
    pub mem_per_node: String,
    /// Peak FP64 TFLOPS per GPU.
    #[serde(default)]
    pub tflops_fp64: f64,
    /// Peak FP32 TFLOPS per GPU.
    #[serde(default)]
    pub tflops_fp32: f64,
    /// Peak dense BF16 TFLOPS per GPU.
    #[serde(default)]
    pub tflops_bf16: f64,
    /// Peak dense FP8 TFLOPS per GPU.
    #[serde(default)]
    pub tflops_fp8: f64,
    /// Nodes in the inventory.
    pub nodes: u32,
}

/// A resource class with its current price.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClassView {
    /// Name.
    pub name: String,
    /// GPU model.
    pub gpu_model: String,
    /// GPUs per node.
    pub gpus_per_node: u32,
    /// CPU cores per node.
    pub cpus_per_node: u32,
    /// Memory per node, MiB.
    pub mem_mb_per_node: u64,
    /// Peak TFLOPS per GPU: fp64, fp32, bf16, fp8.
    pub tflops: [f64; 4],
    /// Nodes.
    pub nodes: u32,
    /// GPUs (nodes x GPUs per node).
    pub gpus: u64,
    /// The list price in force now, per GPU-hour (`HK$25.00`), if any.
    pub price_per_gpu_hour: Option<String>,
    /// The same in HK cents.
    pub price_cents: Option<i64>,
}

/// A node count.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodesRequest {
    /// Nodes now in the inventory.
    pub nodes: u32,
}

/// A price to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceRequest {
    /// HK$ per GPU-hour, e.g. `25.00`.
    pub per_gpu_hour: String,
    /// In force from this date (YYYY-MM-DD, Hong Kong time).
    pub effective: String,
}

/// A price.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PriceView {
    /// HK$ per GPU-hour.
    pub per_gpu_hour: String,
    /// HK cents per GPU-hour.
    pub cents: i64,
    /// In force from (RFC 3339).
    pub effective_at: String,
}

/// The centre's peak capacity, derived from the inventory.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CapacityView {
    /// GPUs in all.
    pub gpus: u64,
    /// Peak FP64 PFLOPS.
    pub pflops_fp64: f64,
    /// Peak FP32 PFLOPS.
    pub pflops_fp32: f64,
    /// Peak dense BF16 PFLOPS.
    pub pflops_bf16: f64,
    /// Peak dense FP8 PFLOPS.
    pub pflops_fp8: f64,
    /// Resource classes counted.
    pub classes: usize,
}
