//! Sealed files on disk: projects' files (`<data dir>/objects/<project>/<id>`)
//! and the logs of ended jobs (`<job dir>/output.log.sealed`), each sealed with
//! its project's data key (see `aisc_vault::stream`).
//!
//! A running job writes its log in clear in its job directory (mode 0700),
//! since its processes need a plain file. When it ends, the log is sealed, the
//! clear copy removed, and so is the script file the engine ran (the spec
//! keeps it, sealed). Logs a job was told to write elsewhere (`--output`) are
//! the job's own files and are left where they are.

use crate::service::ServiceError;
use aisc_model::{JobId, ProjectId};
use aisc_store::{JobRow, Store};
use aisc_vault::stream::{self, Header};
use std::fs;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

/// Where a project's file (or upload) `id` is kept.
pub fn object_path(data_dir: &Path, project: ProjectId, id: i64) -> PathBuf {
    data_dir
        .join("objects")
        .join(project.0.to_string())
        .join(id.to_string())
}

/// What a project file's chunks are bound to.
pub fn object_context(id: i64) -> Vec<u8> {
    format!("data:{id}").into_bytes()
}

fn log_context(job: JobId, path: &Path) -> Vec<u8> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    format!("log:{job}:{}", name.unwrap_or_default()).into_bytes()
}

/// Where the sealed copy of the log at `path` is kept.
pub fn sealed_log(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".sealed");
    PathBuf::from(p)
}

