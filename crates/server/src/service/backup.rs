//! A backup of the whole centre, taken while it runs (`aisc backup`): a
//! consistent snapshot of the database (`VACUUM INTO`), every file its rows
//! name, the sealed logs, and `backup.json` naming the master key that wraps
//! its data keys. The master key itself, and the admin token file, are never
//! in a backup: `aisc restore` needs the key from where the centre keeps it.

use super::ServiceError;
use crate::AppState;
use crate::auth::Caller;
use crate::policy::{Access, Resource, authorize};
use crate::service::views::rfc3339;
use aisc_api::backup::BackupManifest;
use axum::body::Bytes;
use std::io::Write;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// A backup being written: its pieces as they come, and when it was taken.
#[derive(Debug)]
pub struct Backup {
    /// The tar stream in pieces; an error ends it.
    pub pieces: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    /// When its snapshot was taken, epoch ms.
    pub at_ms: i64,
}

/// Sends what is written in 256 KiB pieces down a channel (the response body).
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 256 << 10 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
}

/// Takes a backup (centre administrators): the snapshot and its audit
/// record now, the tar stream written in the background as it is read.
pub async fn start(state: &AppState, caller: &Caller) -> Result<Backup, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    let now = crate::clock::now_ms();
    let work = state
        .data_dir
        .join(format!("backup-{:016x}", rand::random::<u64>()));
    tokio::fs::create_dir(&work)
        .await
        .map_err(ServiceError::internal)?;
    let db = work.join("aisc.db");
    if let Err(e) = state.store.snapshot(&db).await {
        let _ = tokio::fs::remove_dir_all(&work).await;
        return Err(e.into());
    }
    let objects = aisc_store::backup::snapshot_objects(&db).await?;
    let report = state.store.key_report().await?;
    state
        .store
        .record_audit(caller.audit(
            "backup.create",
            "centre".into(),
            format!("{} files", objects.len()),
        ))
        .await?;
    let (tx, rx) = mpsc::channel(8);
    let data_dir = state.data_dir.to_path_buf();
    let masters: Vec<String> = report.wrapped_by.into_iter().map(|(kid, _)| kid).collect();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let failed = tx.clone();
        let res = write_backup(&handle, &data_dir, &work, &objects, masters, now, tx);
        let _ = std::fs::remove_dir_all(&work);
        if let Err(e) = res {
            tracing::error!(error = %e, "a backup stopped");
            let _ = failed.blocking_send(Err(e));
        }
    });
    Ok(Backup {
        pieces: rx,
        at_ms: now,
    })
}

fn write_backup(
    handle: &tokio::runtime::Handle,
    data_dir: &Path,
    work: &Path,
    objects: &[(i64, i64)],
    master_keys: Vec<String>,
    now: i64,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(ChannelWriter {
        tx,
        buf: Vec::with_capacity(512 << 10),
    });
    tar.mode(tar::HeaderMode::Deterministic);
    // Files first, each held open while it is copied: one removed since the
    // snapshot is left out, and so is its row.
    let mut gone = Vec::new();
    for &(project, id) in objects {
        let path = crate::sealed::object_path(data_dir, aisc_model::ProjectId(project), id);
        match std::fs::File::open(&path) {
            Ok(mut f) => tar.append_file(format!("objects/{project}/{id}"), &mut f)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => gone.push(id),
            Err(e) => return Err(e),
        }
    }
    let db = work.join("aisc.db");
    handle
        .block_on(aisc_store::backup::drop_missing_objects(&db, &gone))
        .map_err(std::io::Error::other)?;
    tar.append_path_with_name(&db, "aisc.db")?;
    let mut logs = 0;
    for dir in std::fs::read_dir(data_dir.join("jobs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for f in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = f.file_name();
            let is_sealed = name.to_str().is_some_and(|n| n.ends_with(".sealed"));
            if !is_sealed {
                continue;
            }
            let inside: PathBuf = Path::new("jobs").join(dir.file_name()).join(&name);
            match std::fs::File::open(f.path()) {
                Ok(mut file) => {
                    tar.append_file(inside, &mut file)?;
                    logs += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    let manifest = BackupManifest {
        version: 1,
        created_at: rfc3339(now),
        master_keys,
        files: objects.len() - gone.len(),
        logs,
        files_gone: gone.len(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, "backup.json", json.as_slice())?;
    let mut out = tar.into_inner()?;
    out.flush()
}
