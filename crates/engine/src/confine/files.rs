//! Opening a job's output files without trusting their paths.
//!
//! A path a user chose is an attacker's input: it may name a FIFO (whose
//! open blocks), a device, a socket, a symlink to the server's secrets, or a
//! directory that is swapped for a symlink between a check and an open. The
//! rules here: the parent directory is resolved once to its canonical path,
//! which must lie under an allowed root and under no hidden path; the file is
//! then reached with `openat2(RESOLVE_NO_SYMLINKS)` as an `O_PATH` handle,
//! checked to be a regular file by `fstat` on that handle, and only then
//! opened for real through the handle itself, so that what is checked is what
//! is opened. The launcher does this as the job's user; the server, reading
//! a log back, also checks that it is the very file the launcher opened.

use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::{Mode, SFlag, fstat};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// A file's identity: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
}

/// A file the launcher opened for a job, as recorded in its directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opened {
    /// `output` or `error`.
    pub stream: String,
    /// Its canonical path.
    pub path: PathBuf,
    /// Which file it was.
    pub id: FileId,
    /// Its owner when opened.
    pub uid: u32,
}

/// Why a job's file was refused.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not a regular file.
    #[error("{path} is {kind}, not a regular file")]
    NotRegular {
        /// The path.
        path: String,
        /// What it is.
        kind: &'static str,
    },
    /// Outside the directories a job may use.
    #[error("{path} is outside the directories a job may write to (its working directory{roots})")]
    Outside {
        /// The path.
        path: String,
        /// The configured roots, as text.
        roots: String,
    },
    /// Inside a directory no job may reach.
    #[error("{path} is inside the server's own directory, which no job may use")]
    Hidden {
        /// The path.
        path: String,
    },
    /// Not an absolute path with a file name.
    #[error("{path} is not an absolute path to a file")]
    BadPath {
        /// The path.
        path: String,
    },
    /// The file at the path is no longer the one the job wrote.
    #[error("{path} is no longer the file the job wrote (it was replaced or moved)")]
    Replaced {
        /// The path.
        path: String,
    },
    /// The system refused.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl Fn(nix::errno::Errno) -> FileError + '_ {
    move |e| FileError::Io {
        path: path.display().to_string(),
        source: std::io::Error::from(e),
    }
}

fn kind(mode: u32) -> &'static str {
    match SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFLNK => "a symbolic link",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFREG => "a regular file",
        _ => "something unknown",
    }
}

fn is_regular(mode: u32) -> bool {
    mode & SFlag::S_IFMT.bits() == SFlag::S_IFREG.bits()
}

/// Splits an absolute path into its parent and a plain file name.
fn split(path: &Path) -> Result<(&Path, &std::ffi::OsStr), FileError> {
    let bad = || FileError::BadPath {
        path: path.display().to_string(),
    };
    if !path.is_absolute() {
        return Err(bad());
    }
    match (path.parent(), path.components().next_back()) {
        (Some(parent), Some(Component::Normal(name))) => Ok((parent, name)),
        _ => Err(bad()),
    }
}

/// `openat2` from the root with no symlink (and no magic link) on the way.
fn open_no_symlinks(path: &Path, flags: OFlag, mode: Mode) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .mode(mode)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(nix::fcntl::AT_FDCWD, path, how)
}

/// Opens the very file behind an `O_PATH` handle with `flags`.
fn reopen(handle: &OwnedFd, flags: OFlag, path: &Path) -> Result<File, FileError> {
    let proc = format!("/proc/self/fd/{}", handle.as_raw_fd());
    let fd = nix::fcntl::open(
        proc.as_str(),
        flags | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .map_err(io(path))?;
    Ok(File::from(fd))
}

fn canonical(dirs: &[PathBuf]) -> Vec<PathBuf> {
    dirs.iter()
        .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()))
        .collect()
}

