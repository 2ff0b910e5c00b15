//! Commands that read and act on jobs: `jobs`, `show`, `logs`, `cancel`,
//! `release`, `nodes`, `whoami`, `login`.

use crate::client::{Client, base_url};
use crate::format::{elapsed_s, mem, print_json, short_time, table};
use aisc_api::jobs::{ActionResult, JobDetail, JobList, JobView, NodeView, WhoAmI};
use aisc_model::units::format_duration;
use anyhow::{Context, Result, bail};
use clap::Args;
use reqwest::Method;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Only jobs in this state.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
        aisc_model::job::ALL_STATES.map(aisc_model::JobState::as_str)
    ))]
    state: Option<String>,
    /// Only my own jobs (an admin sees everyone's by default).
    #[arg(long)]
    mine: bool,
    /// Only jobs charged to this project.
    #[arg(short = 'A', long, visible_alias = "account")]
    project: Option<String>,
    /// How many jobs (1 to 1000).
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Job id.
    id: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Job id.
    id: String,
    /// Keep printing as the job writes, until it ends.
    #[arg(short, long)]
    follow: bool,
    /// Print the error file instead (when the job has a separate one).
    #[arg(long)]
    stderr: bool,
}

#[derive(Debug, Args)]
pub struct IdsArgs {
    /// Job ids.
    #[arg(required = true)]
    ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Job ids (N, or N_T for a task of array N).
    #[arg(required = true)]
    ids: Vec<String>,
    /// A new time limit (`30`, `1:00:00`, `2-00:00:00`): lower than now, unless you are an administrator.
    #[arg(short = 't', long)]
    time: Option<String>,
    /// A new name.
    #[arg(short = 'J', long)]
    name: Option<String>,
    /// A new QOS: normal, high (where the grant allows it) or scavenger.
    #[arg(short = 'q', long)]
    qos: Option<String>,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Use this token instead of a password (`-` for standard input).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["user", "password_stdin"])]
    token_file: Option<PathBuf>,
    /// User name for a password login (default: $USER).
    #[arg(long)]
    user: Option<String>,
    /// Read the password from standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
    /// Lifetime of the token a password login gets.
    #[arg(long, default_value = "30d")]
    expires: String,
}

/// A job as users name it: `123`, or `123_4` for task 4 of array 123.
fn job_id(s: &str) -> Result<aisc_model::array::JobRef> {
    s.trim().parse().map_err(|e: String| anyhow::anyhow!(e))
}

