//! Paths of the files a project keeps in aisc (`aisc data put results/run1.csv`).

/// The longest path, in bytes.
pub const MAX_PATH: usize = 1024;

/// Refuses a path that could escape its project's space or confuse a reader:
/// empty or over [`MAX_PATH`] bytes, absolute, with an empty, `.` or `..`
/// segment, or holding a control character or a backslash. Says why.
pub fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() || path.len() > MAX_PATH {
        return Err("is empty or too long");
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return Err("holds a control character or a backslash");
    }
    if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err("has an empty, . or .. segment (or starts or ends with /)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::{Component, Path};

    #[test]
    fn paths_that_could_escape_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/",
            "./a",
            "a\\b",
            "a\nb",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "results/run 1.csv", "数据/结果.txt", "a.b/c..d"] {
            assert!(check_path(good).is_ok(), "{good:?}");
        }
        assert!(check_path(&"a".repeat(MAX_PATH + 1)).is_err());
    }

    proptest! {
        #[test]
        fn an_accepted_path_stays_under_any_base(path in "\\PC{0,40}") {
            if check_path(&path).is_ok() {
                let joined = Path::new("/base").join(&path);
                prop_assert!(joined.starts_with("/base"));
                prop_assert!(joined.components().skip(2).all(|c| matches!(c, Component::Normal(_))));
            }
        }
    }
}
