//! `aisc`: the command line of the centre. `aisc serve` runs the server; every
//! other command talks to it over HTTP (`AISC_URL`, default
//! http://127.0.0.1:8080) with a bearer token (`AISC_TOKEN`, or the file that
//! `aisc login` writes).

mod agent;
mod client;
mod cmd_audit;
mod cmd_backup;
mod cmd_data;
mod cmd_grants;
mod cmd_identity;
mod cmd_interactive;
mod cmd_inventory;
mod cmd_jobs;
mod cmd_node;
mod cmd_privacy;
mod cmd_queue;
mod cmd_schemes;
mod cmd_serve;
mod cmd_sim;
mod cmd_slurm;
mod cmd_submit;
mod cmd_tenancy;
mod format;
mod policy_args;
mod submit_options;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "aisc",
    version,
    about = "Run and use an AI supercomputing centre",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start the centre: embedded database; jobs on this machine (local engine) or on Slurm (--engine slurm).
    Serve(Box<cmd_serve::ServeArgs>),
    /// Submit a job: `aisc submit [options] -- COMMAND...` or `aisc submit [options] SCRIPT`.
    Submit(Box<cmd_submit::SubmitArgs>),
    /// Run a command as an interactive job, its terminal this one: `aisc run [options] --pty bash`
    /// (as srun); `--jobid ID` runs it in an allocation of yours instead.
    Run(Box<cmd_interactive::RunArgs>),
    /// Hold an allocation with a shell in it (as salloc); `aisc run --jobid ID -- CMD` runs commands in it.
    Alloc(Box<cmd_interactive::AllocArgs>),
    /// Go back to an interactive job's terminal (Ctrl-] detaches from it).
    Attach(cmd_interactive::AttachArgs),
    /// List jobs, newest first.
    Jobs(cmd_jobs::JobsArgs),
    /// Pending jobs in the scheduler's order; `--explain ID`: why one waits.
    Queue(cmd_queue::QueueArgs),
    /// Show one job: spec, state history with reasons, placement, exit code, usage.
    Show(cmd_jobs::ShowArgs),
    /// Print a job's output.
    Logs(cmd_jobs::LogsArgs),
    /// Cancel jobs.
    Cancel(cmd_jobs::IdsArgs),
    /// Release held jobs.
    Release(cmd_jobs::IdsArgs),
    /// Hold pending jobs until released.
    Hold(cmd_jobs::IdsArgs),
    /// Requeue running jobs (as scontrol requeue): each run is stopped and
    /// settled on its own, and the job waits again with the same id.
    Requeue(cmd_jobs::IdsArgs),
    /// Change waiting jobs: a lower time limit (administrators may raise it), a name, a QOS.
    Update(cmd_jobs::UpdateArgs),
    /// Show the nodes and their GPUs.
    Nodes(cmd_jobs::JsonArgs),
    /// Nodes the scheduler places jobs on: list, drain, resume.
    Node(cmd_node::NodeArgs),
    /// Show who the current token belongs to.
    Whoami(cmd_jobs::JsonArgs),
    /// Read the audit trail and verify its hash chain (administrators).
    Audit(cmd_audit::AuditArgs),
    /// Log in (password prompt, --password-stdin, or --token-file) and store the token (mode 0600).
    Login(cmd_jobs::LoginArgs),
    /// Manage users (administrators).
    User(cmd_identity::UserArgs),
    /// Create, list and revoke your API tokens.
    Token(cmd_identity::TokenArgs),
    /// Organisations: create, list, add administrators.
    Org(cmd_tenancy::OrgArgs),
    /// Projects: create, list, show; export, close and erase a project's data.
    Project(cmd_tenancy::ProjectArgs),
    /// A project's files, kept encrypted in aisc: put, get, ls, rm, quota.
    Data(cmd_data::DataArgs),
    /// The master keys that protect tenants' data: list, rotate, retire (administrators).
    Keys(cmd_privacy::KeysArgs),
    /// Download a consistent backup of the running centre: database, files, logs (administrators).
    Backup(cmd_backup::BackupArgs),
    /// Restore a backup into a new data directory, offline, and check it.
    Restore(cmd_backup::RestoreArgs),
    /// Project members: add, remove, list.
    Member(cmd_tenancy::MemberArgs),
    /// Resource classes and the node inventory.
    Class(cmd_inventory::ClassArgs),
    /// List prices per GPU-hour, versioned by date.
    Price(cmd_inventory::PriceArgs),
    /// The centre's peak capacity, derived from the inventory.
    Capacity,
    /// Funding schemes and their pools.
    Scheme(cmd_schemes::SchemeArgs),
    /// Apply to a scheme for GPU-hours (a project's PI).
    Apply(cmd_grants::ApplyArgs),
    /// Applications: list, show.
    Application(cmd_grants::ApplicationArgs),
    /// Score an application (reviewers).
    Review(cmd_grants::ReviewArgs),
    /// Approve or reject an application (the committee: centre administrators).
    Decide(cmd_grants::DecideArgs),
    /// Grants with their amount, used, held and remaining.
    Grants(cmd_grants::GrantsArgs),
    /// A project's monthly statement: every charge, its subsidy and the project's share.
    Statement(cmd_grants::StatementArgs),
    /// Replay a cluster trace through the production scheduler and billing (offline; no server).
    Sim(Box<cmd_sim::SimArgs>),
    /// The Slurm engine: keep Slurm's accounts in step with grants (`sync`, `sync --dry-run`).
    Slurm(cmd_slurm::SlurmArgs),
}

