//! `aisc keys list|rotate|retire` and `aisc project export|close|erase`.

use crate::client::Client;
use crate::format::{print_json, table};
use aisc_api::keys::KeysView;
use aisc_api::privacy::{ClosedView, ProjectExport};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCmd,
}

#[derive(Debug, Subcommand)]
enum KeysCmd {
    /// The master keys loaded, and how many data keys each wraps (administrators, auditors).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a new master key current and re-wrap every data key under it, without downtime.
    Rotate {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an old master key that wraps nothing any more from the key file.
    Retire {
        /// Its id (from `aisc keys list`).
        kid: String,
    },
}

fn print_keys(k: &KeysView) {
    let rows: Vec<Vec<String>> = k
        .masters
        .iter()
        .map(|m| {
            vec![
                m.kid.clone(),
                if m.current { "current" } else { "old" }.into(),
                m.data_keys.to_string(),
            ]
        })
        .collect();
    print!("{}", table(&["MASTER KEY", "STATE", "DATA KEYS"], &rows));
    eprintln!(
        "aisc: master keys from {}; {} data keys destroyed",
        k.source, k.destroyed_data_keys
    );
}

pub async fn keys(a: KeysArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        KeysCmd::List { json } => {
            let k: KeysView = client.get_json("/api/v1/keys").await?;
            if json {
                return print_json(&k);
            }
            print_keys(&k);
        }
        KeysCmd::Rotate { json } => {
            let k: KeysView = client.post_json("/api/v1/keys/rotate", &json!({})).await?;
            if json {
                return print_json(&k);
            }
            print_keys(&k);
            let current = k.masters.first().map_or("", |m| m.kid.as_str());
            eprintln!(
                "aisc: {} data keys re-wrapped under master key {current}",
                k.rewrapped.unwrap_or(0)
            );
            if k.masters.len() > 1 {
                eprintln!(
                    "aisc: once backups made before now have expired, retire the old keys with `aisc keys retire KID`"
                );
            }
        }
        KeysCmd::Retire { kid } => {
            let k: KeysView = client
                .post_json("/api/v1/keys/retire", &json!({ "kid": kid }))
                .await?;
            print_keys(&k);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a project's export into `dir`: `project.json`, its files under
/// `files/`, and each job's logs under `logs/<job>/`.
pub async fn export(client: &Client, project: &str, dir: Option<PathBuf>) -> Result<ExitCode> {
    let dir = dir.unwrap_or_else(|| PathBuf::from(format!("{project}-export")));
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "{} exists and is not empty: give another --out",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir)?;
    let export: ProjectExport = client
        .get_json(&format!("/api/v1/projects/{project}/export"))
        .await?;
    std::fs::write(
        dir.join("project.json"),
        serde_json::to_vec_pretty(&export)?,
    )?;
    for f in &export.files {
        let out = safe_join(&dir.join("files"), &f.path)?;
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        crate::cmd_data::get(client, project, &f.path, &out, true).await?;
    }
    let mut logs = 0;
    for j in &export.jobs {
        // A job whose spec is gone had its logs destroyed with it (a closed project).
        if j.command.is_none() && j.script.is_none() {
            continue;
        }
        let streams: &[&str] = if j.error_path.is_some() && j.error_path != j.output_path {
            &["output", "error"]
        } else {
            &["output"]
        };
        for stream in streams.iter().copied() {
            let bytes = job_log(client, j.job.id, stream).await?;
            if !bytes.is_empty() {
                let d = dir.join("logs").join(j.job.id.to_string());
                std::fs::create_dir_all(&d)?;
                std::fs::File::create(d.join(format!("{stream}.log")))?.write_all(&bytes)?;
                logs += 1;
            }
        }
    }
    eprintln!(
        "aisc: exported project {project} into {}: {} jobs, {} logs, {} files, {} applications, {} grants, {} audit events",
        dir.display(),
        export.jobs.len(),
        logs,
        export.files.len(),
        export.applications.len(),
        export.grants.len(),
        export.audit.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `base/path`, refusing a path that would leave `base`.
fn safe_join(base: &Path, path: &str) -> Result<PathBuf> {
    let mut out = base.to_path_buf();
    for seg in path.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            bail!(
                "the server named a file {path:?}, which would leave {}",
                base.display()
            );
        }
        out.push(seg);
    }
    Ok(out)
}

/// A job's whole log (empty if it has none).
async fn job_log(client: &Client, id: i64, stream: &str) -> Result<Vec<u8>> {
    let mut all = Vec::new();
    loop {
        let req = client
            .request(Method::GET, &format!("/api/v1/jobs/{id}/logs"))
            .query(&[
                ("stream", stream.to_string()),
                ("offset", all.len().to_string()),
            ]);
        let res = client.send(req).await?;
        let next: usize = res
            .headers()
            .get("x-aisc-next-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .context("the server sent no offset")?;
        let bytes = res.bytes().await?;
        if bytes.is_empty() || next <= all.len() {
            return Ok(all);
        }
        all.extend_from_slice(&bytes);
    }
}

/// `aisc project close` and `aisc project erase`.
pub async fn close(
    client: &Client,
    project: &str,
    confirm: Option<String>,
    erase: bool,
) -> Result<ExitCode> {
    let verb = if erase { "erase" } else { "close" };
    let Some(confirm) = confirm else {
        bail!(
            "{verb} destroys project {project}'s files, logs and job scripts for good: export it first (`aisc project export {project}`), then run `aisc project {verb} {project} --confirm {project}`"
        );
    };
    let v: ClosedView = client
        .post_json(
            &format!("/api/v1/projects/{project}/{verb}"),
            &json!({ "confirm": confirm }),
        )
        .await?;
    eprintln!(
        "aisc: project {} {}: its data key is destroyed; {} jobs' logs removed{}",
        v.project,
        if erase { "erased" } else { "closed" },
        v.job_logs_removed,
        if erase {
            "; names, members and texts removed from its records"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}
