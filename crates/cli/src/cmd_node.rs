//! `aisc node`: the nodes the scheduler places jobs on; drain and resume them.

use crate::client::Client;
use crate::format::{mem, print_json, table};
use aisc_api::nodes::NodeStateView;
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct NodeArgs {
    #[command(subcommand)]
    command: NodeCmd,
}

#[derive(Debug, Subcommand)]
enum NodeCmd {
    /// The nodes, their states (up, drain, down) and what running jobs hold.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Drain a node: it keeps its running jobs and takes no new ones (administrators).
    Drain {
        /// The node.
        name: String,
        /// Why (shown to users, kept in the audit trail).
        #[arg(long)]
        reason: String,
    },
    /// Resume a drained node (administrators).
    Resume {
        /// The node.
        name: String,
    },
}

pub async fn run(a: NodeArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let one = |n: &NodeStateView| {
        let why = n
            .drain_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        println!("{}: {}{why}", n.node.name, n.node.state);
    };
    match a.command {
        NodeCmd::List { json } => {
            let nodes: Vec<NodeStateView> = client.get_json("/api/v1/nodes/states").await?;
            if json {
                return print_json(&nodes);
            }
            let rows: Vec<Vec<String>> = nodes
                .iter()
                .map(|n| {
                    let s = &n.node;
                    vec![
                        s.name.clone(),
                        s.state.clone(),
                        format!("{}/{}", s.gpus_busy, s.gpus),
                        format!("{}/{}", s.cpus_busy, s.cpus),
                        format!("{}/{}", mem(s.mem_busy_mb), mem(s.mem_mb)),
                        s.jobs.to_string(),
                        n.drain_reason.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &[
                        "NODE",
                        "STATE",
                        "GPUS BUSY",
                        "CPUS BUSY",
                        "MEM BUSY",
                        "JOBS",
                        "REASON"
                    ],
                    &rows
                )
            );
        }
        NodeCmd::Drain { name, reason } => {
            let n: NodeStateView = client
                .post_json(
                    &format!("/api/v1/nodes/{name}/drain"),
                    &json!({ "reason": reason }),
                )
                .await?;
            one(&n);
        }
        NodeCmd::Resume { name } => {
            let n: NodeStateView = client
                .post_json(&format!("/api/v1/nodes/{name}/resume"), &json!({}))
                .await?;
            one(&n);
        }
    }
    Ok(ExitCode::SUCCESS)
}