fn main() -> ExitCode {
    // The job launcher the local engine starts (see aisc_engine::confine): no runtime, no config.
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new("__launch")) {
        aisc_engine::confine::launcher::main();
    }
    // An interactive job's agent (see `agent`): no config, a runtime of its own.
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new("__pty-agent")) {
        let args: Vec<String> = std::env::args().skip(2).collect();
        return agent::main(&args);
    }
    let args = match cmd_serve::with_config_file(std::env::args().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("aisc: error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(args);
    // The simulator is CPU-bound and needs no async runtime.
    let command = match cli.command {
        Cmd::Sim(a) => return report(cmd_sim::run(*a)),
        other => other,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aisc: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Cmd::Serve(a) => cmd_serve::run(*a).await,
            Cmd::Submit(a) => cmd_submit::run(*a).await,
            Cmd::Run(a) => cmd_interactive::run(*a).await,
            Cmd::Alloc(a) => cmd_interactive::alloc(*a).await,
            Cmd::Attach(a) => cmd_interactive::attach(a).await,
            Cmd::Jobs(a) => cmd_jobs::jobs(a).await,
            Cmd::Show(a) => cmd_jobs::show(a).await,
            Cmd::Logs(a) => cmd_jobs::logs(a).await,
            Cmd::Cancel(a) => cmd_jobs::cancel(a).await,
            Cmd::Release(a) => cmd_jobs::release(a).await,
            Cmd::Hold(a) => cmd_jobs::hold(a).await,
            Cmd::Requeue(a) => cmd_jobs::requeue(a).await,
            Cmd::Update(a) => cmd_jobs::update(a).await,
            Cmd::Nodes(a) => cmd_jobs::nodes(a).await,
            Cmd::Node(a) => cmd_node::run(a).await,
            Cmd::Whoami(a) => cmd_jobs::whoami(a).await,
            Cmd::Login(a) => cmd_jobs::login(a).await,
            Cmd::Audit(a) => cmd_audit::run(a).await,
            Cmd::User(a) => cmd_identity::user(a).await,
            Cmd::Token(a) => cmd_identity::token(a).await,
            Cmd::Org(a) => cmd_tenancy::org(a).await,
            Cmd::Project(a) => cmd_tenancy::project(a).await,
            Cmd::Data(a) => cmd_data::run(a).await,
            Cmd::Keys(a) => cmd_privacy::keys(a).await,
            Cmd::Backup(a) => cmd_backup::backup(a).await,
            Cmd::Restore(a) => cmd_backup::restore(a).await,
            Cmd::Member(a) => cmd_tenancy::member(a).await,
            Cmd::Class(a) => cmd_inventory::class(a).await,
            Cmd::Price(a) => cmd_inventory::price(a).await,
            Cmd::Capacity => cmd_inventory::capacity().await,
            Cmd::Scheme(a) => cmd_schemes::run(a).await,
            Cmd::Apply(a) => cmd_grants::apply(a).await,
            Cmd::Application(a) => cmd_grants::application(a).await,
            Cmd::Review(a) => cmd_grants::review(a).await,
            Cmd::Decide(a) => cmd_grants::decide(a).await,
            Cmd::Grants(a) => cmd_grants::grants(a).await,
            Cmd::Queue(a) => cmd_queue::run(a).await,
            Cmd::Slurm(a) => cmd_slurm::run(a).await,
            Cmd::Statement(a) => cmd_grants::statement(a).await,
            Cmd::Sim(a) => cmd_sim::run(*a),
        }
    });
    report(result)
}

fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("aisc: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
