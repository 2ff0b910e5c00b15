//! `aisc scheme ...`.

use crate::client::Client;
use crate::format::{print_json, short_time, table};
use aisc_api::schemes::SchemeView;
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct SchemeArgs {
    #[command(subcommand)]
    command: SchemeCmd,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum SchemeCmd {
    /// Create a funding scheme and fund its pool (centre administrators).
    Create {
        /// Name.
        name: String,
        /// Title.
        #[arg(long)]
        title: Option<String>,
        /// Budget pool in HK$, e.g. 3000000000.
        #[arg(long)]
        pool: String,
        /// Eligible organisation kinds, comma-separated.
        #[arg(long, value_delimiter = ',')]
        eligible: Vec<String>,
        /// Default subsidy rate, percent.
        #[arg(long, default_value = "70")]
        default_rate: String,
        /// Highest subsidy rate, percent.
        #[arg(long, default_value = "90")]
        max_rate: String,
        /// Discount on the list price for scavenger jobs, percent (0 charges full price, 100 nothing).
        #[arg(long, default_value = "50")]
        scavenger_discount: String,
        /// A review criterion as NAME:WEIGHT (weights add up to 100); repeat.
        #[arg(long = "criterion", required = true)]
        criteria: Vec<String>,
        /// First day applications are accepted (YYYY-MM-DD).
        #[arg(long)]
        opens: String,
        /// Day applications close (YYYY-MM-DD).
        #[arg(long)]
        closes: String,
        /// Reviews an application needs before it may be approved (0: approval without review).
        #[arg(long, default_value_t = 1, value_name = "N")]
        min_reviews: u32,
    },
    /// List schemes and their pools.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one scheme.
    Show {
        /// Name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(a: SchemeArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        SchemeCmd::Create {
            name,
            title,
            pool,
            eligible,
            default_rate,
            max_rate,
            scavenger_discount,
            criteria,
            opens,
            closes,
            min_reviews,
        } => {
            let mut crit = Vec::new();
            for c in &criteria {
                let Some((n, w)) = c.rsplit_once(':') else {
                    bail!("--criterion {c:?}: use NAME:WEIGHT")
                };
                let w: u32 = w.trim().parse().map_err(|_| {
                    anyhow::anyhow!("--criterion {c:?}: the weight is a whole number")
                })?;
                crit.push(json!({"name": n.trim(), "weight": w}));
            }
            let body = json!({"name": name, "title": title, "pool": pool, "eligible": eligible, "default_rate": default_rate,
                "max_rate": max_rate, "criteria": crit, "opens": opens, "closes": closes,
                "scavenger_discount": scavenger_discount, "min_reviews": min_reviews});
            let s: SchemeView = client.post_json("/api/v1/schemes", &body).await?;
            eprintln!(
                "aisc: created scheme {} with a pool of {}",
                s.name, s.funded
            );
        }
        SchemeCmd::List { json } => {
            let schemes: Vec<SchemeView> = client.get_json("/api/v1/schemes").await?;
            if json {
                return print_json(&schemes);
            }
            let rows: Vec<Vec<String>> = schemes
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        if s.open { "open" } else { "closed" }.into(),
                        format!("{} (max {})", s.default_rate, s.max_rate),
                        s.funded.clone(),
                        s.committed.clone(),
                        s.uncommitted.clone(),
                        short_time(&s.closes_at),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &[
                        "SCHEME",
                        "STATE",
                        "SUBSIDY",
                        "POOL",
                        "COMMITTED",
                        "UNCOMMITTED",
                        "CLOSES (UTC)"
                    ],
                    &rows
                )
            );
        }
        SchemeCmd::Show { name, json } => {
            let s: SchemeView = client.get_json(&format!("/api/v1/schemes/{name}")).await?;
            if json {
                return print_json(&s);
            }
            println!(
                "{} ({}), {}",
                s.name,
                s.title,
                if s.open { "open" } else { "closed" }
            );
            println!("eligible: {}", s.eligible.join(", "));
            println!(
                "subsidy: {} by default, at most {}",
                s.default_rate, s.max_rate
            );
            println!(
                "pool: {} funded, {} committed, {} uncommitted",
                s.funded, s.committed, s.uncommitted
            );
            for c in &s.criteria {
                println!("criterion {}: {}%", c.name, c.weight);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
