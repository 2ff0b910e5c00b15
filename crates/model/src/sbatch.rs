//! `#SBATCH` directives in a batch script, read the way `sbatch` reads them:
//! from the lines that start with `#SBATCH` before the first command, each
//! line holding one or more options in short (`-J x`, `-Jx`) or long
//! (`--job-name=x`, `--job-name x`) form. Known options that aisc does not
//! act on yet, and unknown options, are warnings; malformed ones are errors
//! that name the line.

use crate::units::{parse_mem_mb, parse_time_limit};
use thiserror::Error;

/// The directives of one script, already parsed and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SbatchOptions {
    /// `-J/--job-name`
    pub name: Option<String>,
    /// `-A/--account`: the project.
    pub account: Option<String>,
    /// `-t/--time`, in seconds.
    pub time_limit_s: Option<u64>,
    /// `-c/--cpus-per-task`
    pub cpus: Option<u32>,
    /// `--mem`, in MiB.
    pub mem_mb: Option<u64>,
    /// `-G/--gpus` or `--gres=gpu:N`
    pub gpus: Option<u32>,
    /// The GPU type from `--gpus=type:N` or `--gres=gpu:type:N`.
    pub gpu_type: Option<String>,
    /// `-o/--output`
    pub output: Option<String>,
    /// `-e/--error`
    pub error: Option<String>,
    /// `-D/--chdir`
    pub chdir: Option<String>,
    /// `-H/--hold`
    pub hold: bool,
    /// `-q/--qos`
    pub qos: Option<crate::Qos>,
    /// `--requeue` (true) or `--no-requeue` (false).
    pub requeue: Option<bool>,
    /// What was ignored, one line each, with its line number.
    pub warnings: Vec<String>,
}

/// A directive that cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct SbatchError {
    /// 1-based line number in the script.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Options that `sbatch` knows and aisc accepts but does not act on yet.
const IGNORED: &[&str] = &[
    "-N",
    "--nodes",
    "-n",
    "--ntasks",
    "--ntasks-per-node",
    "-p",
    "--partition",
    "--mail-type",
    "--mail-user",
    "--exclusive",
    "-C",
    "--constraint",
    "--export",
    "--requeue",
    "--no-requeue",
    "--open-mode",
    "--signal",
    "-w",
    "--nodelist",
    "-x",
    "--exclude",
    "--gpus-per-node",
    "--gpus-per-task",
    "--mem-per-cpu",
    "--mem-per-gpu",
    "--array",
    "-a",
    "--dependency",
    "-d",
    "--begin",
    "-b",
    "--comment",
    "--reservation",
    "--licenses",
    "-L",
    "--nice",
    "--wckey",
    "--distribution",
    "-m",
    "--hint",
    "--threads-per-core",
    "--parsable",
];

/// Options that take no value.
const FLAGS: &[&str] = &[
    "-H",
    "--hold",
    "--exclusive",
    "--requeue",
    "--no-requeue",
    "--parsable",
];

/// Reads the `#SBATCH` directives of `script`.
pub fn parse_script(script: &str) -> Result<SbatchOptions, SbatchError> {
    let mut opts = SbatchOptions::default();
    let mut lines = script.lines().enumerate();
    match lines.next() {
        Some((_, first)) if first.starts_with("#!") => {}
        _ => {
            return Err(SbatchError {
                line: 1,
                message: "a batch script must start with #! and the path of an interpreter (e.g. #!/bin/bash)".into(),
            });
        }
    }
    for (idx, raw) in lines {
        let line = idx + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        let Some(rest) = trimmed.strip_prefix("#SBATCH") else {
            if trimmed.starts_with('#') {
                continue;
            }
            break; // sbatch stops at the first command
        };
        if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
            continue; // e.g. "#SBATCHX": a comment, as sbatch treats it
        }
        let words = split_words(rest).map_err(|message| SbatchError { line, message })?;
        apply_words(&mut opts, &words, line)?;
    }
    Ok(opts)
}

