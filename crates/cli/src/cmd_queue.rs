//! `aisc queue`: pending jobs in the scheduler's order, and `--explain ID`:
//! one job's priority factors and why it waits.

use crate::client::Client;
use crate::format::{print_json, table};
use aisc_api::queue::{QueueEntry, QueueView};
use aisc_model::units::format_duration;
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct QueueArgs {
    /// Explain one job: its priority factors, its place, and why it waits.
    #[arg(long, value_name = "ID")]
    explain: Option<i64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A reason in words a user understands.
pub fn describe(reason: &str) -> &'static str {
    match reason {
        "Priority" => "jobs ahead of it in the queue go first; it cannot start now anyway",
        "Resources" => {
            "not enough free GPUs, CPUs or memory for it now; it is first in line for them"
        }
        "Reservation" => {
            "it would fit now, but would still be running when the first job in line is due to start, so it waits"
        }
        "GrantExhausted" => {
            "its grant's remaining balance cannot cover its worst case (GPUs x time limit x price)"
        }
        "QuotaLimit" => "its project holds as many GPUs at once as its grants allow",
        "Held" => "held until released (aisc release ID)",
        "EngineUnavailable" => "the engine that would run it cannot be reached",
        "Dependency" => "it waits for other jobs (--dependency)",
        "BeginTime" => "its start time (--begin) has not come",
        _ => "see aisc show",
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The time from `from_ms` to `to_ms` as `[D-]HH:MM:SS` (zero if negative).
fn span(from_ms: i64, to_ms: i64) -> String {
    format_duration(u64::try_from((to_ms - from_ms) / 1000).unwrap_or(0))
}

pub async fn run(a: QueueArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let path = match a.explain {
        Some(id) => format!("/api/v1/queue/{id}"),
        None => "/api/v1/queue".into(),
    };
    let v: QueueView = client.get_json(&path).await?;
    if a.json {
        return print_json(&v);
    }
    if let Some(j) = a.explain.and_then(|_| v.jobs.first()) {
        explain(&v, j);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = v
        .jobs
        .iter()
        .map(|j| {
            vec![
                j.position.to_string(),
                j.id.to_string(),
                j.user.clone(),
                j.project.clone().unwrap_or_default(),
                j.qos.to_string(),
                j.gpus.to_string(),
                j.priority.to_string(),
                span(j.submit_ms, now_ms()),
                j.reason.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "#", "JOB", "USER", "PROJECT", "QOS", "GPUS", "PRIORITY", "WAITING", "REASON"
            ],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

fn explain(v: &QueueView, j: &QueueEntry) {
    println!(
        "Job {} ({} GPUs, {} QOS, project {}) is number {} in the queue.",
        j.id,
        j.gpus,
        j.qos,
        j.project.as_deref().unwrap_or("-"),
        j.position
    );
    println!("Priority {} =", j.priority);
    println!(
        "  fair share {:>8.0} = {} x {:.3}  (project has {:.1} % of active grants, {:.1} % of recent usage; half-life {})",
        f64::from(v.weight_fairshare) * j.fairshare,
        v.weight_fairshare,
        j.fairshare,
        j.share * 100.0,
        j.usage * 100.0,
        format_duration(v.half_life_s)
    );
    println!(
        "  age        {:>8.0} = {} x {:.3}  (waiting {}, full weight at {})",
        f64::from(v.weight_age) * j.age,
        v.weight_age,
        j.age,
        span(j.submit_ms, now_ms()),
        format_duration(v.max_age_s)
    );
    println!(
        "  QOS        {:>8.0} = {} x {:.0}",
        f64::from(v.weight_qos) * j.qos_factor,
        v.weight_qos,
        j.qos_factor
    );
    println!("Waiting: {}: {}.", j.reason, describe(&j.reason));
    if let Some(on) = &j.waits_for {
        println!("Waits for: {on}.");
    }
    if let Some(at) = j.reserved_at_ms {
        println!(
            "Reserved: expected to start within {} (when running jobs reach their time limits).",
            span(now_ms(), at)
        );
    }
}
