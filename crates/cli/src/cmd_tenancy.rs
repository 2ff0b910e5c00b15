//! `aisc org ...`, `aisc project ...`, `aisc member ...`.

use crate::client::Client;
use crate::format::{print_json, short_time, table};
use aisc_api::jobs::ActionResult;
use aisc_api::tenancy::{OrgView, ProjectDetail, ProjectView};
use anyhow::Result;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct OrgArgs {
    #[command(subcommand)]
    command: OrgCmd,
}

#[derive(Debug, Subcommand)]
enum OrgCmd {
    /// Create an organisation (centre administrators).
    Create {
        /// Name (a-z, 0-9, '.', '_', '-').
        name: String,
        /// university, research-institute, enterprise, start-up, government, school or sme.
        #[arg(long)]
        kind: String,
    },
    /// List the organisations you can see.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a user an administrator of an organisation (centre administrators).
    AdminAdd {
        /// Organisation.
        org: String,
        /// User.
        user: String,
    },
}

#[derive(Debug, Args)]
pub struct ProjectArgs {
    #[command(subcommand)]
    command: ProjectCmd,
}

#[derive(Debug, Subcommand)]
enum ProjectCmd {
    /// Create a project in an organisation, with its principal investigator.
    Create {
        /// Name: what jobs name with -A.
        name: String,
        /// Organisation.
        #[arg(long)]
        org: String,
        /// Principal investigator (a user name).
        #[arg(long)]
        pi: String,
        /// Title.
        #[arg(long)]
        title: Option<String>,
    },
    /// List the projects you can see.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a project and its members.
    Show {
        /// Project.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export everything the project holds in aisc into a directory: project.json (members,
    /// applications, grants, jobs with their events and costs, audit events), files/ and logs/.
    Export {
        /// Project.
        name: String,
        /// The directory to write (default: ./NAME-export; must be new or empty).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Close a project: no new jobs, grants or files; its data key is destroyed, and with it its
    /// files, logs and job scripts (crypto-shredding). Irreversible: export first.
    Close {
        /// Project.
        name: String,
        /// The project's name again.
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
    /// Close a project and remove the personal data in its records (job names, members,
    /// application texts); charges and the audit trail stay. Centre administrators.
    Erase {
        /// Project.
        name: String,
        /// The project's name again.
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct MemberArgs {
    #[command(subcommand)]
    command: MemberCmd,
}

#[derive(Debug, Subcommand)]
enum MemberCmd {
    /// Add someone to a project (or change their role).
    Add {
        /// Project.
        project: String,
        /// User.
        user: String,
        /// member or pi.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Remove someone from a project.
    Remove {
        /// Project.
        project: String,
        /// User.
        user: String,
    },
    /// List a project's members.
    List {
        /// Project.
        project: String,
    },
}

pub async fn org(a: OrgArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        OrgCmd::Create { name, kind } => {
            let o: OrgView = client
                .post_json("/api/v1/orgs", &json!({"name": name, "kind": kind}))
                .await?;
            eprintln!("aisc: created organisation {} ({})", o.name, o.kind);
        }
        OrgCmd::List { json } => {
            let orgs: Vec<OrgView> = client.get_json("/api/v1/orgs").await?;
            if json {
                return print_json(&orgs);
            }
            let rows: Vec<Vec<String>> = orgs
                .iter()
                .map(|o| vec![o.name.clone(), o.kind.clone(), short_time(&o.created_at)])
                .collect();
            print!("{}", table(&["NAME", "KIND", "CREATED"], &rows));
        }
        OrgCmd::AdminAdd { org, user } => {
            let r: ActionResult = client
                .post_json(
                    &format!("/api/v1/orgs/{org}/admins"),
                    &json!({"user": user}),
                )
                .await?;
            eprintln!("aisc: {}", r.result);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn project(a: ProjectArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        ProjectCmd::Create {
            name,
            org,
            pi,
            title,
        } => {
            let p: ProjectView = client
                .post_json(
                    "/api/v1/projects",
                    &json!({"name": name, "org": org, "pi": pi, "title": title}),
                )
                .await?;
            eprintln!("aisc: created project {} in {}", p.name, p.org);
        }
        ProjectCmd::List { json } => {
            let projects: Vec<ProjectView> = client.get_json("/api/v1/projects").await?;
            if json {
                return print_json(&projects);
            }
            let rows: Vec<Vec<String>> = projects
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        p.org.clone(),
                        p.title.clone(),
                        short_time(&p.created_at),
                    ]
                })
                .collect();
            print!("{}", table(&["NAME", "ORG", "TITLE", "CREATED"], &rows));
        }
        ProjectCmd::Show { name, json } => {
            let p: ProjectDetail = client.get_json(&format!("/api/v1/projects/{name}")).await?;
            if json {
                return print_json(&p);
            }
            println!(
                "{} ({}), organisation {}",
                p.project.name, p.project.title, p.project.org
            );
            let rows: Vec<Vec<String>> = p
                .members
                .iter()
                .map(|m| vec![m.user.clone(), m.role.clone()])
                .collect();
            print!("{}", table(&["MEMBER", "ROLE"], &rows));
        }
        ProjectCmd::Export { name, out } => {
            return crate::cmd_privacy::export(&client, &name, out).await;
        }
        ProjectCmd::Close { name, confirm } => {
            return crate::cmd_privacy::close(&client, &name, confirm, false).await;
        }
        ProjectCmd::Erase { name, confirm } => {
            return crate::cmd_privacy::close(&client, &name, confirm, true).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn member(a: MemberArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        MemberCmd::Add {
            project,
            user,
            role,
        } => {
            let req = client
                .request(
                    Method::PUT,
                    &format!("/api/v1/projects/{project}/members/{user}"),
                )
                .json(&json!({"role": role}));
            let r: ActionResult = client.send(req).await?.json().await?;
            eprintln!("aisc: {}", r.result);
        }
        MemberCmd::Remove { project, user } => {
            let req = client.request(
                Method::DELETE,
                &format!("/api/v1/projects/{project}/members/{user}"),
            );
            let r: ActionResult = client.send(req).await?.json().await?;
            eprintln!("aisc: {}", r.result);
        }
        MemberCmd::List { project } => {
            let p: ProjectDetail = client
                .get_json(&format!("/api/v1/projects/{project}"))
                .await?;
            let rows: Vec<Vec<String>> = p
                .members
                .iter()
                .map(|m| vec![m.user.clone(), m.role.clone()])
                .collect();
            print!("{}", table(&["MEMBER", "ROLE"], &rows));
        }
    }
    Ok(ExitCode::SUCCESS)
}
