//! `aisc class ...`, `aisc price ...`, `aisc capacity`.

use crate::client::Client;
use crate::format::{mem, print_json, short_time, table};
use aisc_api::inventory::{CapacityView, ClassView, PriceView};
use anyhow::Result;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ClassArgs {
    #[command(subcommand)]
    command: ClassCmd,
}

#[derive(Debug, Subcommand)]
enum ClassCmd {
    /// Add a resource class to the inventory (centre administrators).
    Create {
        /// Name, e.g. h800-8x.
        name: String,
        /// GPU model, e.g. H800.
        #[arg(long)]
        model: String,
        /// GPUs per node.
        #[arg(long)]
        gpus_per_node: u32,
        /// CPU cores per node.
        #[arg(long)]
        cpus_per_node: u32,
        /// Memory per node, e.g. 2T.
        #[arg(long)]
        mem_per_node: String,
        /// Peak dense BF16 TFLOPS per GPU.
        #[arg(long, default_value_t = 0.0)]
        tflops_bf16: f64,
        /// Peak dense FP8 TFLOPS per GPU.
        #[arg(long, default_value_t = 0.0)]
        tflops_fp8: f64,
        /// Peak FP32 TFLOPS per GPU.
        #[arg(long, default_value_t = 0.0)]
        tflops_fp32: f64,
        /// Peak FP64 TFLOPS per GPU.
        #[arg(long, default_value_t = 0.0)]
        tflops_fp64: f64,
        /// Nodes in the inventory.
        #[arg(long)]
        nodes: u32,
    },
    /// List resource classes with their current prices.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set how many nodes of a class the centre has (centre administrators).
    Nodes {
        /// Class.
        class: String,
        /// Nodes.
        nodes: u32,
    },
}

#[derive(Debug, Args)]
pub struct PriceArgs {
    #[command(subcommand)]
    command: PriceCmd,
}

#[derive(Debug, Subcommand)]
enum PriceCmd {
    /// Set a class's list price per GPU-hour from a date (centre administrators).
    Set {
        /// Class.
        class: String,
        /// HK$ per GPU-hour, e.g. 25.00.
        hkd: String,
        /// In force from (YYYY-MM-DD, Hong Kong time).
        #[arg(long)]
        from: String,
    },
    /// A class's price history, newest first.
    List {
        /// Class.
        class: String,
    },
}

pub async fn class(a: ClassArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        ClassCmd::Create {
            name,
            model,
            gpus_per_node,
            cpus_per_node,
            mem_per_node,
            tflops_bf16,
            tflops_fp8,
            tflops_fp32,
            tflops_fp64,
            nodes,
        } => {
            let body = json!({"name": name, "gpu_model": model, "gpus_per_node": gpus_per_node, "cpus_per_node": cpus_per_node,
                "mem_per_node": mem_per_node, "tflops_bf16": tflops_bf16, "tflops_fp8": tflops_fp8, "tflops_fp32": tflops_fp32,
                "tflops_fp64": tflops_fp64, "nodes": nodes});
            let c: ClassView = client.post_json("/api/v1/resource-classes", &body).await?;
            eprintln!(
                "aisc: added {}: {} nodes x {} {} ({} GPUs)",
                c.name, c.nodes, c.gpus_per_node, c.gpu_model, c.gpus
            );
        }
        ClassCmd::List { json } => {
            let classes: Vec<ClassView> = client.get_json("/api/v1/resource-classes").await?;
            if json {
                return print_json(&classes);
            }
            let rows: Vec<Vec<String>> = classes
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        c.gpu_model.clone(),
                        c.gpus_per_node.to_string(),
                        c.cpus_per_node.to_string(),
                        mem(c.mem_mb_per_node),
                        c.nodes.to_string(),
                        c.gpus.to_string(),
                        format!("{}", c.tflops[2]),
                        c.price_per_gpu_hour.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &[
                        "CLASS",
                        "GPU",
                        "GPUS/NODE",
                        "CPUS/NODE",
                        "MEM/NODE",
                        "NODES",
                        "GPUS",
                        "BF16 TFLOPS/GPU",
                        "PRICE/GPU-HOUR"
                    ],
                    &rows
                )
            );
        }
        ClassCmd::Nodes { class, nodes } => {
            let req = client
                .request(
                    Method::PUT,
                    &format!("/api/v1/resource-classes/{class}/nodes"),
                )
                .json(&json!({"nodes": nodes}));
            let c: ClassView = client.send(req).await?.json().await?;
            eprintln!(
                "aisc: {} now has {} nodes ({} GPUs)",
                c.name, c.nodes, c.gpus
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn price(a: PriceArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        PriceCmd::Set { class, hkd, from } => {
            let p: PriceView = client
                .post_json(
                    &format!("/api/v1/resource-classes/{class}/prices"),
                    &json!({"per_gpu_hour": hkd, "effective": from}),
                )
                .await?;
            eprintln!(
                "aisc: {class} costs {} per GPU-hour from {}",
                p.per_gpu_hour,
                short_time(&p.effective_at)
            );
        }
        PriceCmd::List { class } => {
            let prices: Vec<PriceView> = client
                .get_json(&format!("/api/v1/resource-classes/{class}/prices"))
                .await?;
            let rows: Vec<Vec<String>> = prices
                .iter()
                .map(|p| vec![short_time(&p.effective_at), p.per_gpu_hour.clone()])
                .collect();
            print!("{}", table(&["FROM (UTC)", "PER GPU-HOUR"], &rows));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn capacity() -> Result<ExitCode> {
    let client = Client::from_env()?;
    let c: CapacityView = client.get_json("/api/v1/capacity").await?;
    println!(
        "{} GPUs in {} resource classes: peak {:.1} PFLOPS BF16, {:.1} PFLOPS FP8, {:.1} PFLOPS FP32, {:.1} PFLOPS FP64",
        c.gpus, c.classes, c.pflops_bf16, c.pflops_fp8, c.pflops_fp32, c.pflops_fp64
    );
    Ok(ExitCode::SUCCESS)
}
