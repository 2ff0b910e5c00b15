//! Resolving requests: precedence, defaults, limits and refusals.

use super::*;

fn argv(cmd: &[&str]) -> JobRequest {
    JobRequest {
        command: cmd.iter().map(|s| s.to_string()).collect(),
        chdir: Some("/tmp".into()),
        ..Default::default()
    }
}

#[test]
fn defaults_for_a_plain_command() {
    let r = argv(&["/usr/bin/python3", "-c", "print(42)"])
        .resolve()
        .unwrap();
    assert_eq!(r.spec.name, "python3");
    assert_eq!(
        r.spec.resources,
        Resources {
            gpus: 0,
            cpus: 1,
            mem_mb: 1024
        }
    );
    assert_eq!(r.spec.time_limit_s, DEFAULT_TIME_LIMIT_S);
}

#[test]
fn flags_override_the_script() {
    let req = JobRequest {
        script: Some("#!/bin/sh\n#SBATCH -J fromscript\n#SBATCH -c 4\n#SBATCH -t 5\n#SBATCH --gres=gpu:2\necho\n".into()),
        cpus: Some(2),
        gpus: Some("h100:1".into()),
        chdir: Some("/tmp".into()),
        ..Default::default()
    };
    let s = req.resolve().unwrap().spec;
    assert_eq!(s.name, "fromscript");
    assert_eq!(s.resources.cpus, 2);
    assert_eq!(s.resources.gpus, 1);
    assert_eq!(s.gpu_type.as_deref(), Some("h100"));
    assert_eq!(s.time_limit_s, 300);
    assert_eq!(s.resources.mem_mb, 2048, "default memory follows the CPUs");
}

#[test]
fn script_chdir_is_used_when_no_flag() {
    let req = JobRequest {
        script: Some("#!/bin/sh\n#SBATCH -D /var/tmp\ntrue\n".into()),
        ..Default::default()
    };
    assert_eq!(req.resolve().unwrap().spec.workdir, "/var/tmp");
}

#[test]
fn refusals_name_the_field() {
    let cases: Vec<(JobRequest, &str)> = vec![
        (argv(&[]), "command"),
        (argv(&["  "]), "command"),
        (
            JobRequest {
                cpus: Some(0),
                ..argv(&["x"])
            },
            "cpus",
        ),
        (
            JobRequest {
                cpus: Some(MAX_CPUS + 1),
                ..argv(&["x"])
            },
            "cpus",
        ),
        (
            JobRequest {
                gpus: Some("999999".into()),
                ..argv(&["x"])
            },
            "gpus",
        ),
        (
            JobRequest {
                gpus: Some("-1".into()),
                ..argv(&["x"])
            },
            "gpus",
        ),
        (
            JobRequest {
                time: Some("0".into()),
                ..argv(&["x"])
            },
            "time",
        ),
        (
            JobRequest {
                time: Some("soon".into()),
                ..argv(&["x"])
            },
            "time",
        ),
        (
            JobRequest {
                mem: Some("0".into()),
                ..argv(&["x"])
            },
            "mem",
        ),
        (
            JobRequest {
                name: Some("x".repeat(201)),
                ..argv(&["x"])
            },
            "name",
        ),
        (
            JobRequest {
                chdir: Some("relative".into()),
                ..argv(&["x"])
            },
            "chdir",
        ),
        (
            JobRequest {
                chdir: None,
                ..argv(&["x"])
            },
            "chdir",
        ),
        (
            JobRequest {
                script: Some("#!/bin/sh\n".into()),
                ..argv(&["x"])
            },
            "command",
        ),
        (
            JobRequest {
                script: Some("no shebang".into()),
                ..argv(&[])
            },
            "script",
        ),
        (
            JobRequest {
                env: [("1BAD".to_string(), "v".to_string())].into(),
                ..argv(&["x"])
            },
            "env",
        ),
    ];
    for (req, field) in cases {
        let e = req.resolve().unwrap_err();
        assert_eq!(e.field, field, "{e}");
    }
}

#[test]
fn limits_are_reported() {
    let e = JobRequest {
        cpus: Some(0),
        ..argv(&["x"])
    }
    .resolve()
    .unwrap_err();
    assert_eq!(e.limit.as_deref(), Some("1 to 65536"));
}

#[test]
fn script_errors_keep_the_line_number() {
    let req = JobRequest {
        script: Some("#!/bin/sh\n#SBATCH -J ok\n#SBATCH --time=later\n".into()),
        chdir: Some("/tmp".into()),
        ..Default::default()
    };
    let e = req.resolve().unwrap_err();
    assert_eq!(e.field, "script");
    assert!(e.message.starts_with("line 3:"), "{e}");
}

