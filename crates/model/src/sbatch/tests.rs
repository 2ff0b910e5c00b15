//! The parser's behaviours: what each documented option becomes.

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
    let e = parse("#SBATCH --gres=gpu:2,nvme:1\n").unwrap_err();
    assert!(e.message.contains("\"nvme:1\" is not a GPU"), "{e}");
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
fn unknown_directives_are_warnings_with_line_numbers() {
    let o = parse("#SBATCH --partition=gpu\n#SBATCH --frobnicate 1\n#SBATCH -N 1 --zap\n").unwrap();
    assert_eq!(o.partition.as_deref(), Some("gpu"));
    assert_eq!(o.warnings.len(), 2, "{:?}", o.warnings);
    assert!(
        o.warnings[0].starts_with("line 3: unknown directive --frobnicate"),
        "{:?}",
        o.warnings
    );
    assert!(
        o.warnings[1].starts_with("line 4: unknown directive --zap"),
        "{:?}",
        o.warnings
    );
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

/// A value each honoured option accepts.
fn sample(name: &str) -> &'static str {
    match name {
        "-t" | "--time" => "10",
        "--mem" | "--mem-per-cpu" | "--mem-per-gpu" => "1G",
        "-G" | "--gpus" | "--gpus-per-node" | "--gpus-per-task" => "1",
        "--gres" => "gpu:1",
        "-q" | "--qos" => "normal",
        "--export" => "ALL",
        "--mail-type" => "END,FAIL",
        "-D" | "--chdir" => "/tmp",
        "-d" | "--dependency" => "afterok:1",
        "-b" | "--begin" => "now+60",
        "--signal" => "USR1@60",
        "-w" | "--nodelist" | "-x" | "--exclude" => "gpu[01-02]",
        "--exclusive" => "",
        _ => "1",
    }
}

#[test]
fn every_documented_option_is_honoured_or_refused_never_ignored() {
    for k in known::KNOWN {
        for name in k.names {
            let line = match (k.takes, name.starts_with("--")) {
                (known::Takes::Nothing, _) => format!("#SBATCH {name}\n"),
                (known::Takes::Optional, _) if sample(name).is_empty() => {
                    format!("#SBATCH {name}\n")
                }
                (_, true) => format!("#SBATCH {name}={}\n", sample(name)),
                (_, false) => format!("#SBATCH {name} {}\n", sample(name)),
            };
            let r = parse(&format!("#SBATCH -J x\n{line}"));
            match (k.treatment, r) {
                (known::Treatment::Honoured, Ok(o)) if *name == "--wrap" => {
                    panic!("--wrap in a script: {o:?}")
                }
                (known::Treatment::Honoured, Ok(o)) => assert!(
                    o.warnings.iter().all(|w| !w.contains("unknown")),
                    "{line}: {o:?}"
                ),
                (known::Treatment::Honoured, Err(e)) if *name == "--wrap" => assert_eq!(e.line, 3),
                (known::Treatment::Honoured, Err(e)) => panic!("{line}: refused: {e}"),
                (known::Treatment::Refused(why), Err(e)) => {
                    assert_eq!(e.line, 3, "{line}");
                    assert!(e.message.starts_with(name), "{line}: {e}");
                    assert!(e.message.ends_with(why), "{line}: {e}");
                }
                (known::Treatment::Refused(_), Ok(o)) => panic!("{line}: accepted: {o:?}"),
            }
        }
    }
}

#[test]
fn nodes_and_tasks_are_read_and_bad_counts_name_the_line() {
    let o = parse("#SBATCH -N 1 -n 1 --ntasks-per-node=1 --nodes=1-1\n").unwrap();
    assert!(o.warnings.is_empty(), "{:?}", o.warnings);
    assert_eq!(
        (o.nodes, o.ntasks, o.ntasks_per_node),
        (Some((1, 1)), Some(1), Some(1))
    );
    let o = parse("#SBATCH -N 2-4 -n 8\n").unwrap();
    assert_eq!((o.nodes, o.ntasks), (Some((2, 4)), Some(8)));
    let e = parse("#SBATCH -J x\n#SBATCH --nodes=0\n").unwrap_err();
    assert_eq!(e.line, 3);
    assert!(
        e.to_string()
            .starts_with("line 3: --nodes=0: a job needs a node"),
        "{e}"
    );
    let e = parse("#SBATCH -N 99999\n").unwrap_err();
    assert!(e.message.contains("at most 4096 nodes"), "{e}");
    assert!(parse("#SBATCH -n 0\n").is_err());
    assert!(parse("#SBATCH -N 3-1\n").is_err());
}

