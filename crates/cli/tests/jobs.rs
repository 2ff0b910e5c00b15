//! End to end: `aisc serve` + the `aisc` CLI running real processes.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::{Server, history};
use std::time::Duration;

#[test]
fn first_start_writes_a_private_admin_token_and_later_starts_keep_everything() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut server = Server::start(data.path(), &["--fake-gpus", "1"]);
    let token_file = server.data_dir.join("admin-token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        server.log.lock().unwrap().contains("admin-token"),
        "says where the token is"
    );
    assert!(
        !server.log.lock().unwrap().contains(&server.token()),
        "never prints the token"
    );
    assert_eq!(server.ok(work.path(), &["whoami"]).trim(), "admin (admin)");
    let id = server.submit(work.path(), &["--", "true"]);
    server.wait_state(work.path(), id, "completed");
    let token = server.token();
    server.stop();

    let server = Server::start(data.path(), &["--fake-gpus", "1"]);
    assert_eq!(server.token(), token, "the token survives a restart");
    assert!(!server.log.lock().unwrap().contains("created the admin"));
    assert_eq!(server.show(work.path(), id)["state"], "completed");
}

#[test]
fn a_command_runs_and_its_output_state_and_usage_are_reported() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--fake-gpus", "2"]);
    let id = server.submit(
        work.path(),
        &[
            "--gpus",
            "1",
            "--cpus",
            "2",
            "--mem",
            "4G",
            "--time",
            "10m",
            "--name",
            "hello",
            "--",
            "python3",
            "-c",
            "print(42)",
        ],
    );
    let job = server.wait_state(work.path(), id, "completed");
    assert_eq!(job["id"], id);
    assert_eq!(job["name"], "hello");
    assert_eq!(job["exit_code"], 0);
    assert_eq!(job["reason"], "exited with status 0");
    assert_eq!(job["gpu_ids"].as_array().unwrap().len(), 1);
    assert_eq!(job["gpus_fake"], true);
    let wall = job["wall_seconds"].as_f64().unwrap();
    assert!(wall > 0.0);
    assert!(
        (job["gpu_seconds"].as_f64().unwrap() - wall).abs() < 1e-6,
        "1 GPU: GPU-seconds = wall seconds"
    );
    assert!(
        (job["cpu_seconds"].as_f64().unwrap() - 2.0 * wall).abs() < 1e-6,
        "2 CPUs"
    );
    let h = history(&job);
    assert_eq!(h.len(), 4, "{h:?}");
    assert!(h[0].starts_with("-->pending: submitted"), "{h:?}");
    assert!(h[1].starts_with("pending->admitted: placed on"), "{h:?}");
    assert!(h[2].starts_with("admitted->running"), "{h:?}");
    assert!(h[3].starts_with("running->completed"), "{h:?}");
    assert_eq!(server.ok(work.path(), &["logs", &id.to_string()]), "42\n");

    let table = server.ok(work.path(), &["jobs"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.lines().any(|l| l.starts_with(&id.to_string())
            && l.contains("completed")
            && l.contains("(fake)")),
        "{table}"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&server.ok(work.path(), &["jobs", "--json", "--state", "completed"]))
            .unwrap();
    assert_eq!(listed[0]["id"], id);
    assert!(listed[0]["reason"].is_string());
    let none: serde_json::Value =
        serde_json::from_str(&server.ok(work.path(), &["jobs", "--json", "--state", "running"]))
            .unwrap();
    assert_eq!(none.as_array().unwrap().len(), 0);
}

#[test]
fn jobs_see_their_gpus_environment_and_working_directory() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--fake-gpus", "4"]);
    let first = server.submit(work.path(), &["-G", "3", "--", "sleep", "5"]);
    server.wait_state(work.path(), first, "running");
    let script = "echo gpus=$CUDA_VISIBLE_DEVICES id=$AISC_JOB_ID slurm=$SLURM_JOB_ID dir=$(pwd) mine=$MY_VAR tok=$AISC_TOKEN";
    // MY_VAR is in the CLI's environment and travels as with sbatch --export=ALL; the token never does.
    let out = server.aisc_env(
        work.path(),
        &["submit", "-G", "1", "--", "sh", "-c", script],
        &[("MY_VAR", "v1")],
    );
    assert!(out.status.success());
    let id: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    server.wait_state(work.path(), id, "completed");
    let out = server.ok(work.path(), &["logs", &id.to_string()]);
    let dir = std::fs::canonicalize(work.path()).unwrap();
    assert_eq!(
        out,
        format!(
            "gpus=3 id={id} slurm={id} dir={} mine=v1 tok=\n",
            dir.display()
        )
    );
    let shown = server.show(work.path(), id);
    assert!(
        shown["env_names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "MY_VAR")
    );
    assert!(
        !serde_json::to_string(&shown).unwrap().contains("v1"),
        "values are not shown back"
    );
    server.ok(work.path(), &["cancel", &first.to_string()]);
}

