//! `aisc backup` (online, from a running server) and `aisc restore` (offline,
//! into a new data directory).

use crate::client::Client;
use aisc_api::backup::BackupManifest;
use anyhow::{Context, Result, bail};
use clap::Args;
use reqwest::Method;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup (a tar file; default aisc-backup-TIME.tar here).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup written by `aisc backup`.
    file: PathBuf,
    /// The data directory to restore into: new, or empty. Start `aisc serve --data-dir` on it after.
    #[arg(long, env = "AISC_DATA_DIR", value_name = "DIR")]
    data_dir: PathBuf,
    /// The master key file the backup's data keys need (default: DIR/master.key; or AISC_MASTER_KEY).
    #[arg(long, env = "AISC_MASTER_KEY_FILE", value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// Restore the database into this empty PostgreSQL database (a `postgres://` URL)
    /// instead of `DIR/aisc.db`; the files still go to DIR. Either back end's backup
    /// restores into either.
    #[arg(long, env = "AISC_DATABASE", value_name = "URL", value_parser = parse_postgres)]
    database: Option<String>,
}

fn parse_postgres(s: &str) -> Result<String, String> {
    match aisc_store::Database::parse(s)? {
        aisc_store::Database::Postgres(url) => Ok(url),
        aisc_store::Database::Sqlite(_) => {
            Err("database: restore into a postgres:// URL, or leave it out for DIR/aisc.db".into())
        }
    }
}

/// Downloads a backup of the running centre.
pub async fn backup(a: BackupArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let mut res = client
        .send(client.request(Method::GET, "/api/v1/backup"))
        .await?;
    let out = match a.out {
        Some(p) => p,
        None => {
            let name = res
                .headers()
                .get(reqwest::header::CONTENT_DISPOSITION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split("filename=\"").nth(1))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_else(|| "aisc-backup.tar".into());
            PathBuf::from(name)
        }
    };
    let part = out.with_extension("tar.part");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&part)
        .with_context(|| format!("cannot create {}", part.display()))?;
    let mut bytes = 0u64;
    let copied: Result<()> = async {
        while let Some(chunk) = res.chunk().await? {
            f.write_all(&chunk)?;
            bytes += chunk.len() as u64;
        }
        f.sync_all()?;
        Ok(())
    }
    .await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&part);
        return Err(e.context("the backup stopped before its end; nothing was kept"));
    }
    // A backup that ended early has no manifest: check before keeping it.
    let manifest = read_manifest(&part).inspect_err(|_| {
        let _ = std::fs::remove_file(&part);
    })?;
    std::fs::rename(&part, &out)?;
    eprintln!(
        "aisc: backup of {} written to {} ({bytes} bytes: the database, {} files, {} logs); \
         restoring it needs master key {}",
        manifest.created_at,
        out.display(),
        manifest.files,
        manifest.logs,
        manifest.master_keys.join(" or ")
    );
    Ok(ExitCode::SUCCESS)
}

fn read_manifest(file: &Path) -> Result<BackupManifest> {
    let mut archive = tar::Archive::new(std::fs::File::open(file)?);
    for entry in archive.entries()? {
        let entry = entry?;
        if entry.path()?.as_ref() == Path::new("backup.json") {
            return serde_json::from_reader(entry)
                .context("backup.json is not a backup's manifest");
        }
    }
    bail!(
        "{} is not a whole aisc backup (it has no backup.json)",
        file.display()
    )
}

/// Restores a backup into a new data directory and checks it: the master key
/// unwraps every data key, and the audit chain verifies.
pub async fn restore(a: RestoreArgs) -> Result<ExitCode> {
    let dir = &a.data_dir;
    if dir.join("aisc.db").exists() {
        bail!(
            "{} already holds a database: restore into a new or empty directory",
            dir.display()
        );
    }
    let manifest = read_manifest(&a.file)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let mut archive = tar::Archive::new(std::fs::File::open(&a.file)?);
    archive.set_preserve_permissions(false);
    // `unpack` refuses entries that would land outside the directory.
    archive
        .unpack(dir)
        .with_context(|| format!("cannot unpack {}", a.file.display()))?;
    let _ = std::fs::remove_file(dir.join("backup.json"));
    for sub in ["objects", "jobs"] {
        let p = dir.join(sub);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    let source = match (a.master_key_file, std::env::var("AISC_MASTER_KEY")) {
        (Some(p), _) => aisc_vault::KeySource::File(p),
        (None, Ok(value)) => aisc_vault::KeySource::Variable {
            name: "AISC_MASTER_KEY".into(),
            value,
        },
        (None, Err(_)) => aisc_vault::KeySource::File(dir.join("master.key")),
    };
    let masters = aisc_vault::MasterKeys::load(source.clone(), false).with_context(|| {
        format!(
            "the backup's data keys need master key {}: give its file with --master-key-file",
            manifest.master_keys.join(" or ")
        )
    })?;
    let database = match &a.database {
        Some(url) => {
            let snapshot = dir.join("aisc.db");
            let rows = aisc_store::transfer::import_into_postgres(&snapshot, url)
                .await
                .with_context(|| format!("cannot restore into {}", aisc_store::redact_url(url)))?;
            for f in ["aisc.db", "aisc.db-wal", "aisc.db-shm"] {
                let _ = std::fs::remove_file(dir.join(f));
            }
            eprintln!(
                "aisc: copied {rows} rows into {}",
                aisc_store::redact_url(url)
            );
            aisc_store::Database::Postgres(url.clone())
        }
        None => aisc_store::Database::Sqlite(dir.join("aisc.db")),
    };
    let store = aisc_store::Store::connect(&database, aisc_store::Durability::Full, masters)
        .await
        .context("the restored database does not open with these master keys")?;
    let chain = store.audit_verify().await?;
    store.close().await;
    if let aisc_store::Verification::Broken { error, .. } = &chain {
        bail!("the restored audit trail does not verify: {error}");
    }
    let key_flag = match &source {
        aisc_vault::KeySource::File(p) if !p.starts_with(dir) => {
            format!(" --master-key-file {}", p.display())
        }
        _ => String::new(),
    };
    let db_flag = if a.database.is_some() {
        " --database (the same URL)"
    } else {
        ""
    };
    eprintln!(
        "aisc: restored the backup of {} into {} ({} files, {} logs; the audit chain verifies). \
         Start it with `aisc serve --data-dir {}{key_flag}{db_flag}`",
        manifest.created_at,
        dir.display(),
        manifest.files,
        manifest.logs,
        dir.display(),
    );
    Ok(ExitCode::SUCCESS)
}