/// Opens (creating it if absent) a job's output file for appending, with the
/// caller's identity, after the checks in the module's notes. `allowed` are
/// the job's working directory and the centre's roots; `hidden` the server's
/// own paths. Returns the file and its canonical path and identity.
pub fn open_output(
    path: &Path,
    allowed: &[PathBuf],
    hidden: &[PathBuf],
) -> Result<(File, PathBuf, FileId, u32), FileError> {
    let (parent, name) = split(path)?;
    std::fs::create_dir_all(parent).map_err(|source| FileError::Io {
        path: parent.display().to_string(),
        source,
    })?;
    let parent = std::fs::canonicalize(parent).map_err(|source| FileError::Io {
        path: parent.display().to_string(),
        source,
    })?;
    let full = parent.join(name);
    if canonical(hidden).iter().any(|h| parent.starts_with(h)) {
        return Err(FileError::Hidden {
            path: full.display().to_string(),
        });
    }
    if !canonical(allowed).iter().any(|a| parent.starts_with(a)) {
        let roots = allowed
            .iter()
            .skip(1)
            .map(|r| format!(", {}", r.display()))
            .collect::<String>();
        return Err(FileError::Outside {
            path: full.display().to_string(),
            roots,
        });
    }
    for _ in 0..3 {
        match open_no_symlinks(&full, OFlag::O_PATH | OFlag::O_NOFOLLOW, Mode::empty()) {
            Ok(handle) => {
                let st = fstat(&handle).map_err(io(&full))?;
                if !is_regular(st.st_mode) {
                    return Err(FileError::NotRegular {
                        path: full.display().to_string(),
                        kind: kind(st.st_mode),
                    });
                }
                let file = reopen(&handle, OFlag::O_WRONLY | OFlag::O_APPEND, &full)?;
                let id = FileId {
                    dev: st.st_dev,
                    ino: st.st_ino,
                };
                return Ok((file, full, id, st.st_uid));
            }
            Err(nix::errno::Errno::ENOENT) => {
                match open_no_symlinks(
                    &full,
                    OFlag::O_WRONLY
                        | OFlag::O_APPEND
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_NONBLOCK,
                    Mode::from_bits_truncate(0o640),
                ) {
                    Ok(fd) => {
                        let st = fstat(&fd).map_err(io(&full))?;
                        let file = File::from(fd);
                        clear_nonblock(&file);
                        return Ok((
                            file,
                            full,
                            FileId {
                                dev: st.st_dev,
                                ino: st.st_ino,
                            },
                            st.st_uid,
                        ));
                    }
                    // Made by someone else meanwhile: look at what it is.
                    Err(nix::errno::Errno::EEXIST) => continue,
                    Err(e) => return Err(io(&full)(e)),
                }
            }
            Err(nix::errno::Errno::ELOOP) => {
                return Err(FileError::NotRegular {
                    path: full.display().to_string(),
                    kind: "reached through a symbolic link",
                });
            }
            Err(e) => return Err(io(&full)(e)),
        }
    }
    Err(FileError::Replaced {
        path: full.display().to_string(),
    })
}

fn clear_nonblock(file: &File) {
    use nix::fcntl::{FcntlArg, fcntl};
    if let Ok(flags) = fcntl(file, FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_truncate(flags) & !OFlag::O_NONBLOCK;
        let _ = fcntl(file, FcntlArg::F_SETFL(flags));
    }
}

/// Opens for reading the file the launcher opened for a job, and only that
/// file: reached without symlinks, a regular file, with the recorded device,
/// inode and owner. Never blocks on what sits at the path (no FIFO or device
/// is opened); on a file system that hangs, the caller's deadline applies.
pub fn open_recorded(opened: &Opened) -> Result<File, FileError> {
    let path = &opened.path;
    split(path)?;
    let handle =
        open_no_symlinks(path, OFlag::O_PATH | OFlag::O_NOFOLLOW, Mode::empty()).map_err(|e| {
            if e == nix::errno::Errno::ELOOP {
                FileError::Replaced {
                    path: path.display().to_string(),
                }
            } else {
                io(path)(e)
            }
        })?;
    let st = fstat(&handle).map_err(io(path))?;
    if !is_regular(st.st_mode)
        || st.st_dev != opened.id.dev
        || st.st_ino != opened.id.ino
        || st.st_uid != opened.uid
    {
        return Err(FileError::Replaced {
            path: path.display().to_string(),
        });
    }
    reopen(&handle, OFlag::O_RDONLY | OFlag::O_NONBLOCK, path)
}

/// Reads the files the launcher recorded for a job (`outputs.json` in its directory).
pub fn recorded(job_dir: &Path) -> Vec<Opened> {
    std::fs::read(job_dir.join(super::names::OUTPUTS))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    #[test]
    fn a_plain_file_is_opened_and_recorded_as_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.log");
        let (mut f, canon, id, uid) = open_output(&path, &[dir.path().to_path_buf()], &[]).unwrap();
        f.write_all(b"hi").unwrap();
        let opened = Opened {
            stream: "output".into(),
            path: canon,
            id,
            uid,
        };
        let mut back = String::new();
        std::io::Read::read_to_string(&mut open_recorded(&opened).unwrap(), &mut back).unwrap();
        assert_eq!(back, "hi");
        // Replaced by another file at the same path: refused.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "other").unwrap();
        assert!(matches!(
            open_recorded(&opened),
            Err(FileError::Replaced { .. })
        ));
    }

    #[test]
    fn fifos_symlinks_and_paths_outside_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = [dir.path().to_path_buf()];
        let fifo = dir.path().join("f");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
        let e = open_output(&fifo, &allowed, &[]).unwrap_err();
        assert!(e.to_string().contains("is a FIFO"), "{e}");
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let e = open_output(&link, &allowed, &[]).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let e = open_output(Path::new("/etc/aisc-nowhere.log"), &allowed, &[]).unwrap_err();
        assert!(matches!(e, FileError::Outside { .. }), "{e}");
        let e = open_output(
            &dir.path().join("srv/x"),
            &allowed,
            &[dir.path().join("srv")],
        )
        .unwrap_err();
        assert!(matches!(e, FileError::Hidden { .. }), "{e}");
        // A directory on the way that is a symlink is followed only through its canonical path.
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("alias")).unwrap();
        let (_, canon, _, _) = open_output(&dir.path().join("alias/o.log"), &allowed, &[]).unwrap();
        assert_eq!(
            canon,
            std::fs::canonicalize(dir.path())
                .unwrap()
                .join("real/o.log")
        );
        let e = open_output(Path::new("relative.log"), &allowed, &[]).unwrap_err();
        assert!(matches!(e, FileError::BadPath { .. }), "{e}");
    }
}
