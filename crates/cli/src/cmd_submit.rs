//! `aisc submit`: flags as `sbatch` spells them; a script's `#SBATCH` lines are
//! read by the server, and flags given here override them.

use crate::client::Client;
use aisc_model::JobRequest;
use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// What the job asks for, as `sbatch` spells it.
    #[command(flatten)]
    pub job: JobFlags,
    /// Wait for the job to end and exit with its status (0 when it completed).
    #[arg(short = 'W', long)]
    wait: bool,
    /// Print only the job's id (what aisc submit prints anyway).
    #[arg(long)]
    parsable: bool,
    /// Print the server's answer as JSON instead of the bare id.
    #[arg(long)]
    json: bool,
    /// A batch script to run (its #SBATCH lines are honoured).
    #[arg(value_name = "SCRIPT", conflicts_with = "command")]
    script: Option<PathBuf>,
    /// Arguments for the script ($1, $2, ...), after its name.
    #[arg(value_name = "ARG", requires = "script", allow_hyphen_values = true)]
    script_args: Vec<String>,
    /// The command to run, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// The flags every way of starting a job shares (`aisc submit`, `aisc run`,
/// `aisc alloc`), as `sbatch`, `srun` and `salloc` spell them.
#[derive(Debug, Args)]
pub struct JobFlags {
    /// Job name.
    #[arg(short = 'J', long = "job-name", visible_alias = "name")]
    name: Option<String>,
    /// Project to charge.
    #[arg(short = 'A', long)]
    account: Option<String>,
    /// Grant to charge (default: the project's first active grant).
    #[arg(long)]
    grant: Option<i64>,
    /// Time limit: minutes, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or 30s/10m/2h/1d.
    #[arg(short = 't', long)]
    time: Option<String>,
    /// CPU cores.
    #[arg(short = 'c', long = "cpus", visible_alias = "cpus-per-task")]
    cpus: Option<String>,
    /// Memory, e.g. 4G or 512M.
    #[arg(long)]
    mem: Option<String>,
    /// GPUs: N or TYPE:N.
    #[arg(short = 'G', long)]
    gpus: Option<String>,
    /// GPUs as a generic resource: gpu[:TYPE]:N.
    #[arg(long)]
    gres: Option<String>,
    /// Standard output file (%j = job id, %x = name, %u = user).
    #[arg(short = 'o', long)]
    output: Option<String>,
    /// Standard error file (merged into the output when absent).
    #[arg(short = 'e', long)]
    error: Option<String>,
    /// Working directory (default: the current directory).
    #[arg(short = 'D', long)]
    chdir: Option<PathBuf>,
    /// Keep the job pending until `aisc release`.
    #[arg(short = 'H', long)]
    hold: bool,
    /// Quality of service: normal (default), high (if the grant allows it), or scavenger (idle GPUs only, discounted, preemptible).
    #[arg(short = 'q', long, value_name = "QOS")]
    qos: Option<String>,
    /// Whole nodes, shared with no other job: all of each node's GPUs, CPUs and memory (and charged for them).
    #[arg(long)]
    exclusive: bool,
    /// If preempted, end as `preempted` instead of being queued again.
    #[arg(long, conflicts_with = "requeue")]
    no_requeue: bool,
    /// If preempted, be queued again (the default; overrides `#SBATCH --no-requeue`).
    #[arg(long)]
    requeue: bool,
    /// Environment to pass: ALL (default), NONE, or a comma-separated list of names and NAME=value pairs.
    #[arg(long)]
    export: Option<String>,
    /// Print no warnings.
    #[arg(short = 'Q', long)]
    pub quiet: bool,
    /// `sbatch` options, read as the script's `#SBATCH` lines are (and over them).
    #[command(flatten)]
    sbatch: crate::submit_options::SbatchArgs,
}

#[derive(Debug, Deserialize, serde::Serialize)]
struct Submitted {
    id: i64,
    state: String,
    reason: String,
    warnings: Vec<String>,
}

