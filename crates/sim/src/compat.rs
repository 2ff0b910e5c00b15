//! What the Muri simulator (SIGCOMM '22) does beyond replaying durations, so
//! that its published rows can be reproduced (`--compat muri`):
//! - a job's run time is `iterations × iteration_time × 1.015`;
//! - every running job loses its model's start-up overhead (4 to 46 s, by model
//!   and GPU count) from its progress at every scheduling event, not only when it
//!   restarts: `progress += max(elapsed − overhead, 0)`;
//! - Tiresias (its `dlas-gpu`) counts free GPUs without placing them on nodes,
//!   with queue thresholds of 3,250 and 7,200 GPU-seconds.
//!
//! The figures below are the Muri simulator's profiled overheads, in seconds.

/// Muri multiplies every iteration time by this.
pub const MURI_ITERATION_FACTOR: f64 = 1.015;

/// Muri's Tiresias queue thresholds, GPU-seconds.
pub const MURI_LAS_THRESHOLDS: [f64; 2] = [3_250.0, 7_200.0];

const MODELS: [&str; 8] = [
    "vgg16",
    "vgg19",
    "resnet18",
    "shufflenet_v2_x1_0",
    "bert",
    "gpt2",
    "a2c",
    "dqn",
];

/// Rows: 1, 2, 4, 8, 16, 32 GPUs; columns: [`MODELS`].
const OVERHEAD_S: [[u8; 8]; 6] = [
    [7, 7, 4, 4, 10, 10, 38, 5],
    [7, 7, 5, 4, 10, 10, 39, 5],
    [8, 8, 5, 5, 10, 10, 39, 6],
    [9, 9, 7, 5, 10, 10, 46, 6],
    [9, 10, 7, 7, 10, 10, 46, 8],
    [10, 10, 7, 8, 10, 10, 46, 8],
];

/// The overhead Muri charges a job of `gpus` GPUs training `model` at every event:
/// its profiled figure, or 10 s for a model or size it did not profile.
pub fn muri_overhead(gpus: u32, model: Option<&str>) -> f64 {
    let row = match gpus {
        1 => 0,
        2 => 1,
        4 => 2,
        8 => 3,
        16 => 4,
        32 => 5,
        _ => return 10.0,
    };
    model
        .and_then(|m| MODELS.iter().position(|x| *x == m))
        .map_or(10.0, |c| f64::from(OVERHEAD_S[row][c]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overheads_follow_the_profiled_table_else_ten_seconds() {
        assert_eq!(muri_overhead(1, Some("resnet18")), 4.0);
        assert_eq!(muri_overhead(8, Some("a2c")), 46.0);
        assert_eq!(muri_overhead(32, Some("dqn")), 8.0);
        assert_eq!(muri_overhead(3, Some("dqn")), 10.0);
        assert_eq!(muri_overhead(1, Some("llama")), 10.0);
        assert_eq!(muri_overhead(1, None), 10.0);
    }
}
