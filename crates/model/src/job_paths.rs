//! Where a job may put its files: the rule every engine applies before
//! anything is opened (the local launcher checks it again on the real file
//! system, as the job's user).
//!
//! A job's working directory and its output and error files must not be in
//! the server's own directories (its data directory, key files); output and
//! error files must lie under the job's working directory or one of the
//! centre's configured roots. Paths are compared after `.` and `..` are
//! resolved by name, so `../x` from `/home/u/w` is `/home/u/x`.

use std::path::{Component, Path, PathBuf};

/// Why a path was refused: the field, what is wrong, and the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRefusal {
    /// `workdir`, `output` or `error`.
    pub field: &'static str,
    /// What is wrong.
    pub detail: String,
    /// What is allowed.
    pub limit: String,
}

/// `path` with `.` and `..` resolved by name (never above `/`).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Checks a job's working directory and its output and error paths (already
/// expanded, relative ones taken from the working directory) against the
/// server's `hidden` paths and the centre's `roots`.
pub fn check(
    workdir: &Path,
    files: &[(&'static str, &Path)],
    roots: &[PathBuf],
    hidden: &[PathBuf],
) -> Result<(), PathRefusal> {
    let workdir = normalize(workdir);
    let inside_hidden = |p: &Path| hidden.iter().any(|h| p.starts_with(normalize(h)));
    if inside_hidden(&workdir) {
        return Err(PathRefusal {
            field: "workdir",
            detail: format!("{} is inside the server's own directory", workdir.display()),
            limit: "a directory outside the server's data directory".into(),
        });
    }
    for (field, file) in files {
        let full = normalize(&workdir.join(file));
        if inside_hidden(&full) {
            return Err(PathRefusal {
                field,
                detail: format!("{} is inside the server's own directory", full.display()),
                limit: "a file outside the server's data directory".into(),
            });
        }
        let allowed = std::iter::once(&workdir)
            .chain(roots)
            .any(|r| full.starts_with(normalize(r)) && full != normalize(r));
        if !allowed {
            let roots: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            return Err(PathRefusal {
                field,
                detail: format!(
                    "{} is outside the job's working directory{}",
                    full.display(),
                    if roots.is_empty() {
                        ""
                    } else {
                        " and the centre's job roots"
                    }
                ),
                limit: std::iter::once(format!("under {}", workdir.display()))
                    .chain(roots)
                    .collect::<Vec<_>>()
                    .join(" or "),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a user writes (`..`, `.`, doubled slashes, absolute paths),
        /// a path the rule accepts lies under the working directory or a root,
        /// and never under the server's directory.
        #[test]
        fn an_accepted_path_stays_where_jobs_may_write(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("..".to_string()), Just(".".to_string()), Just("".to_string()),
                    Just("srv".to_string()), Just("w".to_string()), Just("scratch".to_string()),
                    "[a-z]{1,3}",
                ],
                0..8,
            ),
            absolute in any::<bool>(),
        ) {
            let file = format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"));
            let workdir = Path::new("/home/u/w");
            let roots = [PathBuf::from("/scratch")];
            let hidden = [PathBuf::from("/home/u/w/srv"), PathBuf::from("/srv")];
            if check(workdir, &[("output", Path::new(&file))], &roots, &hidden).is_ok() {
                let full = normalize(&workdir.join(&file));
                prop_assert!(full.starts_with(workdir) || full.starts_with("/scratch"), "{}", full.display());
                prop_assert!(!hidden.iter().any(|h| full.starts_with(h)), "{}", full.display());
            }
        }
    }

    #[test]
    fn files_stay_under_the_workdir_or_a_root_and_out_of_the_servers_directory() {
        let w = Path::new("/home/u/w");
        let srv = [PathBuf::from("/var/lib/aisc")];
        let roots = [PathBuf::from("/scratch")];
        let ok = |f: &str| check(w, &[("output", Path::new(f))], &roots, &srv);
        assert!(ok("out.log").is_ok());
        assert!(ok("logs/%j.out").is_ok());
        assert!(ok("/scratch/u/o.log").is_ok());
        assert_eq!(ok("../x.log").unwrap_err().field, "output");
        assert!(ok("/etc/passwd").is_err());
        assert!(
            ok("/var/lib/aisc/admin-token")
                .unwrap_err()
                .detail
                .contains("server's own")
        );
        assert!(ok("sub/../../../../var/lib/aisc/master.key").is_err());
        let e = check(Path::new("/var/lib/aisc/jobs"), &[], &roots, &srv).unwrap_err();
        assert_eq!(e.field, "workdir");
        assert_eq!(
            normalize(Path::new("/a/./b/../../../c")),
            PathBuf::from("/c")
        );
    }
}