#[test]
fn per_node_and_per_task_resources_are_read() {
    let o = parse(
        "#SBATCH --gpus-per-node=h100:2 --gpus-per-task=2 --cpus-per-gpu=4\n\
         #SBATCH --mem-per-gpu=10G --mem-per-cpu=2G\n",
    )
    .unwrap();
    assert_eq!(o.gpus_per_node, Some((Some("h100".into()), 2)));
    assert_eq!(o.gpus_per_task, Some((None, 2)));
    assert_eq!(o.cpus_per_gpu, Some(4));
    assert_eq!(
        (o.mem_per_gpu_mb, o.mem_per_cpu_mb),
        (Some(10_240), Some(2048))
    );
    assert!(parse("#SBATCH --cpus-per-gpu=0\n").is_err());
}

#[test]
fn mail_is_stored_and_said_not_sent() {
    let o = parse("#SBATCH --mail-type=END,FAIL --mail-user=ann@example.org\n").unwrap();
    assert_eq!(o.mail_type.as_deref(), Some("END,FAIL"));
    assert_eq!(o.mail_user.as_deref(), Some("ann@example.org"));
    assert!(
        o.warnings.iter().all(|w| w.contains("sends no mail yet")),
        "{:?}",
        o.warnings
    );
    assert!(parse("#SBATCH --mail-type=SOMETIMES\n").is_err());
}

#[test]
fn export_forms() {
    let env = std::collections::BTreeMap::from([
        ("A".to_string(), "1".to_string()),
        ("B".to_string(), "2".to_string()),
    ]);
    let none = Export::parse("NONE").unwrap();
    assert!(none.apply(&env).is_empty());
    let some = Export::parse("A,C=3").unwrap();
    let got: Vec<_> = some.apply(&env).into_iter().collect();
    assert_eq!(got, [("A".into(), "1".into()), ("C".into(), "3".into())]);
    assert_eq!(Export::parse("ALL,C=3").unwrap().apply(&env).len(), 3);
    assert!(Export::parse("1X").is_err());
    assert!(Export::parse("A,,B").is_err());
}

#[test]
fn command_line_options_read_like_directives_and_name_no_line() {
    let words: Vec<String> = ["-N", "1", "--gpus-per-task=1", "--wrap", "nvidia-smi"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let o = parse_options(&words).unwrap();
    assert_eq!(o.gpus_per_task, Some((None, 1)));
    assert_eq!(o.wrap.as_deref(), Some("nvidia-smi"));
    assert!(
        parse_options(&["--exclusive".to_string()])
            .unwrap()
            .exclusive
    );
    let e = parse_options(&["--exclusive=user".to_string()]).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(
        e.to_string()
            .starts_with("--exclusive=user: aisc gives an exclusive job whole nodes"),
        "{e}"
    );
    let a = parse_options(&["-a".to_string(), "1-9:2%2".to_string()]).unwrap();
    let a = a.array.expect("an array");
    assert_eq!((a.tasks.len(), a.throttle), (5, Some(2)));
    let e = parse_options(&["--array=0-99999999".to_string()]).unwrap_err();
    assert!(e.to_string().contains("maximum array size"), "{e}");
}

#[test]
fn the_readme_says_what_becomes_of_every_documented_option() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    for k in known::KNOWN {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{}`", k.names[0])))
            .unwrap_or_else(|| panic!("no README row for {}", k.names[0]));
        let said = match k.treatment {
            known::Treatment::Honoured => "honoured",
            known::Treatment::Refused(_) => "refused",
        };
        assert!(row.contains(said), "{row}");
        for n in k.names {
            assert!(row.contains(&format!("`{n}`")), "{n} in {row}");
        }
    }
}

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
