//! The formats users type for time limits and memory sizes.
//!
//! Time limits accept every form `sbatch --time` accepts (`M`, `M:S`, `H:M:S`,
//! `D-H`, `D-H:M`, `D-H:M:S`) and unit suffixes (`90s`, `10m`, `2h`, `1d`,
//! `1h30m`). Memory accepts Slurm's `--mem` forms: a number in MiB, or with a
//! `K`, `M`, `G` or `T` suffix (binary multiples; `GB`/`GiB` also accepted).

use thiserror::Error;

/// The longest time limit a job may ask for: 365 days.
pub const MAX_TIME_LIMIT_S: u64 = 365 * 24 * 3600;
/// The most memory a job may ask for: 64 TiB, in MiB.
pub const MAX_MEM_MB: u64 = 64 * 1024 * 1024;

/// A time limit or memory size that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UnitError {
    /// Not one of the accepted forms.
    #[error(
        "{input:?} is not a time limit: use minutes, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or 30s/10m/2h/1d"
    )]
    BadTime {
        /// What was typed.
        input: String,
    },
    /// A field of Slurm's clock form out of its range, as Slurm refuses it.
    #[error("time limit {input:?}: {field} must be below {limit} ({got} given)")]
    TimeFieldOutOfRange {
        /// What was typed.
        input: String,
        /// `hours`, `minutes` or `seconds`.
        field: &'static str,
        /// The bound it must stay below.
        limit: u64,
        /// What it was.
        got: u64,
    },
    /// Zero, or no limit at all.
    #[error("time limit must be at least 1 second and finite (got {input:?})")]
    TimeNotPositive {
        /// What was typed.
        input: String,
    },
    /// Longer than [`MAX_TIME_LIMIT_S`].
    #[error("time limit {input:?} exceeds the maximum of 365 days")]
    TimeTooLong {
        /// What was typed.
        input: String,
    },
    /// Not a memory size.
    #[error(
        "{input:?} is not a memory size: use a number of MiB or a size with K, M, G or T (e.g. 4G)"
    )]
    BadMem {
        /// What was typed.
        input: String,
    },
    /// Zero, or more than [`MAX_MEM_MB`].
    #[error("memory {input:?} must be between 1M and 64T")]
    MemOutOfRange {
        /// What was typed.
        input: String,
    },
}

/// Parses a time limit into seconds.
pub fn parse_time_limit(input: &str) -> Result<u64, UnitError> {
    let s = input.trim();
    let bad = || UnitError::BadTime {
        input: input.to_string(),
    };
    if s.is_empty() {
        return Err(bad());
    }
    let lower = s.to_ascii_lowercase();
    if matches!(lower.as_str(), "unlimited" | "infinite" | "-1") {
        return Err(UnitError::TimeNotPositive {
            input: input.to_string(),
        });
    }
    let secs = if lower.ends_with(|c: char| c.is_ascii_alphabetic()) {
        parse_suffixed(&lower).ok_or_else(bad)?
    } else {
        let (secs, fields) = parse_slurm_clock(s).ok_or_else(bad)?;
        if let Some((field, limit, got)) = fields {
            return Err(UnitError::TimeFieldOutOfRange {
                input: input.to_string(),
                field,
                limit,
                got,
            });
        }
        secs
    };
    if secs == 0 {
        return Err(UnitError::TimeNotPositive {
            input: input.to_string(),
        });
    }
    if secs > MAX_TIME_LIMIT_S {
        return Err(UnitError::TimeTooLong {
            input: input.to_string(),
        });
    }
    Ok(secs)
}

fn num(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 12 {
        return None;
    }
    s.parse().ok()
}

/// `1h30m`, `90s`, `2d`: a sequence of number+unit.
fn parse_suffixed(s: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let mult = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        let n = num(&digits)?;
        total = total.checked_add(n.checked_mul(mult)?)?;
        digits.clear();
    }
    digits.is_empty().then_some(total)
}

