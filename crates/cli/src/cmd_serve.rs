//! `aisc serve`.

use aisc_engine::FakeGpus;
use aisc_server::Config;
use aisc_store::Durability;
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the database (aisc.db), job directories and the admin token live.
    #[arg(long, env = "AISC_DATA_DIR", default_value = "./aisc-data")]
    data_dir: PathBuf,
    /// Address and port to listen on (port 0 picks a free one).
    #[arg(long, env = "AISC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Declare N fake GPUs (or TYPE:N, e.g. h100:8) instead of asking NVML; for testing.
    #[arg(long, value_name = "[TYPE:]N")]
    fake_gpus: Option<String>,
    /// Time between SIGTERM and SIGKILL when a job is cancelled or runs out of time.
    #[arg(long, default_value = "10s", value_name = "TIME")]
    kill_grace: String,
    /// `full`: every reply waits for its commit to reach the disk; `normal`: survives an aisc crash, not a power cut.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Full)]
    durability: DurabilityArg,
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

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DurabilityArg {
    Full,
    Normal,
}

pub async fn run(a: ServeArgs) -> Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let fake_gpus = match a.fake_gpus.as_deref() {
        None => None,
        Some(spec) => {
            let (model, count) = aisc_model::sbatch::parse_gpu_spec(spec)
                .map_err(|e| anyhow::anyhow!("--fake-gpus: {e}"))?;
            if count > 1024 {
                bail!("--fake-gpus: {count} is more than 1024 GPUs on one host");
            }
            Some(FakeGpus {
                count,
                model: model.unwrap_or_else(|| "fake".into()),
            })
        }
    };
    let grace = aisc_model::units::parse_time_limit(&a.kill_grace)
        .map_err(|e| anyhow::anyhow!("--kill-grace: {e}"))?;
    let half_life = aisc_model::units::parse_time_limit(&a.fairshare_half_life)
        .map_err(|e| anyhow::anyhow!("--fairshare-half-life: {e}"))?;
    let max_age = aisc_model::units::parse_time_limit(&a.max_age)
        .map_err(|e| anyhow::anyhow!("--max-age: {e}"))?;
    let policy = aisc_sched::Policy {
        weight_fairshare: a.weight_fairshare,
        weight_age: a.weight_age,
        weight_qos: a.weight_qos,
        max_age_s: max_age,
        half_life_s: half_life,
        backfill: !a.no_backfill,
        preemption: !a.no_preemption,
    };
    let config = Config {
        policy,
        data_dir: a.data_dir,
        listen: a.listen,
        fake_gpus,
        kill_grace: Duration::from_secs(grace),
        durability: match a.durability {
            DurabilityArg::Full => Durability::Full,
            DurabilityArg::Normal => Durability::Normal,
        },
    };
    aisc_server::run(config, shutdown_signal()).await?;
    eprintln!("aisc: stopped; running jobs keep running and are re-adopted at the next start");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