pub async fn run(a: SubmitArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let req = build_request(&a.job, a.script.as_deref(), &a.script_args, &a.command)?;
    let submitted: Submitted = client.post_json("/api/v1/jobs", &req).await?;
    let directives = req
        .script
        .as_deref()
        .and_then(|s| aisc_model::sbatch::parse_script(s).ok())
        .unwrap_or_default();
    if !(a.job.quiet || directives.quiet) {
        for w in &submitted.warnings {
            eprintln!("aisc: warning: {w}");
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&submitted)?);
    } else {
        println!("{}", submitted.id);
    }
    if a.wait || directives.wait {
        return wait_for(&client, submitted.id).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// The request these flags, and a script or a command, make.
pub fn build_request(
    f: &JobFlags,
    script_path: Option<&std::path::Path>,
    script_args: &[String],
    command: &[String],
) -> Result<JobRequest> {
    let (script, script_name) = match script_path {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "cannot read the script {} (to run a command instead, put it after --)",
                    path.display()
                )
            })?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            (Some(text), name)
        }
        None => (None, None),
    };
    if script.is_none() && command.is_empty() && f.sbatch.wrap.is_none() {
        bail!(
            "nothing to run: give a script, --wrap \"CMD\", or a command after -- (e.g. aisc submit -- python3 train.py)"
        );
    }
    let cpus = f
        .cpus
        .as_deref()
        .map(|c| {
            c.trim()
                .parse::<u32>()
                .with_context(|| format!("cpus: {c:?} is not a whole number of CPUs"))
        })
        .transpose()?;
    let gpus = match (&f.gpus, &f.gres) {
        (Some(_), Some(_)) => bail!("give --gpus or --gres, not both"),
        (Some(g), None) => Some(g.clone()),
        (None, Some(gres)) => gres_to_gpus(gres)?,
        (None, None) => None,
    };
    // As with sbatch: --chdir, else the script's own -D, else the current directory.
    let directives = script
        .as_deref()
        .and_then(|s| aisc_model::sbatch::parse_script(s).ok())
        .unwrap_or_default();
    let script_chdir = directives.chdir.clone();
    // The environment sent: --export, else the script's, else all of it (the
    // server applies the same choice again).
    let mut options = f.sbatch.words();
    if f.exclusive {
        options.push("--exclusive".into());
    }
    let env = match &f.export {
        Some(e) => {
            options.push(format!("--export={e}"));
            exported_env(e)?
        }
        None => match &directives.export {
            Some(e) => e.apply(&exported_env("ALL")?),
            None => exported_env("ALL")?,
        },
    };
    let chdir = match &f.chdir {
        Some(d) => Some(std::env::current_dir()?.join(d)),
        None if script_chdir.is_some() => None,
        None => Some(std::env::current_dir()?),
    };
    Ok(JobRequest {
        name: f.name.clone(),
        account: f.account.clone(),
        grant: f.grant,
        time: f.time.clone(),
        cpus,
        mem: f.mem.clone(),
        gpus,
        output: f.output.clone(),
        error: f.error.clone(),
        chdir: chdir.map(|d| d.display().to_string()),
        hold: f.hold,
        qos: f.qos.clone(),
        requeue: if f.no_requeue {
            Some(false)
        } else if f.requeue {
            Some(true)
        } else {
            None
        },
        command: command.to_vec(),
        script,
        script_name,
        env,
        options,
        args: script_args.to_vec(),
        interactive: None,
    })
}

fn gres_to_gpus(gres: &str) -> Result<Option<String>> {
    let mut gpus = None;
    for item in gres.split(',') {
        match aisc_model::sbatch::parse_gres_item(item).map_err(anyhow::Error::msg)? {
            Some((Some(ty), n)) => gpus = Some(format!("{ty}:{n}")),
            Some((None, n)) => gpus = Some(n.to_string()),
            None => bail!(
                "--gres={gres}: {item:?} is not a GPU; this centre allocates GPUs, CPUs and memory only"
            ),
        }
    }
    Ok(gpus)
}

/// The environment to send, as `sbatch --export` chooses it. The aisc token never travels.
fn exported_env(export: &str) -> Result<BTreeMap<String, String>> {
    let choice = aisc_model::sbatch::Export::parse(export).map_err(anyhow::Error::msg)?;
    let valid = |k: &str| {
        !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && k != "AISC_TOKEN"
    };
    let all: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| valid(k)).collect();
    Ok(choice.apply(&all))
}

#[derive(Debug, Deserialize)]
struct JobState {
    state: String,
    reason: String,
    exit_code: Option<i32>,
}

pub(crate) async fn wait_for(client: &Client, id: i64) -> Result<ExitCode> {
    loop {
        let job: JobState = client.get_json(&format!("/api/v1/jobs/{id}")).await?;
        match job.state.as_str() {
            "pending" | "admitted" | "running" => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            "completed" => return Ok(ExitCode::SUCCESS),
            other => {
                eprintln!("aisc: job {id} {other}: {}", job.reason);
                let code = job
                    .exit_code
                    .and_then(|c| u8::try_from(c).ok())
                    .filter(|c| *c != 0)
                    .unwrap_or(1);
                return Ok(ExitCode::from(code));
            }
        }
    }
}