fn script(body: &str) -> JobRequest {
    JobRequest {
        script: Some(format!("#!/bin/sh\n{body}true\n")),
        chdir: Some("/tmp".into()),
        ..Default::default()
    }
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

#[test]
fn gpus_per_task_and_per_node_give_the_job_its_gpus() {
    let r = script("#SBATCH --gpus-per-task=1 -n 1\n")
        .resolve()
        .unwrap();
    assert_eq!(
        r.spec.resources.gpus, 1,
        "--gpus-per-task=1 -n 1 gets its GPU"
    );
    let r = script("#SBATCH --gpus-per-node=h100:4 -N 1\n")
        .resolve()
        .unwrap();
    assert_eq!(
        (r.spec.resources.gpus, r.spec.gpu_type.as_deref()),
        (4, Some("h100"))
    );
    let r = script("#SBATCH --gpus=2 --gpus-per-node=2\n")
        .resolve()
        .unwrap();
    assert_eq!(r.spec.resources.gpus, 2);
    let e = script("#SBATCH --gpus=2 --gpus-per-task=1\n")
        .resolve()
        .unwrap_err();
    assert_eq!(e.field, "gpus");
    assert!(e.message.contains("--gpus and --gpus-per-task"), "{e}");
}

#[test]
fn cpus_and_memory_per_gpu_and_per_cpu_multiply_out() {
    let r = script("#SBATCH -G 2 --cpus-per-gpu=4 --mem-per-gpu=10G\n")
        .resolve()
        .unwrap();
    assert_eq!(r.spec.resources.cpus, 8);
    assert_eq!(r.spec.resources.mem_mb, 20 * 1024);
    let r = script("#SBATCH -c 4 --mem-per-cpu=2G\n").resolve().unwrap();
    assert_eq!(r.spec.resources.mem_mb, 8 * 1024);
    for (body, field) in [
        ("#SBATCH -c 2 --cpus-per-gpu=2 -G 1\n", "cpus"),
        ("#SBATCH --cpus-per-gpu=2\n", "cpus"),
        ("#SBATCH --mem=1G --mem-per-cpu=1G\n", "mem"),
        ("#SBATCH --mem-per-gpu=1G\n", "mem"),
    ] {
        let e = script(body).resolve().unwrap_err();
        assert_eq!(e.field, field, "{body}: {e}");
    }
}

#[test]
fn options_given_with_the_request_win_over_the_script_family_by_family() {
    let mut r = script("#SBATCH --mem=64G -c 2 -J from-script -G 1\n");
    r.options = words(&["--mem-per-cpu=1G", "-J", "from-options"]);
    let s = r.resolve().unwrap().spec;
    assert_eq!(s.resources.mem_mb, 2 * 1024, "the script's --mem gives way");
    assert_eq!(s.name, "from-options");
    assert_eq!(s.resources.gpus, 1);
    r.name = Some("from-flag".into());
    assert_eq!(r.resolve().unwrap().spec.name, "from-flag");
}

#[test]
fn refusals_name_where_they_were_written() {
    let e = script("#SBATCH --nodelist=n[1-\n").resolve().unwrap_err();
    assert_eq!(e.field, "script");
    assert!(
        e.message
            .starts_with("line 2: --nodelist=n[1-: \"n[1-\": a [ without its ]"),
        "{e}"
    );
    let ok = script("#SBATCH -w gpu[01-02] -x n3\n").resolve().unwrap();
    assert_eq!(ok.spec.nodelist, ["gpu01", "gpu02"]);
    assert_eq!(ok.spec.exclude, ["n3"]);
    let long = script("#SBATCH --nodelist=a1 --exclude=b[1-2]\n")
        .resolve()
        .unwrap();
    assert_eq!(
        (long.spec.nodelist, long.spec.exclude),
        (
            vec!["a1".to_string()],
            vec!["b1".to_string(), "b2".to_string()]
        )
    );
    let mut r = argv(&["true"]);
    r.options = words(&["-N", "3-1"]);
    let e = r.resolve().unwrap_err();
    assert_eq!(e.field, "options");
    assert!(
        e.message
            .starts_with("-N 3-1: the maximum is below the minimum"),
        "{e}"
    );
}

#[test]
fn nodes_and_tasks_multiply_what_is_asked_per_node_and_per_task() {
    let resolve = |opts: &[&str]| {
        let mut r = argv(&["true"]);
        r.options = words(opts);
        r.resolve()
    };
    // Two nodes, four tasks: GPUs per node and memory per node count twice,
    // CPUs per task four times.
    let s = resolve(&[
        "-N",
        "2",
        "-n",
        "4",
        "--gpus-per-node=h100:2",
        "-c",
        "3",
        "--mem=8G",
    ])
    .unwrap()
    .spec;
    assert_eq!(
        (s.geometry.nodes, s.geometry.tasks, s.geometry.gpus_per),
        (2, 4, GpusPer::Node)
    );
    assert_eq!(
        (s.resources.gpus, s.resources.cpus, s.resources.mem_mb),
        (4, 12, 16 * 1024)
    );
    assert_eq!(s.gpu_type.as_deref(), Some("h100"));
    // --ntasks-per-node gives the tasks; --gpus-per-task counts per task.
    let s = resolve(&["-N", "2", "--ntasks-per-node=4", "--gpus-per-task=1"])
        .unwrap()
        .spec;
    assert_eq!((s.geometry.tasks, s.resources.gpus), (8, 8));
    assert_eq!(s.geometry.tasks_per_node, Some(4));
    // Without -n, one task per node; a range counts its largest.
    let s = resolve(&["-N", "2-3", "--gpus-per-node=1"]).unwrap().spec;
    assert_eq!((s.geometry.tasks, s.resources.gpus), (2, 3));
    assert_eq!(s.geometry.nodes_text(), "2-3");
    // Fewer tasks than nodes, or more than fit, are refused.
    let e = resolve(&["-N", "4", "-n", "2"]).unwrap_err();
    assert_eq!(e.field, "ntasks");
    let e = resolve(&["-N", "1", "-n", "9", "--ntasks-per-node=8"]).unwrap_err();
    assert!(e.message.contains("do not fit 8 per node"), "{e}");
    assert!(resolve(&["-n", "1"]).unwrap().spec.geometry.is_single());
}

#[test]
fn wrap_makes_a_script_and_script_arguments_are_kept() {
    let mut r = JobRequest {
        chdir: Some("/tmp".into()),
        options: words(&["--wrap", "echo hi; hostname"]),
        ..Default::default()
    };
    let s = r.resolve().unwrap().spec;
    assert_eq!(s.name, "wrap");
    let JobCommand::Script(text) = &s.command else {
        panic!("a script");
    };
    assert!(
        text.starts_with("#!/bin/sh\n") && text.contains("echo hi; hostname\n"),
        "{text}"
    );
    r.args = words(&["a"]);
    assert_eq!(r.resolve().unwrap_err().field, "args");
    r.script = Some("#!/bin/sh\ntrue\n".into());
    r.args = Vec::new();
    assert_eq!(
        r.resolve().unwrap_err().field,
        "options",
        "a script and --wrap"
    );

    let mut r = script("");
    r.args = words(&["", "two words", "3"]);
    assert_eq!(r.resolve().unwrap().spec.args, ["", "two words", "3"]);
    let mut r = argv(&["echo"]);
    r.args = words(&["x"]);
    assert_eq!(r.resolve().unwrap_err().field, "args");
}

#[test]
fn export_filters_the_environment_sent() {
    let mut r = script("#SBATCH --export=NONE\n");
    r.env = BTreeMap::from([("SECRET".into(), "x".into())]);
    assert!(r.resolve().unwrap().spec.env.is_empty());
    r.options = words(&["--export=SECRET,MODE=fast"]);
    let env = r.resolve().unwrap().spec.env;
    assert_eq!(env.get("SECRET").map(String::as_str), Some("x"));
    assert_eq!(env.get("MODE").map(String::as_str), Some("fast"));
}

#[test]
fn stored_texts_are_bounded_and_printable() {
    for body in [
        format!("#SBATCH --comment={}\n", "x".repeat(MAX_NAME_LEN + 1)),
        format!(
            "#SBATCH --mail-user={}@example.org\n",
            "a".repeat(MAX_NAME_LEN)
        ),
    ] {
        let e = script(&body).resolve().unwrap_err();
        assert!(e.limit.is_some(), "{e}");
    }
    let mut r = argv(&["true"]);
    r.options = vec!["--comment=line\nbreak".into()];
    assert_eq!(r.resolve().unwrap_err().field, "comment");
}

#[test]
fn comment_partition_and_mail_are_stored() {
    let s = script("#SBATCH -p h100 --comment='sweep 3' --mail-type=END\n")
        .resolve()
        .unwrap();
    assert_eq!(s.spec.partition.as_deref(), Some("h100"));
    assert_eq!(s.spec.comment.as_deref(), Some("sweep 3"));
    assert_eq!(
        s.spec.mail.as_ref().and_then(|m| m.types.as_deref()),
        Some("END")
    );
    assert!(
        s.warnings.iter().any(|w| w.contains("no mail")),
        "{:?}",
        s.warnings
    );
}