/// Splits a directive line into words: whitespace separates, quotes group, `#` starts a comment.
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c == '#' && !in_word => break,
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unclosed {q} quote"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn apply_words(opts: &mut SbatchOptions, words: &[String], line: usize) -> Result<(), SbatchError> {
    let err = |message: String| SbatchError { line, message };
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        let (key, inline): (String, Option<String>) = if let Some(long) = word.strip_prefix("--") {
            match long.split_once('=') {
                Some((k, v)) => (format!("--{k}"), Some(v.to_string())),
                None => (word.clone(), None),
            }
        } else if let Some((short, rest)) = word
            .strip_prefix('-')
            .and_then(|w| Some((w.chars().next()?, &w[w.chars().next()?.len_utf8()..])))
        {
            // `-t30` is `-t 30`; split after the option's one character (which may be any
            // character, so never at a byte that is not a character's boundary).
            (
                format!("-{short}"),
                (!rest.is_empty()).then(|| rest.to_string()),
            )
        } else {
            return Err(err(format!(
                "{word:?} is not an option (options start with - or --)"
            )));
        };
        if FLAGS.contains(&key.as_str()) {
            if inline.is_some() {
                return Err(err(format!("{key} takes no value")));
            }
            if key == "-H" || key == "--hold" {
                opts.hold = true;
            } else if key == "--requeue" || key == "--no-requeue" {
                opts.requeue = Some(key == "--requeue");
            } else {
                opts.warnings.push(format!(
                    "line {line}: {key} is accepted but not acted on by aisc"
                ));
            }
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => match words.get(i) {
                Some(v) if !v.starts_with('-') || v.parse::<i64>().is_ok() => {
                    i += 1;
                    v.clone()
                }
                _ => return Err(err(format!("{key} needs a value"))),
            },
        };
        if value.is_empty() {
            return Err(err(format!("{key} needs a value")));
        }
        apply_option(opts, &key, value, line).map_err(err)?;
    }
    Ok(())
}

fn apply_option(
    opts: &mut SbatchOptions,
    key: &str,
    value: String,
    line: usize,
) -> Result<(), String> {
    match key {
        "-J" | "--job-name" => opts.name = Some(value),
        "-A" | "--account" => opts.account = Some(value),
        "-t" | "--time" => {
            opts.time_limit_s = Some(parse_time_limit(&value).map_err(|e| format!("{key}: {e}"))?)
        }
        "-c" | "--cpus-per-task" => opts.cpus = Some(parse_count(key, &value)?),
        "--mem" => opts.mem_mb = Some(parse_mem_mb(&value).map_err(|e| format!("{key}: {e}"))?),
        "-G" | "--gpus" => {
            let (ty, n) = parse_gpu_spec(&value).map_err(|e| format!("{key}: {e}"))?;
            opts.gpus = Some(n);
            opts.gpu_type = ty;
        }
        "--gres" => apply_gres(opts, &value, line)?,
        "-o" | "--output" => opts.output = Some(value),
        "-e" | "--error" => opts.error = Some(value),
        "-D" | "--chdir" => opts.chdir = Some(value),
        "-q" | "--qos" => opts.qos = Some(value.parse().map_err(|e| format!("{key}: {e}"))?),
        k if IGNORED.contains(&k) => {
            opts.warnings.push(format!(
                "line {line}: {k} is accepted but not acted on by aisc"
            ));
        }
        k => opts
            .warnings
            .push(format!("line {line}: unknown directive {k} ignored")),
    }
    Ok(())
}

fn parse_count(key: &str, value: &str) -> Result<u32, String> {
    value
        .trim()
        .parse::<u32>()
        .map_err(|_| format!("{key}: {value:?} is not a whole number"))
}

/// Reads `[type:]N` (the form of `--gpus`).
pub fn parse_gpu_spec(value: &str) -> Result<(Option<String>, u32), String> {
    let (ty, n) = match value.rsplit_once(':') {
        Some((ty, n)) => (Some(ty), n),
        None => (None, value),
    };
    let n = n
        .trim()
        .parse::<u32>()
        .map_err(|_| format!("{value:?} is not a GPU count: use N or type:N"))?;
    match ty {
        Some(t) if t.is_empty() || t.contains(':') => {
            Err(format!("{value:?} is not a GPU count: use N or type:N"))
        }
        t => Ok((t.map(str::to_string), n)),
    }
}

