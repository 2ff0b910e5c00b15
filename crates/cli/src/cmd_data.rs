//! `aisc data put|get|ls|rm|quota`: a project's files, kept sealed in aisc.
//!
//! `put` sends a file in parts and resumes an upload that was cut off (the
//! upload's id is kept under the config directory until it completes); `get`
//! writes to `FILE.part`, resumes from its length, checks the SHA-256 and then
//! renames it. Both show a progress bar on a terminal.

use crate::client::{Client, config_dir};
use crate::format::{print_json, short_time, table};
use aisc_api::data::{FileList, FileView, UploadView};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCmd,
}

/// `-A PROJECT`, as `aisc submit` spells it.
#[derive(Debug, Args)]
struct ProjectArg {
    /// The project.
    #[arg(
        short = 'A',
        long = "account",
        env = "AISC_ACCOUNT",
        value_name = "PROJECT"
    )]
    project: String,
}

#[derive(Debug, Subcommand)]
enum DataCmd {
    /// Upload a file to a project (resumes an upload of the same file that was cut off).
    Put {
        /// The local file.
        file: PathBuf,
        /// Its path in the project (default: the file's name).
        dest: Option<String>,
        #[command(flatten)]
        at: ProjectArg,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Download a project's file (resumes a download cut off, from FILE.part).
    Get {
        /// Its path in the project.
        path: String,
        /// Where to write it (default: its name, here; `-` for standard output).
        out: Option<PathBuf>,
        #[command(flatten)]
        at: ProjectArg,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// List a project's files.
    Ls {
        /// Only paths starting with this.
        prefix: Option<String>,
        #[command(flatten)]
        at: ProjectArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a project's file.
    Rm {
        /// Its path in the project.
        paths: Vec<String>,
        #[command(flatten)]
        at: ProjectArg,
    },
    /// Set a project's quota for files (centre administrators): a size (500G, 2T) or `default`.
    Quota {
        /// The project.
        project: String,
        /// The quota.
        size: String,
    },
}

/// Percent-encodes a project path for a URL, keeping its `/`.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn bar(len: u64, quiet: bool, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb
}

pub async fn run(a: DataArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        DataCmd::Put {
            file,
            dest,
            at,
            quiet,
        } => put(&client, &file, dest, &at.project, quiet).await,
        DataCmd::Get {
            path,
            out,
            at,
            quiet,
        } => {
            let project = at.project;
            let out = out
                .unwrap_or_else(|| PathBuf::from(path.rsplit('/').next().unwrap_or(path.as_str())));
            get(&client, &project, &path, &out, quiet).await?;
            Ok(ExitCode::SUCCESS)
        }
        DataCmd::Ls { prefix, at, json } => {
            let project = at.project;
            let mut req = client.request(Method::GET, &format!("/api/v1/projects/{project}/data"));
            if let Some(p) = &prefix {
                req = req.query(&[("prefix", p)]);
            }
            let list: FileList = client.send(req).await?.json().await?;
            if json {
                return print_json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .files
                .iter()
                .map(|f| {
                    vec![
                        f.path.clone(),
                        f.size.to_string(),
                        f.owner.clone(),
                        short_time(&f.created_at),
                        f.sha256[..12].to_string(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(&["PATH", "BYTES", "OWNER", "PUT", "SHA256"], &rows)
            );
            eprintln!(
                "aisc: {} files; the project uses {} of {} bytes",
                list.files.len(),
                list.used_bytes,
                list.quota_bytes
            );
            Ok(ExitCode::SUCCESS)
        }
        DataCmd::Rm { paths, at } => {
            let project = at.project;
            if paths.is_empty() {
                bail!("name at least one path to remove");
            }
            for p in paths {
                let url = format!("/api/v1/projects/{project}/data/{}", encode_path(&p));
                client.send(client.request(Method::DELETE, &url)).await?;
                eprintln!("aisc: removed {p} from {project}");
            }
            Ok(ExitCode::SUCCESS)
        }
        DataCmd::Quota { project, size } => {
            let bytes = if size == "default" {
                None
            } else {
                let mb = aisc_model::units::parse_mem_mb(&size)
                    .map_err(|e| anyhow::anyhow!("size: {e}"))?;
                Some((mb as i64).saturating_mul(1 << 20))
            };
            let list: FileList = client
                .put_json(
                    &format!("/api/v1/projects/{project}/quota"),
                    &json!({ "bytes": bytes }),
                )
                .await?;
            eprintln!(
                "aisc: project {project} may keep {} bytes of files ({} used)",
                list.quota_bytes, list.used_bytes
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What is kept between tries of one upload.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    id: i64,
    sha256: String,
    size: u64,
    modified_ns: u128,
}

fn pending_file(project: &str, dest: &str, local: &Path) -> Result<PathBuf> {
    let key = Sha256::new()
        .chain_update(project)
        .chain_update([0])
        .chain_update(dest)
        .chain_update([0])
        .chain_update(local.as_os_str().as_encoded_bytes())
        .finalize();
    Ok(config_dir()?
        .join("uploads")
        .join(format!("{}.json", hex::encode(&key[..16]))))
}

/// Adds everything `r` holds to `h`, a MiB at a time, advancing `pb`.
fn hash_into(mut r: impl Read, h: &mut Sha256, pb: &ProgressBar) -> std::io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        h.update(&buf[..n]);
        pb.inc(n as u64);
    }
}

fn hash_file(path: &Path, quiet: bool) -> Result<String> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let pb = bar(f.metadata()?.len(), quiet, "checksum");
    let mut h = Sha256::new();
    hash_into(f, &mut h, &pb)?;
    pb.finish_and_clear();
    Ok(hex::encode(h.finalize()))
}

async fn put(
    client: &Client,
    file: &Path,
    dest: Option<String>,
    project: &str,
    quiet: bool,
) -> Result<ExitCode> {
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", file.display());
    }
    let dest = match dest {
        Some(d) => d,
        None => file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .context("the file has no name: give its path in the project")?,
    };
    let local = std::fs::canonicalize(file)?;
    let state_path = pending_file(project, &dest, &local)?;
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let size = meta.len();
    // Resume the upload of this same file if one was cut off.
    let earlier: Option<Pending> = std::fs::read(&state_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|p: &Pending| p.size == size && p.modified_ns == modified_ns);
    let mut upload: Option<(UploadView, String)> = None;
    if let Some(p) = earlier
        && let Ok(u) = client
            .get_json::<UploadView>(&format!("/api/v1/uploads/{}", p.id))
            .await
    {
        if !quiet {
            eprintln!("aisc: resuming upload {} at byte {}", u.id, u.offset);
        }
        upload = Some((u, p.sha256));
    }
    let (mut u, sha256) = match upload {
        Some(u) => u,
        None => {
            let sha256 = hash_file(file, quiet)?;
            let u: UploadView = client
                .post_json(
                    &format!("/api/v1/projects/{project}/uploads"),
                    &json!({"path": dest, "size": size, "sha256": sha256}),
                )
                .await?;
            if let Some(dir) = state_path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let keep = Pending {
                id: u.id,
                sha256: sha256.clone(),
                size,
                modified_ns,
            };
            std::fs::write(&state_path, serde_json::to_vec(&keep)?)?;
            (u, sha256)
        }
    };
    let mut f = std::fs::File::open(file)?;
    let pb = bar(size, quiet, &dest);
    pb.set_position(u.offset);
    let mut buf = vec![0u8; u.part_bytes.max(1)];
    while u.offset < size {
        f.seek(std::io::SeekFrom::Start(u.offset))?;
        let want = (size - u.offset).min(buf.len() as u64) as usize;
        f.read_exact(&mut buf[..want])?;
        let req = client
            .request(Method::PUT, &format!("/api/v1/uploads/{}", u.id))
            .query(&[("offset", u.offset)])
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(buf[..want].to_vec());
        u = client
            .send(req)
            .await
            .with_context(|| {
                format!(
                    "upload {} stopped at byte {}; run the same command again to resume",
                    u.id, u.offset
                )
            })?
            .json()
            .await?;
        pb.set_position(u.offset);
    }
    let done: FileView = client
        .post_json(&format!("/api/v1/uploads/{}/complete", u.id), &json!({}))
        .await?;
    pb.finish_and_clear();
    let _ = std::fs::remove_file(&state_path);
    eprintln!(
        "aisc: put {} in {project} ({} bytes, sha256 {})",
        done.path, done.size, sha256
    );
    Ok(ExitCode::SUCCESS)
}

/// Downloads a project's file to `out` (or standard output for `-`), resuming
/// from `out.part`, and checks its SHA-256.
pub async fn get(
    client: &Client,
    project: &str,
    path: &str,
    out: &Path,
    quiet: bool,
) -> Result<()> {
    let url = format!("/api/v1/projects/{project}/data/{}", encode_path(path));
    let to_stdout = out == Path::new("-");
    let part = {
        let mut p = out.as_os_str().to_owned();
        p.push(".part");
        PathBuf::from(p)
    };
    let start = if to_stdout {
        0
    } else {
        std::fs::metadata(&part).map_or(0, |m| m.len())
    };
    let mut req = client.request(Method::GET, &url);
    if start > 0 {
        req = req.header(reqwest::header::RANGE, format!("bytes={start}-"));
    }
    let (mut res, start) = match client.send(req).await {
        Ok(r) => (r, start),
        // A partial file longer than the file now there (it changed): start again.
        Err(_) if start > 0 => {
            std::fs::remove_file(&part)?;
            (client.send(client.request(Method::GET, &url)).await?, 0)
        }
        Err(e) => return Err(e),
    };
    let expected = res
        .headers()
        .get("x-aisc-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .context("the server sent no checksum")?;
    let resumed = res.status() == reqwest::StatusCode::PARTIAL_CONTENT;
    let total = res.content_length().unwrap_or(0) + if resumed { start } else { 0 };
    let mut hash = Sha256::new();
    let mut sink: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout())
    } else {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&part)?;
        if resumed {
            // Hash what is already there.
            hash_into(
                std::fs::File::open(&part)?,
                &mut hash,
                &ProgressBar::hidden(),
            )?;
        } else {
            f.set_len(0)?;
        }
        Box::new(f)
    };
    let pb = bar(total, quiet || to_stdout, path);
    pb.set_position(if resumed { start } else { 0 });
    while let Some(chunk) = res.chunk().await? {
        hash.update(&chunk);
        sink.write_all(&chunk)?;
        pb.inc(chunk.len() as u64);
    }
    sink.flush()?;
    pb.finish_and_clear();
    let got = hex::encode(hash.finalize());
    if got != expected {
        if !to_stdout {
            let _ = std::fs::remove_file(&part);
        }
        bail!("{path}: the bytes received have SHA-256 {got}, not {expected}; removed, try again");
    }
    if !to_stdout {
        std::fs::rename(&part, out)?;
        if !quiet {
            eprintln!("aisc: got {path} into {} (sha256 {got})", out.display());
        }
    }
    Ok(())
}
