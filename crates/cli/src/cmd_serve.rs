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
    #[command(flatten)]
    policy: crate::policy_args::PolicyArgs,
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
    let policy = a.policy.policy()?;
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