/// A clock field out of range: which, its bound, and its value.
type OutOfRange = Option<(&'static str, u64, u64)>;

/// Slurm's clock forms. A bare number, and the first field of `M:S`, are
/// minutes. As Slurm does, a field below the largest one given must be in
/// its range: hours < 24 after days, minutes and seconds < 60.
fn parse_slurm_clock(s: &str) -> Option<(u64, OutOfRange)> {
    let (days, rest) = match s.split_once('-') {
        Some((d, rest)) => (Some(num(d)?), rest),
        None => (None, s),
    };
    let parts: Vec<u64> = rest.split(':').map(num).collect::<Option<_>>()?;
    let (h, m, sec) = match (days.is_some(), parts.as_slice()) {
        (false, [m]) => (0, *m, 0),
        (false, [m, s]) => (0, *m, *s),
        (false, [h, m, s]) | (true, [h, m, s]) => (*h, *m, *s),
        (true, [h]) => (*h, 0, 0),
        (true, [h, m]) => (*h, *m, 0),
        _ => return None,
    };
    let d = days.unwrap_or(0);
    let largest_is_minutes = days.is_none() && parts.len() < 3;
    let out = if days.is_some() && h >= 24 {
        Some(("hours", 24, h))
    } else if m >= 60 && !largest_is_minutes {
        Some(("minutes", 60, m))
    } else if sec >= 60 && parts.len() > 1 {
        Some(("seconds", 60, sec))
    } else {
        None
    };
    let secs = d
        .checked_mul(86_400)?
        .checked_add(h.checked_mul(3600)?)?
        .checked_add(m.checked_mul(60)?)?
        .checked_add(sec)?;
    Some((secs, out))
}

/// Parses a memory size into MiB (rounding KiB up to whole MiB).
pub fn parse_mem_mb(input: &str) -> Result<u64, UnitError> {
    let s = input.trim();
    let bad = || UnitError::BadMem {
        input: input.to_string(),
    };
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n = num(&s[..digits_end]).ok_or_else(bad)?;
    let unit = s[digits_end..].trim().to_ascii_lowercase();
    let unit = unit.trim_end_matches("ib").trim_end_matches('b');
    let mb = match unit {
        "" | "m" => Some(n),
        "k" => Some(n.div_ceil(1024)),
        "g" => n.checked_mul(1024),
        "t" => n.checked_mul(1024 * 1024),
        _ => return Err(bad()),
    };
    match mb {
        Some(mb) if (1..=MAX_MEM_MB).contains(&mb) => Ok(mb),
        _ => Err(UnitError::MemOutOfRange {
            input: input.to_string(),
        }),
    }
}

/// Formats seconds the way Slurm shows a time limit: `D-HH:MM:SS` or `HH:MM:SS`.
pub fn format_duration(secs: u64) -> String {
    let (d, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn clock_fields_below_the_largest_are_range_checked_as_slurm_does() {
        for (bad, field) in [
            ("1-25:61:61", "hours"),
            ("1-24", "hours"),
            ("2:60:00", "minutes"),
            ("10:61", "seconds"),
            ("1-00:00:60", "seconds"),
        ] {
            match parse_time_limit(bad) {
                Err(UnitError::TimeFieldOutOfRange { field: f, .. }) => {
                    assert_eq!(f, field, "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(parse_time_limit("1-23:59:59"), Ok(86_400 + 86_399));
        assert_eq!(
            parse_time_limit("90"),
            Ok(5_400),
            "bare minutes are not bounded"
        );
        assert_eq!(
            parse_time_limit("90:30"),
            Ok(5_430),
            "the leading minutes are not bounded"
        );
        assert_eq!(
            parse_time_limit("30:00:00"),
            Ok(108_000),
            "hours without days are not bounded"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slurm_time_form() {
        let cases = [
            ("10", 600),
            ("10:30", 630),
            ("1:02:03", 3723),
            ("2-3", 2 * 86_400 + 3 * 3600),
            ("2-3:04", 2 * 86_400 + 3 * 3600 + 4 * 60),
            ("2-03:04:05", 2 * 86_400 + 3 * 3600 + 4 * 60 + 5),
            ("0:45", 45),
        ];
        for (input, want) in cases {
            assert_eq!(parse_time_limit(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn unit_suffixes() {
        assert_eq!(parse_time_limit("10m"), Ok(600));
        assert_eq!(parse_time_limit("90s"), Ok(90));
        assert_eq!(parse_time_limit("2h"), Ok(7200));
        assert_eq!(parse_time_limit("1d"), Ok(86_400));
        assert_eq!(parse_time_limit("1h30m"), Ok(5400));
        assert_eq!(parse_time_limit(" 5M "), Ok(300));
    }

    #[test]
    fn bad_times_are_refused_with_the_reason() {
        for bad in [
            "", "abc", "1:2:3:4", "1-2-3", "-5", "1x", "m", "10m5", "1.5h", ":", "1-",
        ] {
            assert!(
                matches!(parse_time_limit(bad), Err(UnitError::BadTime { .. })),
                "{bad:?}"
            );
        }
        for zero in ["0", "0:00", "0s", "UNLIMITED", "infinite"] {
            assert!(
                matches!(
                    parse_time_limit(zero),
                    Err(UnitError::TimeNotPositive { .. })
                ),
                "{zero:?}"
            );
        }
        assert!(matches!(
            parse_time_limit("366d"),
            Err(UnitError::TimeTooLong { .. })
        ));
        assert!(matches!(
            parse_time_limit("999999999999"),
            Err(UnitError::TimeTooLong { .. })
        ));
        assert!(matches!(
            parse_time_limit("9999999999999999999"),
            Err(UnitError::BadTime { .. })
        ));
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_mem_mb("4G"), Ok(4096));
        assert_eq!(parse_mem_mb("4gb"), Ok(4096));
        assert_eq!(parse_mem_mb("4GiB"), Ok(4096));
        assert_eq!(parse_mem_mb("512"), Ok(512));
        assert_eq!(parse_mem_mb("512M"), Ok(512));
        assert_eq!(parse_mem_mb("1T"), Ok(1024 * 1024));
        assert_eq!(parse_mem_mb("1500K"), Ok(2));
        assert!(matches!(
            parse_mem_mb("0"),
            Err(UnitError::MemOutOfRange { .. })
        ));
        assert!(matches!(
            parse_mem_mb("65T"),
            Err(UnitError::MemOutOfRange { .. })
        ));
        for bad in ["", "G", "4X", "-4G", "4.5G"] {
            assert!(
                matches!(parse_mem_mb(bad), Err(UnitError::BadMem { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn durations_format_like_slurm() {
        assert_eq!(format_duration(59), "00:00:59");
        assert_eq!(format_duration(3723), "01:02:03");
        assert_eq!(format_duration(2 * 86_400 + 5), "2-00:00:05");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn formatted_limits_parse_back(secs in 1u64..=MAX_TIME_LIMIT_S) {
            prop_assert_eq!(parse_time_limit(&format_duration(secs)), Ok(secs));
        }

        #[test]
        fn any_input_is_refused_or_in_range(s in "\\PC{0,20}") {
            if let Ok(secs) = parse_time_limit(&s) {
                prop_assert!((1..=MAX_TIME_LIMIT_S).contains(&secs));
            }
            if let Ok(mb) = parse_mem_mb(&s) {
                prop_assert!((1..=MAX_MEM_MB).contains(&mb));
            }
        }
    }
}