pub async fn jobs(a: JobsArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let mut req = client
        .request(Method::GET, "/api/v1/jobs")
        .query(&[("limit", a.limit.to_string())]);
    if let Some(s) = &a.state {
        req = req.query(&[("state", s)]);
    }
    if a.mine {
        req = req.query(&[("mine", "true")]);
    }
    if let Some(p) = &a.project {
        req = req.query(&[("project", p)]);
    }
    let res = client.send(req).await?;
    if a.json {
        let v: serde_json::Value = res.json().await?;
        return print_json(&v["jobs"]);
    }
    let list: JobList = res.json().await?;
    let rows: Vec<Vec<String>> = list.jobs.iter().map(job_row).collect();
    print!(
        "{}",
        table(
            &[
                "ID",
                "NAME",
                "USER",
                "STATE",
                "REASON",
                "GPUS",
                "CPUS",
                "MEM",
                "TIME",
                "LIMIT",
                "SUBMITTED"
            ],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

fn job_row(j: &JobView) -> Vec<String> {
    let time = match (&j.started_at, &j.ended_at) {
        (Some(s), e) => elapsed_s(s, e.as_deref())
            .map(format_duration)
            .unwrap_or_default(),
        (None, _) => "-".into(),
    };
    let gpus = if j.gpus_fake {
        format!("{} (fake)", j.gpus)
    } else {
        j.gpus.to_string()
    };
    let reason = if j.state == "pending" || j.state == "admitted" || j.state == "running" {
        j.reason.clone()
    } else {
        truncate(&j.reason, 40)
    };
    let id = if j.label.is_empty() {
        j.id.to_string()
    } else {
        j.label.clone()
    };
    vec![
        id,
        truncate(&j.name, 24),
        j.user.clone(),
        j.state.clone(),
        reason,
        gpus,
        j.cpus.to_string(),
        mem(j.mem_mb),
        time,
        j.time_limit.clone(),
        short_time(&j.submitted_at),
    ]
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

pub async fn show(a: ShowArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let path = format!("/api/v1/jobs/{}", job_id(&a.id)?);
    if a.json {
        let v: serde_json::Value = client.get_json(&path).await?;
        return print_json(&v);
    }
    let d: JobDetail = client.get_json(&path).await?;
    print!("{}", render_detail(&d));
    Ok(ExitCode::SUCCESS)
}

fn render_detail(d: &JobDetail) -> String {
    let j = &d.job;
    let mut out = String::new();
    let mut kv = |k: &str, v: String| out.push_str(&format!("{k:<12}{v}\n"));
    if j.label.is_empty() || j.label == j.id.to_string() {
        kv("Job", format!("{} ({})", j.id, j.name));
    } else {
        kv("Job", format!("{} ({}, record {})", j.label, j.name, j.id));
    }
    kv("User", j.user.clone());
    if let Some(acc) = &j.account {
        kv("Account", acc.clone());
    }
    kv("State", format!("{}: {}", j.state, j.reason));
    if j.restarts > 0 {
        kv(
            "Restarts",
            format!("{} (each run is settled on its own)", j.restarts),
        );
    }
    for r in &d.runs {
        let exit = match (r.exit_code, r.signal) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("signal {s}"),
            (None, None) => "never started".into(),
        };
        kv(
            &format!("Run {}", r.run),
            format!(
                "{} to {}, {exit}, {:.0} GPU-seconds: {}",
                r.started_at.as_deref().unwrap_or("-"),
                r.ended_at.as_deref().unwrap_or("-"),
                r.gpu_seconds.unwrap_or(0.0),
                r.reason
            ),
        );
    }
    if let (Some(nodes), Some(tasks)) = (&j.nodes, j.tasks)
        && (nodes != "1" || tasks != 1)
    {
        kv("Nodes", format!("{nodes}, {tasks} tasks"));
    }
    let gpu_type = j
        .gpu_type
        .as_ref()
        .map(|t| format!(" of type {t}"))
        .unwrap_or_default();
    kv(
        "Requested",
        format!(
            "{} GPUs{gpu_type}, {} CPUs, {} memory, time limit {}",
            j.gpus,
            j.cpus,
            mem(j.mem_mb),
            j.time_limit
        ),
    );
    if let Some(q) = &j.qos {
        kv("QOS", q.clone());
    }
    if let Some(cmd) = &d.command {
        kv("Command", cmd.join(" "));
    }
    if d.script.is_some() {
        kv("Command", "batch script (see --json for its text)".into());
    }
    if !d.args.is_empty() {
        kv("Arguments", d.args.join(" "));
    }
    if let Some(p) = &d.partition {
        kv("Partition", p.clone());
    }
    if d.exclusive {
        kv("Exclusive", "whole nodes, shared with no other job".into());
    }
    if let Some(i) = d.interactive {
        let how = if i.pty {
            "on a terminal"
        } else {
            "input and output relayed"
        };
        kv("Interactive", format!("{how} (aisc attach {})", d.job.id));
    }
    if let Some(c) = &d.comment {
        kv("Comment", c.clone());
    }
    if let Some(b) = &d.begin_at {
        kv("Begins", b.clone());
    }
    if d.mail_type.is_some() || d.mail_user.is_some() {
        kv(
            "Mail",
            format!(
                "{} to {} (stored; no mail is sent yet)",
                d.mail_type.as_deref().unwrap_or("NONE"),
                d.mail_user.as_deref().unwrap_or("the submitter")
            ),
        );
    }
    if d.command.is_none() && d.script.is_none() {
        kv(
            "Command",
            "destroyed with its project's data key (the project was closed)".into(),
        );
    }
    if let Some(w) = &d.workdir {
        kv("Workdir", w.clone());
    }
    if let Some(node) = &j.node {
        let gpus = if j.gpu_ids.is_empty() {
            "no GPUs".to_string()
        } else {
            let ids: Vec<String> = j.gpu_ids.iter().map(u32::to_string).collect();
            format!(
                "GPUs {}{}",
                ids.join(","),
                if j.gpus_fake { " (fake)" } else { "" }
            )
        };
        kv("Placement", format!("{node}, {gpus}"));
    }
    if let Some(p) = &d.output_path {
        kv("Output", p.clone());
    }
    if d.error_path.is_some() && d.error_path != d.output_path {
        kv("Error", d.error_path.clone().unwrap_or_default());
    }
    kv("Submitted", short_time(&j.submitted_at));
    if let Some(s) = &j.started_at {
        kv("Started", short_time(s));
    }
    if let Some(e) = &j.ended_at {
        kv("Ended", short_time(e));
    }
    match (j.exit_code, j.signal) {
        (Some(c), _) => kv("Exit code", c.to_string()),
        (None, Some(s)) => kv("Signal", s.to_string()),
        _ => {}
    }
    if let (Some(g), Some(price), Some(lien)) = (j.grant, &j.price_per_gpu_hour, &j.lien) {
        let charged = j
            .charge
            .as_ref()
            .map(|c| format!(", charged {c}"))
            .unwrap_or_default();
        kv(
            "Cost",
            format!("grant {g} at {price} per GPU-hour, worst case {lien}{charged}"),
        );
    }
    if let (Some(w), Some(g), Some(c)) = (j.wall_seconds, j.gpu_seconds, j.cpu_seconds) {
        kv(
            "Usage",
            format!("{w:.3} s wall, {g:.3} GPU-seconds, {c:.3} CPU-seconds"),
        );
    }
    out.push_str("History:\n");
    for e in &d.events {
        let from = e.from.clone().unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "  {}  {from} -> {}: {}\n",
            short_time(&e.at),
            e.to,
            e.reason
        ));
    }
    out
}

pub async fn logs(a: LogsArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let id = job_id(&a.id)?;
    let stream = if a.stderr { "error" } else { "output" };
    let mut offset: u64 = 0;
    let mut stdout = std::io::stdout();
    loop {
        let req = client
            .request(Method::GET, &format!("/api/v1/jobs/{id}/logs"))
            .query(&[
                ("stream", stream.to_string()),
                ("offset", offset.to_string()),
            ]);
        let res = client.send(req).await?;
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let next: u64 = header("x-aisc-next-offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(offset);
        let complete = header("x-aisc-log-complete").as_deref() == Some("true");
        let bytes = res.bytes().await?;
        stdout.write_all(&bytes)?;
        stdout.flush()?;
        offset = next;
        if !a.follow || complete {
            return Ok(ExitCode::SUCCESS);
        }
        if bytes.is_empty() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

async fn act(a: IdsArgs, action: &str) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let path = |id| format!("/api/v1/jobs/{id}/{action}");
    each_job(&a.ids, async |id| {
        client.post_json(&path(id), &serde_json::json!({})).await
    })
    .await
}

/// Does `f` to each job named, saying what became of each; fails if any failed.
async fn each_job(
    ids: &[String],
    f: impl AsyncFn(aisc_model::array::JobRef) -> Result<ActionResult>,
) -> Result<ExitCode> {
    let mut failed = false;
    for raw in ids {
        let res = match job_id(raw) {
            Ok(id) => f(id).await,
            Err(e) => Err(e),
        };
        match res {
            Ok(r) => eprintln!("aisc: job {raw}: {}", r.result),
            Err(e) => {
                eprintln!("aisc: error: job {raw}: {e:#}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn cancel(a: IdsArgs) -> Result<ExitCode> {
    act(a, "cancel").await
}

pub async fn release(a: IdsArgs) -> Result<ExitCode> {
    act(a, "release").await
}

pub async fn hold(a: IdsArgs) -> Result<ExitCode> {
    act(a, "hold").await
}

pub async fn requeue(a: IdsArgs) -> Result<ExitCode> {
    act(a, "requeue").await
}

pub async fn update(a: UpdateArgs) -> Result<ExitCode> {
    if a.time.is_none() && a.name.is_none() && a.qos.is_none() {
        bail!("nothing to change: give --time, --name or --qos");
    }
    let client = Client::from_env()?;
    let body = aisc_model::request::JobChanges {
        time: a.time,
        name: a.name,
        qos: a.qos,
    };
    each_job(&a.ids, async |id| {
        client
            .patch_json(&format!("/api/v1/jobs/{id}"), &body)
            .await
    })
    .await
}

pub async fn nodes(a: JsonArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let nodes: Vec<NodeView> = client.get_json("/api/v1/nodes").await?;
    if a.json {
        return print_json(&nodes);
    }
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let model = n
                .gpus
                .first()
                .map(|g| g.name.clone())
                .unwrap_or_else(|| "-".into());
            let fake = if n.gpus.iter().any(|g| g.fake) {
                " (fake)"
            } else {
                ""
            };
            vec![
                n.name.clone(),
                n.engine.clone(),
                format!("{}/{}{fake}", n.gpus_busy, n.gpus.len()),
                model,
                format!("{}/{}", n.cpus_busy, n.cpus),
                format!("{}/{}", mem(n.mem_busy_mb), mem(n.mem_mb)),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "NODE",
                "ENGINE",
                "GPUS BUSY",
                "GPU MODEL",
                "CPUS BUSY",
                "MEM BUSY"
            ],
            &rows
        )
    );
    for n in &nodes {
        eprintln!("{}: {}", n.name, n.gpu_source);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn whoami(a: JsonArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let me: WhoAmI = client.get_json("/api/v1/whoami").await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&me)?);
    } else {
        println!("{} ({})", me.name, me.role);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn login(a: LoginArgs) -> Result<ExitCode> {
    let Some(token_file) = a.token_file else {
        return crate::cmd_identity::password_login(a.user, a.password_stdin, &a.expires).await;
    };
    let raw = if token_file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .context("cannot read the token from standard input")?
    } else {
        std::fs::read_to_string(&token_file)
            .with_context(|| format!("cannot read {}", token_file.display()))?
    };
    let token = raw.trim().to_string();
    if token.is_empty() {
        bail!("the token file is empty");
    }
    let client = Client::new(base_url(), token.clone())?;
    let me: WhoAmI = client.get_json("/api/v1/whoami").await?;
    let path = crate::cmd_identity::store_token(&token)?;
    eprintln!(
        "aisc: logged in as {} ({}); token stored in {} (mode 0600)",
        me.name,
        me.role,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
