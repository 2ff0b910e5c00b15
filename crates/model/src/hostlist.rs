//! Slurm's host lists (`gpu[01-04,07],login1`), as `-w/--nodelist` and
//! `-x/--exclude` take them: names joined by commas, each with at most one
//! bracketed group of numbers and ranges (zero-padded as written).

/// The most names one list may expand to.
pub const MAX_HOSTS: usize = 4096;

/// The names a host list stands for, in the order written.
pub fn expand(list: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in split_top(list)? {
        if part.is_empty() {
            return Err(format!("{list:?}: an empty name"));
        }
        match part.split_once('[') {
            None => push(&mut out, part.to_string(), list)?,
            Some((prefix, rest)) => {
                let (ranges, suffix) = rest
                    .split_once(']')
                    .ok_or_else(|| format!("{part:?}: a [ without its ]"))?;
                if suffix.contains(['[', ']']) {
                    return Err(format!("{part:?}: one bracketed group per name"));
                }
                for range in ranges.split(',') {
                    let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                    let width = lo.len();
                    let num = |s: &str| {
                        s.parse::<u64>()
                            .ok()
                            .filter(|_| !s.is_empty() && s.len() <= 9)
                            .ok_or_else(|| {
                                format!("{range:?} in {part:?} is not a number or a range")
                            })
                    };
                    let (a, b) = (num(lo)?, num(hi)?);
                    if a > b {
                        return Err(format!("{range:?} in {part:?}: the range runs backwards"));
                    }
                    if b - a >= MAX_HOSTS as u64 {
                        return Err(format!("{list:?}: more than {MAX_HOSTS} names"));
                    }
                    for n in a..=b {
                        push(&mut out, format!("{prefix}{n:0width$}{suffix}"), list)?;
                    }
                }
            }
        }
    }
    Ok(out)
}

fn push(out: &mut Vec<String>, name: String, list: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if !name.chars().all(ok) {
        return Err(format!(
            "{name:?}: a node name is letters, digits, -, _ and ."
        ));
    }
    if out.len() >= MAX_HOSTS {
        return Err(format!("{list:?}: more than {MAX_HOSTS} names"));
    }
    out.push(name);
    Ok(())
}

/// The list split at the commas outside brackets.
fn split_top(list: &str) -> Result<Vec<&str>, String> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0u32, 0);
    for (i, c) in list.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("{list:?}: a ] without its ["))?
            }
            ',' if depth == 0 => {
                parts.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("{list:?}: a [ without its ]"));
    }
    parts.push(&list[start..]);
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_expand_as_slurm_writes_them() {
        assert_eq!(
            expand("gpu[01-03,07],login1").unwrap(),
            ["gpu01", "gpu02", "gpu03", "gpu07", "login1"]
        );
        assert_eq!(expand("n[8-10]-ib").unwrap(), ["n8-ib", "n9-ib", "n10-ib"]);
        for bad in [
            "",
            "a,,b",
            "n[1-",
            "n1]",
            "n[3-1]",
            "n[x]",
            "n[1-2][3]",
            "a b",
            "n[0-99999]",
        ] {
            assert!(expand(bad).is_err(), "{bad:?}");
        }
    }
}
