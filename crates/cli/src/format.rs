//! Plain-text output: aligned tables, times and sizes.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// `2026-11-24T23:40:06.123Z` → `2026-11-24 23:40:06`.
pub fn short_time(rfc3339: &str) -> String {
    rfc3339
        .get(..19)
        .map(|s| s.replace('T', " "))
        .unwrap_or_else(|| rfc3339.to_string())
}

/// Seconds between an RFC 3339 time and an optional later one (now if absent).
pub fn elapsed_s(from: &str, to: Option<&str>) -> Option<u64> {
    let start = OffsetDateTime::parse(from, &Rfc3339).ok()?;
    let end = match to {
        Some(t) => OffsetDateTime::parse(t, &Rfc3339).ok()?,
        None => OffsetDateTime::now_utc(),
    };
    u64::try_from((end - start).whole_seconds()).ok()
}

/// MiB as a short size: `512M`, `4G`, `1.5T`.
pub fn mem(mb: u64) -> String {
    if mb >= 1024 * 1024 && mb.is_multiple_of(1024 * 1024) {
        format!("{}T", mb / (1024 * 1024))
    } else if mb >= 1024 && mb.is_multiple_of(1024) {
        format!("{}G", mb / 1024)
    } else if mb >= 1024 {
        format!("{:.1}G", mb as f64 / 1024.0)
    } else {
        format!("{mb}M")
    }
}

/// Prints `v` as indented JSON (every command's `--json`).
pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<std::process::ExitCode> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(
            &["ID", "NAME"],
            &[
                vec!["1".into(), "a".into()],
                vec!["100".into(), "bb".into()],
            ],
        );
        assert_eq!(t, "ID   NAME\n1    a\n100  bb\n");
    }

    #[test]
    fn sizes_and_times() {
        assert_eq!(mem(4096), "4G");
        assert_eq!(mem(1500), "1.5G");
        assert_eq!(mem(512), "512M");
        assert_eq!(mem(2 * 1024 * 1024), "2T");
        assert_eq!(short_time("2026-11-24T23:40:06.5Z"), "2026-11-24 23:40:06");
        assert_eq!(
            elapsed_s("2026-11-24T23:40:06Z", Some("2026-11-24T23:41:07Z")),
            Some(61)
        );
    }
}
