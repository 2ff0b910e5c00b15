//! The job's view of the file system: a private mount namespace in which the
//! server's paths are empty, and Landlock.

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, RestrictionStatus, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

const ABI_WANTED: ABI = ABI::V6;

/// What Landlock this kernel enforces, for the start-up message.
pub(super) fn landlock_status() -> String {
    let probe = |abi: ABI, scope: bool| {
        let r = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessFs::from_all(abi));
        let r = if scope {
            r.and_then(|r| r.scope(Scope::from_all(abi)))
        } else {
            r
        };
        r.and_then(|r| r.create()).is_ok()
    };
    if probe(ABI_WANTED, true) {
        "Landlock (signals to the server refused)".into()
    } else if probe(ABI::V1, false) {
        "Landlock without signal scoping on this kernel: a job could signal the server".into()
    } else {
        "Landlock is not supported by this kernel: jobs start only where a private mount namespace hides the server's files".into()
    }
}

fn err<'a>(what: &str, path: &'a Path) -> impl Fn(nix::errno::Errno) -> String + 'a {
    let what = what.to_string();
    move |e| format!("{what} {}: {e}", path.display())
}

/// Enters a private mount namespace (inside a new user namespace when
/// `own_user_ns`, for an unprivileged server) in which each hidden directory
/// is an empty read-only tmpfs and each hidden file reads as `/dev/null`,
/// with `keep` (the job's own directory) bound back read-only where it was.
/// Mounts made here cannot be undone by the job: it holds no capability over
/// this namespace once it runs as a non-root user.
pub(super) fn private_mounts(
    hidden: &[PathBuf],
    keep: &Path,
    own_user_ns: bool,
) -> Result<(), String> {
    let hidden: Vec<PathBuf> = hidden
        .iter()
        .filter_map(|h| std::fs::canonicalize(h).ok())
        .collect();
    let keep = std::fs::canonicalize(keep).map_err(|e| format!("job directory: {e}"))?;
    if own_user_ns {
        let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
        unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
            .map_err(|e| format!("no user namespace: {e}"))?;
        std::fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("setgroups: {e}"))?;
        std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))
            .map_err(|e| format!("uid_map: {e}"))?;
        std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))
            .map_err(|e| format!("gid_map: {e}"))?;
    } else {
        unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("no mount namespace: {e}"))?;
    }
    let root = Path::new("/");
    mount(
        None::<&str>,
        root,
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(err("cannot make mounts private under", root))?;
    // Opened inside the new namespace: a bind's source must be one of its mounts.
    let keep_fd = nix::fcntl::open(
        &keep,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(err("cannot open", &keep))?;
    let quiet = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    for h in &hidden {
        if h.is_dir() {
            mount(
                Some("tmpfs"),
                h,
                Some("tmpfs"),
                quiet,
                Some("mode=0755,size=64k"),
            )
            .map_err(err("cannot hide", h))?;
            if keep.starts_with(h) {
                std::fs::create_dir_all(&keep).map_err(|e| format!("{}: {e}", keep.display()))?;
                let source = format!("/proc/self/fd/{}", keep_fd.as_raw_fd());
                mount(
                    Some(source.as_str()),
                    &keep,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(err("cannot bind the job directory at", &keep))?;
                mount(
                    None::<&str>,
                    &keep,
                    None::<&str>,
                    MsFlags::MS_BIND
                        | MsFlags::MS_REMOUNT
                        | MsFlags::MS_RDONLY
                        | MsFlags::MS_NOSUID
                        | MsFlags::MS_NODEV,
                    None::<&str>,
                )
                .map_err(err("cannot make read-only", &keep))?;
            }
            mount(
                None::<&str>,
                h,
                None::<&str>,
                MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | quiet,
                None::<&str>,
            )
            .map_err(err("cannot make read-only", h))?;
        } else if h.exists() {
            mount(
                Some("/dev/null"),
                h,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(err("cannot hide", h))?;
        }
    }
    Ok(())
}

/// Every path outside `hidden`: the entries of each directory on the way
/// down to a hidden path, except that path. Directories on the way get no
/// rule of their own (a Landlock rule on them would reach the hidden path).
fn everything_but(hidden: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, hidden: &[PathBuf], out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for p in entries.filter_map(Result::ok).map(|e| e.path()) {
            if hidden.contains(&p) {
                continue;
            }
            if hidden.iter().any(|h| h.starts_with(&p)) && p.is_dir() && !p.is_symlink() {
                walk(&p, hidden, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/"), hidden, &mut out);
    out
}

/// Restricts this process (and what it executes) with Landlock: no signals
/// to processes outside the job and no abstract sockets outside it; and,
/// unless the hidden paths are already gone from its mount namespace
/// (`mounts_hide`), no access to them (its own directory stays readable).
pub(super) fn landlock(
    hidden: &[PathBuf],
    job_dir: &Path,
    mounts_hide: bool,
) -> Result<RestrictionStatus, String> {
    let e = |e: landlock::RulesetError| format!("Landlock: {e}");
    let all = AccessFs::from_all(ABI_WANTED);
    let created = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .map_err(e)?
        .scope(Scope::from_all(ABI_WANTED))
        .map_err(e)?
        .create()
        .map_err(e)?;
    let hidden: Vec<PathBuf> = hidden
        .iter()
        .filter_map(|h| std::fs::canonicalize(h).ok())
        .collect();
    let created = if mounts_hide || hidden.is_empty() {
        created
            .add_rules(path_beneath_rules(["/"], all))
            .map_err(e)?
    } else {
        created
            .add_rules(path_beneath_rules(everything_but(&hidden), all))
            .map_err(e)?
            .add_rules(path_beneath_rules(
                [job_dir],
                AccessFs::from_read(ABI_WANTED),
            ))
            .map_err(e)?
    };
    let status = created.restrict_self().map_err(e)?;
    if status.ruleset == RulesetStatus::NotEnforced && !mounts_hide {
        return Err("Landlock is not enforced by this kernel, and the server's paths could not be hidden otherwise".into());
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_but_leaves_out_the_hidden_path_and_its_ancestors_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = std::fs::canonicalize(dir.path()).expect("canonical");
        for d in ["srv/jobs", "work", "other"] {
            std::fs::create_dir_all(base.join(d)).expect("mkdir");
        }
        std::fs::write(base.join("notes.txt"), "n").expect("write");
        let allowed = everything_but(&[base.join("srv")]);
        assert!(allowed.contains(&base.join("work")));
        assert!(allowed.contains(&base.join("other")));
        assert!(allowed.contains(&base.join("notes.txt")));
        assert!(!allowed.iter().any(|p| p.starts_with(base.join("srv"))));
        assert!(
            !allowed.contains(&base),
            "an ancestor gets no rule of its own"
        );
        assert!(allowed.contains(&PathBuf::from("/etc")));
    }
}
