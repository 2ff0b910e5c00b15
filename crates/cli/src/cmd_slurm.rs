//! `aisc slurm`: the Slurm engine's accounts.

use crate::client::Client;
use aisc_api::slurm::SyncReport;
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct SlurmArgs {
    #[command(subcommand)]
    command: SlurmCmd,
}

#[derive(Debug, Subcommand)]
enum SlurmCmd {
    /// Bring Slurm's accounts, associations and GPU-minute limits in step with
    /// aisc's projects, members and grants (administrators).
    Sync {
        /// Only print the changes a sync would make (drift), change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(a: SlurmArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        SlurmCmd::Sync { dry_run, json } => {
            let r: SyncReport = client
                .post_json("/api/v1/slurm/sync", &json!({ "dry_run": dry_run }))
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else if r.changes.is_empty() {
                println!("Slurm's accounts are in step: nothing to change");
            } else {
                let verb = if r.applied { "done" } else { "planned" };
                for c in &r.changes {
                    println!("{verb}: {c}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