#[test]
fn per_task_resources_script_arguments_wrap_and_refusals_as_sbatch_has_them() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--fake-gpus", "h100:2"]);
    let w = work.path();
    std::fs::write(
        w.join("job.sh"),
        "#!/bin/sh\n#SBATCH -N 1 -n 1 --gpus-per-task=1 --cpus-per-gpu=2 --mem-per-gpu=512M\n\
         #SBATCH -p local --comment='sweep 7' --export=NONE,MODE=fast\n\
         echo \"args=$1/$2/$# gpus=$CUDA_VISIBLE_DEVICES mode=$MODE secret=${SECRET:-none}\"\n",
    )
    .unwrap();
    let out = server.aisc_env(
        w,
        &["submit", "job.sh", "a b", "--lr=3"],
        &[("SECRET", "x")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let job = server.wait_state(w, id, "completed");
    assert_eq!(
        (job["gpus"].as_u64(), job["cpus"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(job["mem_mb"], 512);
    let log = server.ok(w, &["logs", &id.to_string()]);
    assert_eq!(log, "args=a b/--lr=3/2 gpus=0 mode=fast secret=none\n");
    let shown = server.ok(w, &["show", &id.to_string()]);
    assert!(
        shown.contains("sweep 7") && shown.contains("local"),
        "{shown}"
    );

    // --exclusive: the whole host, all its GPUs, CPUs and memory, whatever else it asked.
    let id = server.submit(
        w,
        &[
            "--exclusive",
            "--gpus",
            "1",
            "--",
            "sh",
            "-c",
            "echo $CUDA_VISIBLE_DEVICES",
        ],
    );
    let job = server.wait_state(w, id, "completed");
    let nodes: serde_json::Value =
        serde_json::from_str(&server.ok(w, &["nodes", "--json"])).unwrap();
    assert_eq!(job["gpus"], 2, "{job:#}");
    assert_eq!(job["cpus"], nodes[0]["cpus"], "{job:#} {nodes:#}");
    assert_eq!(server.ok(w, &["logs", &id.to_string()]), "0,1\n");
    assert!(
        server
            .ok(w, &["show", &id.to_string()])
            .contains("Exclusive   whole nodes")
    );
    // -w may name this host's one node; excluding it could never run.
    let me = nodes[0]["name"].as_str().unwrap();
    let id = server.submit(w, &["-w", me, "--", "true"]);
    server.wait_state(w, id, "completed");
    let out = server.aisc(w, &["submit", "-x", me, "--", "true"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("it excludes {me}, this host's one node")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // --wrap runs a command as a sh script, named wrap.
    let id = server.ok(w, &["submit", "--wrap", "echo wrapped; echo $0 >&2"]);
    let job = server.wait_state(w, id.trim().parse::<i64>().unwrap(), "completed");
    assert_eq!(job["name"], "wrap");

    // Refusals name the directive, its line and why; nothing is submitted.
    let before = server.ok(w, &["jobs", "--json"]);
    std::fs::write(
        w.join("arr.sh"),
        "#!/bin/sh\n#SBATCH -J sweep\n#SBATCH --exclusive=user\ntrue\n",
    )
    .unwrap();
    for (args, said) in [
        (
            &["submit", "arr.sh"][..],
            "script: line 3: --exclusive=user: aisc gives an exclusive job whole nodes",
        ),
        (
            &["submit", "-N", "2", "--", "true"][..],
            "--nodes=2: this centre runs jobs on one host (local engine); use the Slurm engine for multi-node jobs",
        ),
        (
            &["submit", "-p", "a100", "--", "true"][..],
            "partition: project default has no active grant of resource class a100",
        ),
        (
            &["submit", "--exclude", "n1", "--", "true"][..],
            "--exclude=n1: there is no node n1 here",
        ),
        (
            &["submit", "-w", "n[1-2]", "--", "true"][..],
            "--nodelist=n1,n2: there is no node n1 here",
        ),
    ] {
        let out = server.aisc(w, args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(said), "{args:?}: {err}");
    }
    assert_eq!(
        server.ok(w, &["jobs", "--json"]),
        before,
        "nothing was submitted"
    );
}

#[test]
fn a_job_of_several_tasks_runs_srun_steps_each_task_with_its_own_gpu() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--fake-gpus", "h100:2"]);
    let w = work.path();
    std::fs::write(
        w.join("tasks.sh"),
        "#!/bin/sh\n#SBATCH -n 2 --gpus-per-task=1 -c 1\n\
         echo \"batch: $SLURM_NTASKS tasks, world $WORLD_SIZE\"\n\
         srun sh -c 'echo \"task $SLURM_PROCID gpu $CUDA_VISIBLE_DEVICES\"' | sort\n\
         srun -n 2 sh -c 'exit $SLURM_PROCID'; echo \"step: $?\"\n\
         srun -n 3 true || echo refused\n",
    )
    .unwrap();
    let id = server.submit(w, &["tasks.sh"]);
    let job = server.wait_state(w, id, "completed");
    assert_eq!(
        (job["gpus"].as_u64(), job["cpus"].as_u64()),
        (Some(2), Some(2)),
        "GPUs and CPUs per task, times the tasks: {job:#}"
    );
    let log = server.ok(w, &["logs", &id.to_string()]);
    assert!(
        log.starts_with("batch: 2 tasks, world 2\ntask 0 gpu 0\ntask 1 gpu 1\nstep: 1\n"),
        "{log}"
    );
    assert!(
        log.contains("srun: --ntasks=3: the job has 2 task(s)") && log.ends_with("refused\n"),
        "{log}"
    );
    let shown = server.ok(w, &["show", &id.to_string()]);
    assert!(shown.contains("tasks"), "{shown}");
}

#[test]
fn a_signal_before_the_time_limit_lets_a_job_save_its_work() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let w = work.path();
    std::fs::write(
        w.join("ckpt.sh"),
        "#!/bin/sh\n#SBATCH -t 0:10 --signal=USR1@8\n\
         trap 'echo checkpoint saved; exit 0' USR1\nwhile :; do sleep 0.2; done\n",
    )
    .unwrap();
    let id = server.submit(w, &["ckpt.sh"]);
    let job = server.wait_state(w, id, "completed");
    // The whole process group gets it: the shell's `sleep` dies of it, the shell traps it.
    let log = server.ok(w, &["logs", &id.to_string()]);
    assert!(log.ends_with("checkpoint saved\n"), "{log}");
    assert!(job["signal"].is_null(), "{job:#}");
}

#[test]
fn a_job_that_requeues_itself_resumes_from_its_checkpoint_with_its_id() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--fake-gpus", "1"]);
    let w = work.path();
    // The job's user's token, as `aisc login` would keep it for the job to read.
    std::fs::write(w.join("tok"), server.token()).unwrap();
    std::fs::write(
        w.join("ckpt.sh"),
        "#!/bin/sh\n#SBATCH -t 0:10 --signal=USR1@8 -o ckpt.out --gpus=1\n\
         if [ -f step ]; then echo \"run $SLURM_RESTART_COUNT of $SLURM_JOB_ID resumes at step $(cat step)\"; exit 0; fi\n\
         echo \"run ${SLURM_RESTART_COUNT:-0} of $SLURM_JOB_ID starts\"\n\
         n=0\n\
         trap 'echo $n > step; echo checkpoint saved; AISC_TOKEN=$(cat tok) \"$AISC_BIN\" requeue \"$SLURM_JOB_ID\"; exit 0' USR1\n\
         while :; do n=$((n + 1)); sleep 0.1; done\n",
    )
    .unwrap();
    let out = server.aisc_env(
        w,
        &["submit", "ckpt.sh"],
        &[("AISC_BIN", env!("CARGO_BIN_EXE_aisc"))],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let job = server.wait_state(w, id, "completed");
    assert_eq!(job["restarts"], 1, "{job:#}");
    let step: u64 = std::fs::read_to_string(w.join("step"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(step > 0, "it counted before its checkpoint");
    // One output file for both runs: the next run appends to it.
    let log = std::fs::read_to_string(w.join("ckpt.out")).unwrap();
    assert!(
        log.starts_with(&format!("run 0 of {id} starts\n")) && log.contains("checkpoint saved\n"),
        "{log}"
    );
    assert!(
        log.ends_with(&format!("run 1 of {id} resumes at step {step}\n")),
        "{log}"
    );
    let detail: serde_json::Value =
        serde_json::from_str(&server.ok(w, &["show", "--json", &id.to_string()])).unwrap();
    let runs = detail["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{detail:#}");
    assert_eq!(runs[0]["run"], 0);
    assert_eq!(runs[0]["reason"], "requeued by admin");
    let events: Vec<String> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}->{}", e["from"].as_str().unwrap_or("-"), e["to"]))
        .collect();
    assert!(
        events.iter().any(|e| e == "running->\"pending\""),
        "{events:?}"
    );
    let shown = server.ok(w, &["show", &id.to_string()]);
    assert!(
        shown.contains("Restarts    1") && shown.contains("Run 0"),
        "{shown}"
    );
    // Each run was settled on its own: two lines of the month's statement,
    // which add up to the job's charge.
    let month = &job["ended_at"].as_str().unwrap()[..7];
    let st: serde_json::Value = serde_json::from_str(&server.ok(
        w,
        &[
            "statement",
            "--project",
            "default",
            "--month",
            month,
            "--json",
        ],
    ))
    .unwrap();
    let lines: Vec<&serde_json::Value> = st["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["job"] == id)
        .collect();
    assert_eq!(
        lines.iter().map(|l| l["run"].as_u64()).collect::<Vec<_>>(),
        [Some(0), Some(1)],
        "{st:#}"
    );
    assert!(
        lines[0]["gpu_seconds"].as_f64().unwrap() >= 2.0,
        "the first run's own usage: {st:#}"
    );
    let cents = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| s.strip_prefix("HK$"))
            .map(|s| s.replace('.', "").parse::<i64>().unwrap())
            .unwrap()
    };
    assert_eq!(
        cents(&lines[0]["charge"]) + cents(&lines[1]["charge"]),
        cents(&job["charge"]),
        "{st:#} {job:#}"
    );

    // Refused, saying why: an ended job, a waiting one, one that asked never to be requeued.
    let once = server.submit(w, &["--no-requeue", "--", "sleep", "30"]);
    server.wait_state(w, once, "running");
    let later = server.submit(w, &["--begin", "now+1hour", "--", "true"]);
    for (job, said) in [
        (id, "has ended (completed)"),
        (later, "waits: it has no run to end"),
        (once, "was submitted with --no-requeue"),
    ] {
        let out = server.aisc(w, &["requeue", &job.to_string()]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(said), "{job}: {err}");
    }
    server.ok(w, &["cancel", &once.to_string(), &later.to_string()]);
}

#[test]
fn a_task_of_an_array_is_waited_for_and_aftercorr_pairs_tasks() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let w = work.path();
    // Array a: its task 1 fails.
    let a = server.submit(
        w,
        &[
            "--array",
            "0-2",
            "--wrap",
            "sleep 1; exit $((SLURM_ARRAY_TASK_ID == 1))",
        ],
    );
    // b's tasks each wait for the same task of a; c for task 2 of a alone.
    let after = format!("aftercorr:{a}");
    let b = server.submit(
        w,
        &[
            "--array",
            "0-2",
            "-d",
            &after,
            "--wrap",
            "echo pair $SLURM_ARRAY_TASK_ID",
        ],
    );
    let task2 = format!("afterok:{a}_2");
    let c = server.submit(w, &["-d", &task2, "--wrap", "echo after one task"]);
    server.wait_state(w, c, "completed");
    for t in [0, 2] {
        server.wait_state(w, format!("{b}_{t}"), "completed");
        let log = server.ok(w, &["logs", &format!("{b}_{t}")]);
        assert_eq!(log, format!("pair {t}\n"));
    }
    let never = server.wait_state(w, format!("{b}_1"), "cancelled");
    assert!(
        never["reason"].as_str().unwrap().contains(&format!(
            "DependencyNeverSatisfied: job {a}_1 ended failed (aftercorr)"
        )),
        "{never:#}"
    );
    // aftercorr is for arrays; a task that does not exist never comes.
    let out = server.aisc(w, &["submit", "-d", &after, "--wrap", "true"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("aftercorr pairs each task of a job array"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let missing = format!("afterok:{a}_7");
    let d = server.submit(w, &["-d", &missing, "--wrap", "true"]);
    let gone = server.wait_state(w, d, "cancelled");
    assert!(
        gone["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("job {a}_7 does not exist")),
        "{gone:#}"
    );
}

#[test]
fn a_signal_with_b_goes_to_the_batch_shell_alone() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let w = work.path();
    std::fs::write(
        w.join("b.sh"),
        "#!/bin/sh\n#SBATCH -t 0:10 --signal=B:USR1@8\n\
         trap 'echo batch got USR1' USR1\n\
         sh -c 'trap \"echo step got USR1\" USR1; sleep 4; echo step done' &\n\
         wait; wait\necho end\n",
    )
    .unwrap();
    let id = server.submit(w, &["b.sh"]);
    server.wait_state(w, id, "completed");
    let log = server.ok(w, &["logs", &id.to_string()]);
    assert_eq!(log, "batch got USR1\nstep done\nend\n");
}

#[test]
fn a_job_with_a_start_time_waits_for_it() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let w = work.path();
    let t0 = std::time::Instant::now();
    let id = server.submit(w, &["--begin", "now+3", "--", "true"]);
    server.wait_reason(w, id, "BeginTime");
    let explain = server.ok(w, &["queue", "--explain", &id.to_string()]);
    assert!(
        explain.contains("Waits for: its start time (--begin)"),
        "{explain}"
    );
    assert!(server.ok(w, &["show", &id.to_string()]).contains("Begins"));
    server.wait_state(w, id, "completed");
    assert!(
        t0.elapsed() >= std::time::Duration::from_secs(3),
        "not before its time"
    );
    // Hold and release a waiting job: it keeps waiting for its time afterwards.
    let later = server.submit(w, &["--begin", "now+1day", "--", "true"]);
    server.wait_reason(w, later, "BeginTime");
    server.ok(w, &["hold", &later.to_string()]);
    assert_eq!(server.show(w, later)["reason"], "Held");
    let again = server.aisc(w, &["hold", &later.to_string()]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("held already"));
    server.ok(w, &["release", &later.to_string()]);
    server.wait_reason(w, later, "BeginTime");
    let ended = server.aisc(w, &["hold", &id.to_string()]);
    assert!(!ended.status.success());
    assert!(String::from_utf8_lossy(&ended.stderr).contains("not pending"));
    let out = server.aisc(w, &["submit", "-b", "soon", "--", "true"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--begin=soon: \"soon\" is not a start time")
    );
}

#[test]
fn dependencies_wait_start_or_cancel_as_slurm_has_them() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let w = work.path();
    let first = server.submit(
        w,
        &[
            "-J",
            "first",
            "--",
            "sh",
            "-c",
            "while [ ! -f go ]; do sleep 0.1; done; exit 3",
        ],
    );
    server.wait_state(w, first, "running");
    let ok = server.submit(w, &["-d", &format!("afterok:{first}"), "--", "true"]);
    let not_ok = server.submit(
        w,
        &["--dependency", &format!("afternotok:{first}"), "--", "true"],
    );
    let any = server.submit(
        w,
        &[
            "-d",
            &format!("afterany:{first}?afterok:{first}"),
            "--",
            "true",
        ],
    );
    let started = server.submit(w, &["-d", &format!("after:{first}"), "--", "true"]);
    server.wait_state(w, started, "completed");
    // While the first runs, the others wait for it, and say so.
    let explain = server.ok(w, &["queue", "--explain", &ok.to_string()]);
    assert!(explain.contains("Waiting: Dependency"), "{explain}");
    assert!(
        explain.contains(&format!("Waits for: job {first} to end (afterok)")),
        "{explain}"
    );
    assert_eq!(server.show(w, not_ok)["state"], "pending");
    std::fs::write(w.join("go"), "").unwrap();
    server.wait_state(w, first, "failed");
    let never = server.wait_state(w, ok, "cancelled");
    let reason = never["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with(&format!(
            "DependencyNeverSatisfied: job {first} ended failed (afterok)"
        )),
        "{never:#}"
    );
    assert!(never["started_at"].is_null(), "it never ran: {never:#}");
    assert!(never["ended_at"].is_string(), "{never:#}");
    server.wait_state(w, not_ok, "completed");
    server.wait_state(w, any, "completed");
    // singleton: the second of a name waits until the first has ended.
    let one = server.submit(
        w,
        &[
            "-J",
            "solo",
            "--",
            "sh",
            "-c",
            "while [ ! -f go2 ]; do sleep 0.1; done",
        ],
    );
    server.wait_state(w, one, "running");
    let two = server.submit(w, &["-J", "solo", "-d", "singleton", "--", "true"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(server.show(w, two)["state"], "pending");
    std::fs::write(w.join("go2"), "").unwrap();
    server.wait_state(w, two, "completed");
    // A job that does not exist, or that the user may not see, is refused alike.
    let out = server.aisc(w, &["submit", "-d", "afterok:999999", "--", "true"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("job 999999 not found"), "{err}");
    server.user_with_password(w, "mallory", "user", "correct horse battery");
    let token = server.login(w, "mallory", "correct horse battery");
    let dep = format!("afterok:{first}");
    let out = server.aisc_env(
        w,
        &["submit", "-d", &dep, "--", "true"],
        &[("AISC_TOKEN", &token)],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("job {first} not found")), "{err}");
}

#[test]
fn batch_scripts_honour_sbatch_directives_and_flags_override_them() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--fake-gpus", "h100:2"]);
    let script = work.path().join("job.sh");
    std::fs::write(
        &script,
        "#!/bin/bash\n#SBATCH -J from-script\n#SBATCH --time=0:30\n#SBATCH -c 2\n#SBATCH --mem=1G\n\
         #SBATCH --gres=gpu:h100:1\n#SBATCH -o out-%j.log\n#SBATCH --mail-type=END\n#SBATCH --bogus=1\n\
         echo \"name=$SLURM_JOB_NAME gpus=$CUDA_VISIBLE_DEVICES\"\necho to-stderr >&2\n",
    )
    .unwrap();
    let out = server.aisc(work.path(), &["submit", "-J", "from-flag", "job.sh"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let id: i64 = stdout.trim().parse().expect("only the id on stdout");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "warning: line 8: --mail-type: stored with the job; this centre sends no mail yet"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: line 9: unknown directive --bogus"),
        "{stderr}"
    );

    let job = server.wait_state(work.path(), id, "completed");
    assert_eq!(job["name"], "from-flag", "the flag wins over the script");
    assert_eq!(job["time_limit_s"], 30);
    assert_eq!(job["cpus"], 2);
    assert_eq!(job["mem_mb"], 1024);
    assert_eq!(job["gpus"], 1);
    assert_eq!(job["gpu_type"], "h100");
    let log = std::fs::read_to_string(work.path().join(format!("out-{id}.log"))).unwrap();
    assert_eq!(
        log, "name=from-flag gpus=0\nto-stderr\n",
        "-o honoured, stderr merged as with sbatch"
    );
    assert_eq!(server.ok(work.path(), &["logs", &id.to_string()]), log);

    std::fs::write(
        &script,
        "#!/bin/bash\n#SBATCH -J ok\n#SBATCH -t forever\necho\n",
    )
    .unwrap();
    let out = server.aisc(work.path(), &["submit", "job.sh"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("script: line 3:") && err.contains("-t"),
        "{err}"
    );
    let jobs: serde_json::Value =
        serde_json::from_str(&server.ok(work.path(), &["jobs", "--json"])).unwrap();
    assert_eq!(
        jobs.as_array().unwrap().len(),
        1,
        "the malformed script stored nothing"
    );
}

#[test]
fn cancel_stops_pending_and_running_jobs() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--fake-gpus", "1", "--kill-grace", "2s"]);
    let running = server.submit(
        work.path(),
        &["-G", "1", "--", "sh", "-c", "sleep 60 & sleep 60"],
    );
    server.wait_state(work.path(), running, "running");
    let pending = server.submit(work.path(), &["-G", "1", "--", "true"]);
    let p = server.wait_reason(work.path(), pending, "Resources");
    assert_eq!(p["state"], "pending");

    server.ok(work.path(), &["cancel", &pending.to_string()]);
    let p = server.wait_state(work.path(), pending, "cancelled");
    assert_eq!(p["reason"], "cancelled by admin");
    assert!(p["started_at"].is_null());

    server.ok(work.path(), &["cancel", &running.to_string()]);
    let r = server.wait_state(work.path(), running, "cancelled");
    assert_eq!(r["reason"], "cancelled by admin");
    assert_eq!(r["signal"], 15, "SIGTERM was enough");
    assert!(
        r["wall_seconds"].as_f64().unwrap() < 2.0,
        "no wait for the grace period when the group is gone"
    );

    let again = server.aisc(work.path(), &["cancel", &running.to_string()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already ended"));
}

#[test]
fn time_limits_send_sigterm_then_sigkill() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--fake-gpus", "2", "--kill-grace", "1s"]);
    let polite = server.submit(work.path(), &["--time", "1s", "--", "sleep", "60"]);
    let stubborn = server.submit(
        work.path(),
        &["--time", "1s", "--", "sh", "-c", "trap '' TERM; sleep 60"],
    );
    let p = server.wait_state(work.path(), polite, "timed_out");
    assert_eq!(p["reason"], "time limit of 00:00:01 reached");
    assert_eq!(p["signal"], 15);
    let s = server.wait_state(work.path(), stubborn, "timed_out");
    assert_eq!(s["signal"], 9, "SIGKILL after the grace period");
    assert!(
        server.ok(work.path(), &["nodes"]).contains("0/2 (fake)"),
        "its GPUs are free again"
    );
    assert!(
        s["wall_seconds"].as_f64().unwrap() >= 2.0,
        "limit + grace: {s}"
    );
}

#[test]
fn jobs_that_do_not_fit_now_wait_and_start_when_resources_free() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--fake-gpus", "2"]);
    let big = server.submit(work.path(), &["-G", "2", "--", "sleep", "1.5"]);
    server.wait_state(work.path(), big, "running");
    let second = server.submit(work.path(), &["-G", "1", "--", "true"]);
    let third = server.submit(work.path(), &["-G", "1", "--", "true"]);
    assert_eq!(
        server.wait_state(work.path(), second, "pending")["reason"],
        "Resources"
    );
    assert_eq!(
        server.wait_state(work.path(), third, "pending")["reason"],
        "Priority"
    );
    let b = server.wait_state(work.path(), big, "completed");
    let s = server.wait_state(work.path(), second, "completed");
    server.wait_state(work.path(), third, "completed");
    assert!(
        s["started_at"].as_str().unwrap() >= b["ended_at"].as_str().unwrap(),
        "waited for the GPUs"
    );

    let held = server.submit(work.path(), &["--hold", "--", "true"]);
    std::thread::sleep(Duration::from_millis(500));
    let h = server.show(work.path(), held);
    assert_eq!(
        (h["state"].as_str(), h["reason"].as_str()),
        (Some("pending"), Some("Held"))
    );
    server.ok(work.path(), &["release", &held.to_string()]);
    server.wait_state(work.path(), held, "completed");
}

#[test]
fn processes_left_behind_end_with_the_job() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let id = server.submit(
        work.path(),
        &["--", "sh", "-c", "sleep 300 & echo $! > bg.pid"],
    );
    server.wait_state(work.path(), id, "completed");
    let pid: i32 = std::fs::read_to_string(work.path().join("bg.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "the background process was killed: {stat}"
    );
}

#[test]
fn submit_wait_returns_the_jobs_exit_status() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let out = server.aisc(
        work.path(),
        &["submit", "--wait", "--", "sh", "-c", "exit 3"],
    );
    assert_eq!(out.status.code(), Some(3));
    let ok = server.aisc(work.path(), &["submit", "--wait", "--", "true"]);
    assert_eq!(ok.status.code(), Some(0));
}

#[test]
fn logs_follow_streams_until_the_job_ends() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let id = server.submit(
        work.path(),
        &[
            "--",
            "sh",
            "-c",
            "for i in 1 2 3; do echo line$i; sleep 0.3; done",
        ],
    );
    let out = server.ok(work.path(), &["logs", "--follow", &id.to_string()]);
    assert_eq!(out, "line1\nline2\nline3\n");
}

#[test]
fn login_stores_the_token_privately() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let token_file = server.data_dir.join("admin-token");
    let out = std::process::Command::new(common::AISC)
        .args(["login", "--token-file", token_file.to_str().unwrap()])
        .current_dir(work.path())
        .env("AISC_URL", &server.url)
        .env("AISC_CONFIG_DIR", work.path().join("cfg"))
        .env_remove("AISC_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = work.path().join("cfg/token");
    assert_eq!(
        std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Without AISC_TOKEN, the stored token is used.
    let who = std::process::Command::new(common::AISC)
        .arg("whoami")
        .current_dir(work.path())
        .env("AISC_URL", &server.url)
        .env("AISC_CONFIG_DIR", work.path().join("cfg"))
        .env_remove("AISC_TOKEN")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&who.stdout).trim(), "admin (admin)");

    std::fs::write(work.path().join("bad"), "aisc_nope\n").unwrap();
    let bad = server.aisc(work.path(), &["login", "--token-file", "bad"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid"));
}

#[test]
fn arrays_run_each_task_as_a_job_of_its_own_within_the_throttle() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let w = work.path();
    std::fs::write(
        w.join("sweep.sh"),
        "#!/bin/sh\n#SBATCH --array=0-3%2\n#SBATCH -o out-%A_%a.txt\n\
         echo task=$SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID count=$SLURM_ARRAY_TASK_COUNT \
         min=$SLURM_ARRAY_TASK_MIN max=$SLURM_ARRAY_TASK_MAX job=$SLURM_JOB_ID\n\
         while [ ! -f go-$SLURM_ARRAY_TASK_ID ]; do sleep 0.1; done\n",
    )
    .unwrap();
    let id = server.submit(w, &["sweep.sh"]);
    let ok = server.submit(w, &["-d", &format!("afterok:{id}"), "--", "true"]);
    let any = server.submit(w, &["-d", &format!("afterany:{id}"), "--", "true"]);
    let t0 = server.wait_state(w, format!("{id}_0"), "running");
    server.wait_state(w, format!("{id}_1"), "running");
    assert_eq!(t0["label"], format!("{id}_0"));
    assert_ne!(t0["id"], id, "a started task is a job of its own");
    // Two run (%2); the rest wait as one entry, folded.
    server.wait_reason(w, id, "JobArrayTaskLimit");
    let list = server.ok(w, &["jobs"]);
    assert!(list.contains(&format!("{id}_[2-3%2]")), "{list}");
    assert!(list.contains(&format!("{id}_1 ")), "{list}");
    // A waiting task is cancelled alone, and becomes a job of its own.
    server.ok(w, &["cancel", &format!("{id}_3")]);
    assert_eq!(server.show(w, format!("{id}_3"))["state"], "cancelled");
    let list = server.ok(w, &["jobs"]);
    assert!(list.contains(&format!("{id}_[2%2]")), "{list}");
    for t in 0..3 {
        std::fs::write(w.join(format!("go-{t}")), "").unwrap();
    }
    let last = server.wait_state(w, format!("{id}_2"), "completed");
    assert_eq!(last["id"], id, "the last task takes the array's own record");
    server.wait_state(w, format!("{id}_0"), "completed");
    server.wait_state(w, format!("{id}_1"), "completed");
    for t in 0..3 {
        let text = std::fs::read_to_string(w.join(format!("out-{id}_{t}.txt"))).unwrap();
        assert!(
            text.starts_with(&format!("task={t} of {id} count=4 min=0 max=3 job=")),
            "{text}"
        );
    }
    assert!(
        !w.join(format!("out-{id}_3.txt")).exists(),
        "task 3 never ran"
    );
    // afterok on the array: a task was cancelled, so it never holds.
    let never = server.wait_state(w, ok, "cancelled");
    assert!(
        never["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("DependencyNeverSatisfied"),
        "{never:#}"
    );
    server.wait_state(w, any, "completed");

    // The array's id cancels all of it: the running task and those waiting.
    let whole = server.submit(w, &["--array=0-5%1", "--", "sh", "-c", "sleep 30"]);
    server.wait_state(w, format!("{whole}_0"), "running");
    server.ok(w, &["cancel", &whole.to_string()]);
    server.wait_state(w, format!("{whole}_0"), "cancelled");
    let array = server.wait_state(w, whole, "cancelled");
    assert_eq!(array["label"], format!("{whole}_[1-5%1]"), "{array:#}");

    // Bad arrays are refused, naming the option and the limit.
    let out = server.aisc(w, &["submit", "--array=0-20000", "--", "true"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("10000") && err.contains("maximum array size"),
        "{err}"
    );
    let out = server.aisc(w, &["submit", "--array=3-1", "--", "true"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ends before it begins"));
    let out = server.aisc(w, &["show", &format!("{whole}_99")]);
    assert!(!out.status.success(), "no such task");
}

#[test]
fn a_waiting_job_is_changed_a_user_lowers_its_limit_and_an_administrator_may_raise_it() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--fake-gpus", "2"]);
    let w = work.path();
    server.user_with_password(w, "bob", "user", "correct horse battery");
    server.ok(w, &["member", "add", "default", "bob"]);
    let token = server.login(w, "bob", "correct horse battery");
    let bob = |args: &[&str]| server.aisc_env(w, args, &[("AISC_TOKEN", &token)]);
    let out = bob(&[
        "submit", "-H", "-G", "1", "-t", "1:00:00", "-J", "first", "--", "true",
    ]);
    assert!(out.status.success(), "{out:?}");
    let id: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let before = server.show(w, id);
    let out = bob(&["update", &id.to_string(), "-t", "30", "--name", "renamed"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("updated: time limit 00:30:00, name \"renamed\""),
        "{out:?}"
    );
    let after = server.show(w, id);
    assert_eq!(after["time_limit_s"], 1800);
    assert_eq!(after["name"], "renamed");
    let lien = |j: &serde_json::Value| {
        let text = j["lien"].as_str().unwrap_or_default();
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        digits
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("lien {text:?}"))
    };
    assert!(lien(&after) < lien(&before), "priced again: {after:#}");
    // Raising it is the administrators' to do; bad values name the field.
    for (args, said) in [
        (
            &["-t", "2:00:00"][..],
            "you may lower a time limit, not raise it",
        ),
        (&["-t", "soon"][..], "time"),
        (&["--qos", "gold"][..], "qos"),
        (&["--name", ""][..], "job name is blank"),
    ] {
        let mut all = vec!["update", "placeholder"];
        let id_s = id.to_string();
        all[1] = &id_s;
        all.extend_from_slice(args);
        let out = bob(&all);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(said), "{args:?}: {err}");
    }
    assert_eq!(server.show(w, id)["time_limit_s"], 1800, "nothing changed");
    server.ok(w, &["update", &id.to_string(), "-t", "2:00:00"]);
    assert_eq!(server.show(w, id)["time_limit_s"], 7200);
    // Only a waiting job changes.
    server.ok(w, &["release", &id.to_string()]);
    server.wait_state(w, id, "completed");
    let out = server.aisc(w, &["update", &id.to_string(), "-t", "10"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only a waiting job is changed"));
    // The record of who changed what.
    let audit = server.ok(w, &["audit", "list", "--action", "job.update"]);
    assert!(
        audit.contains("bob") && audit.contains("time limit 00:30:00"),
        "{audit}"
    );
}
