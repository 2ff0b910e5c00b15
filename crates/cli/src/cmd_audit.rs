//! `aisc audit list|verify`: read the audit trail and check its hash chain.

use crate::client::Client;
use crate::format::{print_json, short_time, table};
use aisc_api::audit::{AuditVerification, AuditView};
use anyhow::Result;
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCmd,
}

#[derive(Debug, Subcommand)]
enum AuditCmd {
    /// The newest events: who did what, when, from where.
    List {
        /// How many events (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Only this actor's events.
        #[arg(long)]
        actor: Option<String>,
        /// Only actions starting with this (`job.`, `grant.approve`).
        #[arg(long)]
        action: Option<String>,
        /// Only events whose target or summary contains this text.
        #[arg(long)]
        search: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the whole hash chain; exits 1 and names the first bad event if it is broken.
    Verify,
}

pub async fn run(a: AuditArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        AuditCmd::List {
            limit,
            actor,
            action,
            search,
            json,
        } => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(actor.map(|v| ("actor", v)));
            query.extend(action.map(|v| ("action", v)));
            query.extend(search.map(|v| ("q", v)));
            let events: Vec<AuditView> = client
                .send(
                    client
                        .request(reqwest::Method::GET, "/api/v1/audit")
                        .query(&query),
                )
                .await?
                .json()
                .await?;
            if json {
                return print_json(&events);
            }
            let rows: Vec<Vec<String>> = events
                .iter()
                .map(|e| {
                    vec![
                        e.id.to_string(),
                        short_time(&e.at),
                        e.actor.clone(),
                        e.source.clone(),
                        e.action.clone(),
                        e.target.clone(),
                        e.summary.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &["ID", "AT", "ACTOR", "FROM", "ACTION", "TARGET", "SUMMARY"],
                    &rows
                )
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Verify => {
            let v: AuditVerification = client.get_json("/api/v1/audit/verify").await?;
            if v.intact {
                println!("audit trail intact: {} events verified", v.checked);
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "audit trail BROKEN at event {}: {} ({} events verified before it)",
                    v.first_bad.unwrap_or_default(),
                    v.detail.unwrap_or_default(),
                    v.checked
                );
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