/// Seals an ended job's logs that lie in its job directory and removes the
/// clear copies and its script file. A log already sealed is left as it is.
pub async fn seal_job_logs(store: &Store, job: &JobRow, job_dir: &Path) -> Result<(), String> {
    let logs: Vec<PathBuf> = [&job.stdout_path, &job.stderr_path]
        .into_iter()
        .flatten()
        .map(PathBuf::from)
        .filter(|p| p.starts_with(job_dir))
        .collect();
    let (key_id, key) = store
        .key_for(job.project, crate::clock::now_ms())
        .await
        .map_err(|e| e.to_string())?;
    let id = job.id;
    let dir = job_dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        for path in logs {
            if path.exists() {
                seal_file(
                    &path,
                    &sealed_log(&path),
                    &key,
                    key_id,
                    &log_context(id, &path),
                )
                .map_err(|e| format!("{}: {e}", path.display()))?;
                fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        match fs::remove_file(dir.join("script")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
            _ => Ok(()),
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Seals `src` into `dst` (written beside it first, synced, then renamed).
fn seal_file(
    src: &Path,
    dst: &Path,
    key: &aisc_vault::DataKey,
    key_id: i64,
    context: &[u8],
) -> Result<(), aisc_vault::VaultError> {
    // Unique: the start-up sweep and the end of a job may seal the same log at once.
    let tmp = dst.with_extension(format!("sealing-{:016x}", rand::random::<u64>()));
    let mut input = fs::File::open(src)?;
    let out = fs::File::create(&tmp)?;
    let mut w = stream::SealWriter::new(std::io::BufWriter::new(out), key, key_id, context)?;
    let mut buf = vec![0u8; stream::CHUNK];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        w.write(&buf[..n])?;
    }
    let (out, _) = w.finish()?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    fs::rename(&tmp, dst)?;
    Ok(())
}

/// Reads up to `limit` bytes from `offset` of a job's log: the sealed copy once
/// there is one, else the clear file the job is writing. Returns the bytes and
/// the log's length.
///
/// Only what the job itself wrote is served, never a path re-opened by name
/// with the server's privileges: a log in the job's own directory (the
/// captured stream, sealed once the job ended), or the file the launcher
/// opened as the job's user, checked to be that very file (device, inode and
/// owner, reached without symlinks). A file a user chose that is not on
/// record (the job never started) reads as empty. A file system that does
/// not answer within [`LOG_DEADLINE`] gets a 503, and the caller's request
/// is the only thing that waits.
pub async fn read_log(
    store: &Store,
    job: JobId,
    job_dir: &Path,
    stream: &str,
    path: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<u8>, u64), ServiceError> {
    let name = PathBuf::from(path)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_default();
    let store = store.clone();
    let job_dir = job_dir.to_path_buf();
    let stream = stream.to_string();
    let read = tokio::task::spawn_blocking(move || {
        let recorded = aisc_engine::confine::files::recorded(&job_dir);
        if let Some(opened) = recorded.iter().find(|o| o.stream == stream) {
            let file = aisc_engine::confine::files::open_recorded(opened)
                .map_err(|e| ServiceError::Conflict(format!("job {job}'s {stream} file: {e}")))?;
            return read_from(file, offset, limit).map_err(ServiceError::internal);
        }
        // Otherwise it is the job's captured log, in its directory here (after a
        // restore, the directory named in the row may be another server's).
        let path = job_dir.join(&name);
        let sealed = sealed_log(&path);
        let context = log_context(job, &path);
        match read_sealed(&store, &sealed, &context, offset, limit) {
            Err(ReadError::Missing) => {}
            other => return other.map_err(ServiceError::from),
        }
        read_clear(&path, offset, limit).map_err(ServiceError::internal)
    });
    match tokio::time::timeout(LOG_DEADLINE, read).await {
        Ok(r) => r.map_err(ServiceError::internal)?,
        Err(_) => Err(ServiceError::Unavailable(format!(
            "job {job}'s log could not be read within {} s",
            LOG_DEADLINE.as_secs()
        ))),
    }
}

/// How long reading a job's log may take before the request gives up.
pub const LOG_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

fn read_clear(path: &Path, offset: u64, limit: u64) -> std::io::Result<(Vec<u8>, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    read_from(file, offset, limit)
}

fn read_from(mut file: fs::File, offset: u64, limit: u64) -> std::io::Result<(Vec<u8>, u64)> {
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let size = file.metadata()?.len();
    if offset >= size {
        return Ok((Vec::new(), size));
    }
    file.seek(std::io::SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(limit.min(size - offset) as usize);
    file.take(limit).read_to_end(&mut buf)?;
    Ok((buf, size))
}

/// Why a sealed file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// There is no such file.
    Missing,
    /// Its key was destroyed.
    Shredded,
    /// Anything else.
    Broken(aisc_vault::VaultError),
}

impl From<aisc_vault::VaultError> for ReadError {
    fn from(e: aisc_vault::VaultError) -> Self {
        ReadError::Broken(e)
    }
}

/// An open sealed file: its handle, header, key and length.
pub struct Opened {
    /// The file.
    pub file: fs::File,
    /// Its header.
    pub header: Header,
    /// Its data key.
    pub key: aisc_vault::DataKey,
    /// Its length on disk.
    pub len: u64,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Opens a sealed file and finds its key.
pub fn open_sealed(store: &Store, path: &Path) -> Result<Opened, ReadError> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) => return Err(ReadError::Broken(e.into())),
    };
    let len = file.metadata().map_err(aisc_vault::VaultError::from)?.len();
    let header = Header::read_from(&mut file)?;
    let key = store.data_key(header.key_id()).ok_or(ReadError::Shredded)?;
    Ok(Opened {
        file,
        header,
        key,
        len,
    })
}

/// Reads a range of a finished sealed file.
pub fn read_sealed(
    store: &Store,
    path: &Path,
    context: &[u8],
    offset: u64,
    limit: u64,
) -> Result<(Vec<u8>, u64), ReadError> {
    let mut o = open_sealed(store, path)?;
    Ok(stream::read_range(
        &mut o.file,
        &o.header,
        &o.key,
        context,
        o.len,
        offset,
        limit,
    )?)
}

/// At start, before the server takes requests: removes sealed files no row
/// names (a removal cut short). Logs of ended jobs still in clear (the server
/// stopped between a job's end and the sealing, or they predate sealing) are
/// sealed by [`seal_leftover_logs`].
pub async fn sweep_objects(state: &crate::AppState) {
    match state.store.data_object_ids().await {
        Ok(ids) => {
            let ids: std::collections::HashSet<i64> = ids.into_iter().collect();
            let root = state.data_dir.join("objects");
            for project in fs::read_dir(&root).into_iter().flatten().flatten() {
                for f in fs::read_dir(project.path()).into_iter().flatten().flatten() {
                    let known = f
                        .file_name()
                        .to_str()
                        .and_then(|n| n.parse::<i64>().ok())
                        .is_some_and(|id| ids.contains(&id));
                    if !known {
                        let _ = fs::remove_file(f.path());
                    }
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not list files to sweep"),
    }
}

/// At start, in the background: seals the logs of ended jobs still in clear.
pub async fn seal_leftover_logs(state: crate::AppState) {
    let jobs = state.data_dir.join("jobs");
    for dir in fs::read_dir(&jobs).into_iter().flatten().flatten() {
        let path = dir.path();
        let clear = path.join("script").exists() || path.join("output.log").exists();
        let Some(id) = dir.file_name().to_str().and_then(|n| n.parse::<i64>().ok()) else {
            continue;
        };
        if !clear {
            continue;
        }
        if let Ok(row) = state.store.job(aisc_model::JobId(id)).await
            && row.state.is_terminal()
            && let Err(e) = seal_job_logs(&state.store, &row, &path).await
        {
            tracing::warn!(job = id, error = %e, "could not seal a job's logs");
        }
    }
}

impl From<ReadError> for crate::service::ServiceError {
    fn from(e: ReadError) -> Self {
        use crate::service::ServiceError;
        match e {
            ReadError::Missing => ServiceError::NotFound("file".into()),
            ReadError::Shredded => ServiceError::Gone(
                "its project's data key was destroyed (the project was closed)".into(),
            ),
            ReadError::Broken(e) => ServiceError::internal(e),
        }
    }
}
