//! The production scheduling policy's settings, shared by `aisc serve` (which
//! runs it) and `aisc sim` (which replays traces through it).

use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Half-life of recorded usage for fair share (e.g. 7-0 or 168h).
    #[arg(long, default_value = "7-0", value_name = "TIME")]
    fairshare_half_life: String,
    /// The wait at which the age factor reaches its full weight.
    #[arg(long, default_value = "7-0", value_name = "TIME")]
    max_age: String,
    /// Weight of the fair-share factor in a job's priority.
    #[arg(long, default_value_t = aisc_sched::Policy::default().weight_fairshare)]
    weight_fairshare: u32,
    /// Weight of the age factor.
    #[arg(long, default_value_t = aisc_sched::Policy::default().weight_age)]
    weight_age: u32,
    /// Weight of the QOS factor (high QOS jobs).
    #[arg(long, default_value_t = aisc_sched::Policy::default().weight_qos)]
    weight_qos: u32,
    /// Start jobs strictly in priority order (no EASY backfill).
    #[arg(long)]
    no_backfill: bool,
    /// Never preempt scavenger jobs (they then hold their GPUs like any job).
    #[arg(long)]
    no_preemption: bool,
}

impl PolicyArgs {
    /// The policy these flags describe; an error names the flag.
    pub fn policy(&self) -> Result<aisc_sched::Policy> {
        let half_life = aisc_model::units::parse_time_limit(&self.fairshare_half_life)
            .map_err(|e| anyhow::anyhow!("--fairshare-half-life: {e}"))?;
        let max_age = aisc_model::units::parse_time_limit(&self.max_age)
            .map_err(|e| anyhow::anyhow!("--max-age: {e}"))?;
        Ok(aisc_sched::Policy {
            weight_fairshare: self.weight_fairshare,
            weight_age: self.weight_age,
            weight_qos: self.weight_qos,
            max_age_s: max_age,
            half_life_s: half_life,
            backfill: !self.no_backfill,
            preemption: !self.no_preemption,
        })
    }
}