/// Reads one `--gres` item: `gpu[:type][:N]` gives the GPU type and count;
/// any other resource (`nvme:1`) gives `None`.
pub fn parse_gres_item(item: &str) -> Result<Option<(Option<String>, u32)>, String> {
    let mut parts = item.split(':');
    if parts.next() != Some("gpu") {
        return Ok(None);
    }
    let rest: Vec<&str> = parts.collect();
    let (ty, n) = match rest.as_slice() {
        [] => (None, "1"),
        [n] if n.parse::<u32>().is_ok() => (None, *n),
        [ty] => (Some(*ty), "1"),
        [ty, n] => (Some(*ty), *n),
        _ => return Err(format!("--gres {item:?}: use gpu[:type]:N")),
    };
    let n = n
        .parse::<u32>()
        .map_err(|_| format!("--gres {item:?}: {n:?} is not a whole number"))?;
    if ty.is_some_and(str::is_empty) {
        return Err(format!("--gres {item:?}: empty GPU type"));
    }
    Ok(Some((ty.map(str::to_string), n)))
}

/// `--gres=gpu[:type]:N[,other...]`
fn apply_gres(opts: &mut SbatchOptions, value: &str, line: usize) -> Result<(), String> {
    for item in value.split(',') {
        match parse_gres_item(item)? {
            Some((ty, n)) => {
                opts.gpus = Some(n);
                opts.gpu_type = ty;
            }
            None => opts.warnings.push(format!(
                "line {line}: --gres {item:?} is not a GPU and is ignored"
            )),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<SbatchOptions, SbatchError> {
        parse_script(&format!("#!/bin/bash\n{body}"))
    }

    #[test]
    fn reads_every_supported_directive() {
        let o = parse(
            "#SBATCH -J train\n#SBATCH --account=proj1\n#SBATCH -t 1-02:00:00\n#SBATCH -c 8\n\
             #SBATCH --mem=32G\n#SBATCH -G h100:2\n#SBATCH -o out-%j.log\n#SBATCH --error err.log\n\
             #SBATCH -D /tmp/work\npython train.py\n",
        )
        .unwrap();
        assert_eq!(o.name.as_deref(), Some("train"));
        assert_eq!(o.account.as_deref(), Some("proj1"));
        assert_eq!(o.time_limit_s, Some(86_400 + 7200));
        assert_eq!(o.cpus, Some(8));
        assert_eq!(o.mem_mb, Some(32 * 1024));
        assert_eq!((o.gpu_type.as_deref(), o.gpus), (Some("h100"), Some(2)));
        assert_eq!(o.output.as_deref(), Some("out-%j.log"));
        assert_eq!(o.error.as_deref(), Some("err.log"));
        assert_eq!(o.chdir.as_deref(), Some("/tmp/work"));
        assert!(o.warnings.is_empty(), "{:?}", o.warnings);
    }

    #[test]
    fn short_options_glued_and_several_per_line() {
        let o = parse("#SBATCH -Jx -c4 --time=30 --gpus=3 # trailing comment\n").unwrap();
        assert_eq!(o.name.as_deref(), Some("x"));
        assert_eq!(o.cpus, Some(4));
        assert_eq!(o.time_limit_s, Some(1800));
        assert_eq!(o.gpus, Some(3));
        assert_eq!(o.gpu_type, None);
    }

    #[test]
    fn gres_forms() {
        assert_eq!(parse("#SBATCH --gres=gpu:4\n").unwrap().gpus, Some(4));
        let o = parse("#SBATCH --gres=gpu:a100:2\n").unwrap();
        assert_eq!((o.gpu_type.as_deref(), o.gpus), (Some("a100"), Some(2)));
        assert_eq!(parse("#SBATCH --gres=gpu\n").unwrap().gpus, Some(1));
        let o = parse("#SBATCH --gres=gpu:2,nvme:1\n").unwrap();
        assert_eq!(o.gpus, Some(2));
        assert_eq!(o.warnings.len(), 1);
        assert!(parse("#SBATCH --gres=gpu:a:b:c\n").is_err());
    }

    #[test]
    fn directives_stop_at_the_first_command() {
        let o = parse("# plain comment\n\n#SBATCH -J a\necho hi\n#SBATCH -J b\n").unwrap();
        assert_eq!(o.name.as_deref(), Some("a"));
    }

    #[test]
    fn quoted_values_keep_spaces() {
        let o = parse("#SBATCH --job-name=\"my job\"\n#SBATCH -o '/tmp/a b.log'\n").unwrap();
        assert_eq!(o.name.as_deref(), Some("my job"));
        assert_eq!(o.output.as_deref(), Some("/tmp/a b.log"));
    }

    #[test]
    fn unknown_and_ignored_directives_are_warnings_with_line_numbers() {
        let o = parse("#SBATCH --partition=gpu\n#SBATCH --frobnicate=1\n#SBATCH -N 1\n").unwrap();
        assert_eq!(o.warnings.len(), 3);
        assert!(o.warnings[0].starts_with("line 2:"), "{:?}", o.warnings);
        assert!(o.warnings[1].contains("unknown directive --frobnicate"));
        assert!(o.warnings[2].starts_with("line 4:"));
    }

    #[test]
    fn malformed_directives_are_errors_naming_the_line() {
        let cases = [
            ("#SBATCH -t soon\n", 2),
            ("#SBATCH -J a\n#SBATCH -c many\n", 3),
            ("#SBATCH --mem=4X\n", 2),
            ("#SBATCH -G\n", 2),
            ("#SBATCH --job-name=\n", 2),
            ("#SBATCH --job-name=\"open\n", 2),
            ("#SBATCH stray\n", 2),
            ("#SBATCH --hold=yes\n", 2),
            ("#SBATCH -G h100:\n", 2),
        ];
        for (body, line) in cases {
            let e = parse(body).unwrap_err();
            assert_eq!(e.line, line, "{body:?}: {e}");
        }
    }

    #[test]
    fn a_script_needs_a_shebang() {
        assert_eq!(parse_script("echo hi\n").unwrap_err().line, 1);
        assert_eq!(parse_script("").unwrap_err().line, 1);
    }

    #[test]
    fn qos_and_requeue() {
        let o = parse("#SBATCH --qos=scavenger --no-requeue\n").unwrap();
        assert_eq!(o.qos, Some(crate::Qos::Scavenger));
        assert_eq!(o.requeue, Some(false));
        assert_eq!(
            parse("#SBATCH -q high --requeue\n").unwrap().qos,
            Some(crate::Qos::High)
        );
        assert!(parse("#SBATCH --qos=urgent\n").is_err());
    }

    #[test]
    fn hold_flag() {
        assert!(parse("#SBATCH --hold\n").unwrap().hold);
        assert!(parse("#SBATCH -H -J x\n").unwrap().hold);
    }

    #[test]
    fn gpu_spec() {
        assert_eq!(parse_gpu_spec("2"), Ok((None, 2)));
        assert_eq!(parse_gpu_spec("h800:8"), Ok((Some("h800".into()), 8)));
        assert!(parse_gpu_spec(":8").is_err());
        assert!(parse_gpu_spec("a:b:8").is_err());
        assert!(parse_gpu_spec("-1").is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn errors_point_at_a_line_of_the_script(body in "(#SBATCH [-a-zA-Z=:0-9 \"']{0,30}\n){0,6}") {
            let script = format!("#!/bin/sh\n{body}");
            if let Err(e) = parse_script(&script) {
                prop_assert!(e.line >= 1 && e.line <= script.lines().count().max(1));
            }
        }

        /// Any characters at all, not only ASCII (the fuzzer found a panic on `-Ӳ`).
        #[test]
        fn any_text_is_parsed_or_refused(body in "(#SBATCH \\PC{0,30}\n){0,6}") {
            let _ = parse_script(&format!("#!/bin/sh\n{body}"));
        }
    }

    #[test]
    fn a_short_option_of_a_multi_byte_character_is_an_option_like_any_other() {
        for line in [
            "#SBATCH -\u{4f2}",
            "#SBATCH -\u{4f2}30",
            "#SBATCH -\u{1f600}x",
        ] {
            let r = parse_script(&format!("#!/bin/sh\n{line}\ntrue\n"));
            match r {
                Ok(o) => assert!(
                    o.warnings.iter().any(|w| w.contains("line 2")),
                    "{line}: {o:?}"
                ),
                Err(e) => assert_eq!(e.line, 2, "{line}"),
            }
        }
    }
}
