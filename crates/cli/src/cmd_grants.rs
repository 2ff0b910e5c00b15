//! `aisc apply`, `aisc application ...`, `aisc review`, `aisc decide`, `aisc grants`.

use crate::client::Client;
use crate::format::{print_json, short_time, table};
use aisc_api::applications::{ApplicationView, GrantView};
use aisc_api::statements::Statement;
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use std::collections::BTreeMap;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The applying project.
    #[arg(long)]
    project: String,
    /// The scheme.
    #[arg(long)]
    scheme: String,
    /// The resource class.
    #[arg(long)]
    class: String,
    /// GPU-hours asked for.
    #[arg(long)]
    gpu_hours: i64,
    /// First day of the period (YYYY-MM-DD).
    #[arg(long)]
    from: String,
    /// Day the period ends (YYYY-MM-DD).
    #[arg(long)]
    to: String,
    /// A justification per criterion, as CRITERION=TEXT; repeat for each.
    #[arg(long = "justify", required = true)]
    justification: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ApplicationArgs {
    #[command(subcommand)]
    command: ApplicationCmd,
}

#[derive(Debug, Subcommand)]
enum ApplicationCmd {
    /// Applications you can see.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One application with its reviews.
    Show {
        /// Application id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Application id.
    id: i64,
    /// A score from 0 to 10 per criterion, as CRITERION=N; repeat for each.
    #[arg(long = "score", required = true)]
    scores: Vec<String>,
    /// A comment.
    #[arg(long, default_value = "")]
    comment: String,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// Application id.
    id: i64,
    /// Approve it.
    #[arg(long, conflicts_with = "reject")]
    approve: bool,
    /// Reject it (give --reason).
    #[arg(long)]
    reject: bool,
    /// GPU-hours granted (default: as asked).
    #[arg(long)]
    gpu_hours: Option<i64>,
    /// Subsidy rate in percent (default: the scheme's).
    #[arg(long)]
    rate: Option<String>,
    /// Why.
    #[arg(long)]
    reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct GrantsArgs {
    #[command(subcommand)]
    cmd: Option<GrantsCmd>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum GrantsCmd {
    /// Set a grant's scheduling limits (centre administrators).
    Set {
        /// The grant.
        id: i64,
        /// The most GPUs the project's jobs may hold at once, or `none`.
        #[arg(long, value_name = "N|none")]
        max_gpus: String,
        /// Whether its jobs may use the `high` QOS.
        #[arg(long, value_name = "yes|no", default_value = "no")]
        high_qos: String,
    },
}

fn pairs(items: &[String], what: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items {
        let Some((k, v)) = item.split_once('=') else {
            bail!("--{what} {item:?}: use CRITERION=VALUE")
        };
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}

fn print_application(a: &ApplicationView) {
    println!(
        "Application {} by {} for project {}: {}",
        a.id, a.applicant, a.project, a.state
    );
    println!(
        "  {} GPU-hours of {} under {}, {} to {}",
        a.gpu_hours,
        a.class,
        a.scheme,
        short_time(&a.starts_at),
        short_time(&a.ends_at)
    );
    for (k, v) in &a.justification {
        println!("  {k}: {v}");
    }
    for r in &a.reviews {
        let scores: Vec<String> = r.scores.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "  review by {}: {} ({}){}",
            r.reviewer,
            r.weighted,
            scores.join(", "),
            if r.comment.is_empty() {
                String::new()
            } else {
                format!(": {}", r.comment)
            }
        );
    }
    if let Some(m) = &a.mean_score {
        println!("  mean weighted score: {m} / 10");
    }
    if let Some(d) = &a.decision {
        println!("  decision: {d}");
    }
}

pub async fn apply(a: ApplyArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let body = json!({"project": a.project, "scheme": a.scheme, "class": a.class, "gpu_hours": a.gpu_hours,
        "starts": a.from, "ends": a.to, "justification": pairs(&a.justification, "justify")?});
    let app: ApplicationView = client.post_json("/api/v1/applications", &body).await?;
    eprintln!("aisc: application {} submitted", app.id);
    println!("{}", app.id);
    Ok(ExitCode::SUCCESS)
}

pub async fn application(a: ApplicationArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        ApplicationCmd::List { json } => {
            let apps: Vec<ApplicationView> = client.get_json("/api/v1/applications").await?;
            if json {
                return print_json(&apps);
            }
            let rows: Vec<Vec<String>> = apps
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        a.project.clone(),
                        a.scheme.clone(),
                        a.class.clone(),
                        a.gpu_hours.to_string(),
                        a.state.clone(),
                        a.reviews.len().to_string(),
                        a.mean_score.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &[
                        "ID",
                        "PROJECT",
                        "SCHEME",
                        "CLASS",
                        "GPU-HOURS",
                        "STATE",
                        "REVIEWS",
                        "SCORE"
                    ],
                    &rows
                )
            );
        }
        ApplicationCmd::Show { id, json } => {
            let app: ApplicationView = client
                .get_json(&format!("/api/v1/applications/{id}"))
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&app)?);
            } else {
                print_application(&app);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn review(a: ReviewArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let mut scores = BTreeMap::new();
    for (k, v) in pairs(&a.scores, "score")? {
        let n: u32 = v
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("--score {k}={v}: a whole number from 0 to 10"))?;
        scores.insert(k, n);
    }
    let app: ApplicationView = client
        .post_json(
            &format!("/api/v1/applications/{}/reviews", a.id),
            &json!({"scores": scores, "comment": a.comment}),
        )
        .await?;
    let mine = app
        .reviews
        .last()
        .map(|r| r.weighted.clone())
        .unwrap_or_default();
    eprintln!(
        "aisc: reviewed application {}: weighted score {mine} / 10",
        app.id
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn decide(a: DecideArgs) -> Result<ExitCode> {
    if a.approve == a.reject {
        bail!("give --approve or --reject");
    }
    let client = Client::from_env()?;
    let body =
        json!({"approve": a.approve, "gpu_hours": a.gpu_hours, "rate": a.rate, "reason": a.reason});
    let app: ApplicationView = client
        .post_json(&format!("/api/v1/applications/{}/decision", a.id), &body)
        .await?;
    eprintln!(
        "aisc: application {}: {}",
        app.id,
        app.decision.unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn grants(a: GrantsArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    if let Some(GrantsCmd::Set {
        id,
        max_gpus,
        high_qos,
    }) = a.cmd
    {
        let max_gpus: Option<i64> = match max_gpus.trim() {
            "none" => None,
            n => Some(n.parse().map_err(|_| {
                anyhow::anyhow!("--max-gpus {n:?}: give a whole number of GPUs, or none")
            })?),
        };
        let high_qos = match high_qos.trim() {
            "yes" => true,
            "no" => false,
            other => bail!("--high-qos {other:?}: give yes or no"),
        };
        let body = serde_json::json!({ "max_gpus": max_gpus, "high_qos": high_qos });
        let g: GrantView = client
            .patch_json(&format!("/api/v1/grants/{id}"), &body)
            .await?;
        let cap = g.max_gpus.map_or("no GPU cap".to_string(), |m| {
            format!("at most {m} GPUs at once")
        });
        println!(
            "Grant {}: {cap}; high QOS {}",
            g.id,
            if g.high_qos { "allowed" } else { "not allowed" }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let grants: Vec<GrantView> = client.get_json("/api/v1/grants").await?;
    if a.json {
        return print_json(&grants);
    }
    let rows: Vec<Vec<String>> = grants
        .iter()
        .map(|g| {
            vec![
                g.id.to_string(),
                g.project.clone(),
                g.scheme.clone(),
                format!("{} x {}", g.gpu_hours, g.class),
                g.rate.clone(),
                g.amount.clone(),
                g.used.clone(),
                g.held.clone(),
                g.remaining.clone(),
                short_time(&g.ends_at),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "GRANT",
                "PROJECT",
                "SCHEME",
                "GPU-HOURS",
                "SUBSIDY",
                "AMOUNT",
                "USED",
                "HELD",
                "REMAINING",
                "ENDS (UTC)"
            ],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct StatementArgs {
    /// Project.
    #[arg(long)]
    project: String,
    /// Month, YYYY-MM.
    #[arg(long)]
    month: String,
    /// Print CSV (for spreadsheets) instead of a table.
    #[arg(long)]
    csv: bool,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
}

pub async fn statement(a: StatementArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let path = format!("/api/v1/projects/{}/statement", a.project);
    if a.csv {
        let req = client
            .request(reqwest::Method::GET, &path)
            .query(&[("month", a.month.as_str()), ("format", "csv")]);
        print!("{}", client.send(req).await?.text().await?);
        return Ok(ExitCode::SUCCESS);
    }
    let req = client
        .request(reqwest::Method::GET, &path)
        .query(&[("month", a.month.as_str())]);
    let s: Statement = client.send(req).await?.json().await?;
    if a.json {
        return print_json(&s);
    }
    println!("Statement of project {} for {}", s.project, s.month);
    let mut rows: Vec<Vec<String>> = s
        .lines
        .iter()
        .map(|l| {
            vec![
                l.job.to_string(),
                l.name.clone(),
                l.grant.to_string(),
                format!("{:.3}", l.gpu_seconds),
                l.price_per_gpu_hour.clone(),
                l.charge.clone(),
                l.subsidy.clone(),
                l.tenant.clone(),
            ]
        })
        .collect();
    rows.push(vec![
        "TOTAL".into(),
        String::new(),
        String::new(),
        format!("{:.3}", s.gpu_seconds),
        String::new(),
        s.charge,
        s.subsidy,
        s.tenant,
    ]);
    print!(
        "{}",
        table(
            &[
                "JOB",
                "NAME",
                "GRANT",
                "GPU-SECONDS",
                "PRICE/GPU-HOUR",
                "CHARGE",
                "SUBSIDY",
                "YOURS"
            ],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}
