//! Every option `sbatch` documents, and what aisc does with it: honoured
//! with Slurm's meaning, or refused saying why. None is accepted and
//! ignored. (An option Slurm does not document stays a warning.)

/// Whether an option takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// `--opt=value` or `--opt value`.
    Value,
    /// A flag.
    Nothing,
    /// A flag that may carry `=value` (`--exclusive[=user]`).
    Optional,
}

/// What aisc does with an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Honoured with Slurm's meaning (see the README's table for limits).
    Honoured,
    /// Refused, for this reason.
    Refused(&'static str),
}

/// One documented option.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    /// Its spellings (`-N`, `--nodes`).
    pub names: &'static [&'static str],
    /// Whether it takes a value.
    pub takes: Takes,
    /// What aisc does with it.
    pub treatment: Treatment,
}

const fn honoured(names: &'static [&'static str], takes: Takes) -> Known {
    Known {
        names,
        takes,
        treatment: Treatment::Honoured,
    }
}

const fn refused(names: &'static [&'static str], takes: Takes, why: &'static str) -> Known {
    Known {
        names,
        takes,
        treatment: Treatment::Refused(why),
    }
}

use Takes::{Nothing, Optional, Value};

const PLACEMENT: &str =
    "aisc places jobs itself and does not bind tasks to sockets, cores or threads";
const NODES: &str = "aisc chooses a multi-node job's nodes itself, in one topology group, and ends the job if one of them fails";

/// The options of `sbatch` (Slurm 22.05 to 24.05).
pub const KNOWN: &[Known] = &[
    honoured(&["-J", "--job-name"], Value),
    honoured(&["-A", "--account"], Value),
    honoured(&["-t", "--time"], Value),
    honoured(&["-c", "--cpus-per-task"], Value),
    honoured(&["--mem"], Value),
    honoured(&["--mem-per-cpu"], Value),
    honoured(&["--mem-per-gpu"], Value),
    honoured(&["-G", "--gpus"], Value),
    honoured(&["--gres"], Value),
    honoured(&["--gpus-per-node"], Value),
    honoured(&["--gpus-per-task"], Value),
    honoured(&["--cpus-per-gpu"], Value),
    honoured(&["-N", "--nodes"], Value),
    honoured(&["-n", "--ntasks"], Value),
    honoured(&["--ntasks-per-node"], Value),
    honoured(&["-o", "--output"], Value),
    honoured(&["-e", "--error"], Value),
    honoured(&["-D", "--chdir"], Value),
    honoured(&["-H", "--hold"], Nothing),
    honoured(&["-q", "--qos"], Value),
    honoured(&["--requeue"], Nothing),
    honoured(&["--no-requeue"], Nothing),
    honoured(&["-p", "--partition"], Value),
    honoured(&["--export"], Value),
    honoured(&["--comment"], Value),
    honoured(&["--mail-type"], Value),
    honoured(&["--mail-user"], Value),
    honoured(&["--parsable"], Nothing),
    honoured(&["-W", "--wait"], Nothing),
    honoured(&["-Q", "--quiet"], Nothing),
    honoured(&["--wrap"], Value),
    honoured(&["--ignore-pbs"], Nothing),
    honoured(&["-a", "--array"], Value),
    honoured(&["-d", "--dependency"], Value),
    honoured(&["-b", "--begin"], Value),
    honoured(&["--signal"], Value),
    honoured(&["--exclusive"], Optional),
    honoured(&["-C", "--constraint"], Value),
    refused(
        &["--prefer"],
        Value,
        "this centre declares no node features: choose a GPU model with --gpus=TYPE:N",
    ),
    honoured(&["-w", "--nodelist"], Value),
    honoured(&["-x", "--exclude"], Value),
    refused(
        &["-F", "--nodefile"],
        Value,
        "aisc places jobs itself: a job cannot name its nodes",
    ),
    refused(
        &["--reservation"],
        Value,
        "this centre has no reservations: jobs run under their grants",
    ),
    refused(
        &["-L", "--licenses"],
        Value,
        "this centre manages no licenses",
    ),
    refused(
        &["--nice"],
        Optional,
        "a job's priority comes from its project's fair share, its QOS and its wait: it cannot be lowered by hand",
    ),
    refused(
        &["--priority"],
        Value,
        "a job's priority comes from its project's fair share, its QOS and its wait: it cannot be set by hand",
    ),
    refused(
        &["--wckey"],
        Value,
        "this centre keeps no workload keys: -A names the project charged",
    ),
    refused(
        &["--open-mode"],
        Value,
        "the engine decides: the local engine appends to an existing output file, Slurm follows its JobFileAppend setting",
    ),
    refused(&["-m", "--distribution"], Value, PLACEMENT),
    refused(&["--hint"], Value, PLACEMENT),
    refused(&["--threads-per-core"], Value, PLACEMENT),
    refused(&["--cores-per-socket"], Value, PLACEMENT),
    refused(&["--sockets-per-node"], Value, PLACEMENT),
    refused(&["-B", "--extra-node-info"], Value, PLACEMENT),
    refused(&["--ntasks-per-core"], Value, PLACEMENT),
    refused(&["--ntasks-per-socket"], Value, PLACEMENT),
    refused(&["--ntasks-per-gpu"], Value, PLACEMENT),
    refused(&["--cpu-bind"], Value, PLACEMENT),
    refused(&["--mem-bind"], Value, PLACEMENT),
    refused(&["--gpu-bind"], Value, PLACEMENT),
    refused(&["--gpus-per-socket"], Value, PLACEMENT),
    refused(&["--core-spec", "-S"], Value, PLACEMENT),
    refused(&["--thread-spec"], Value, PLACEMENT),
    refused(&["--mincpus"], Value, "ask for CPUs with -c"),
    refused(
        &["--tmp"],
        Value,
        "this centre does not allocate node-local scratch space",
    ),
    refused(
        &["--tres-per-task"],
        Value,
        "ask for GPUs with --gpus-per-task and CPUs with -c",
    ),
    refused(
        &["-s", "--oversubscribe"],
        Nothing,
        "aisc never gives a CPU or GPU to two jobs",
    ),
    refused(
        &["-O", "--overcommit"],
        Nothing,
        "aisc never gives a CPU or GPU to two jobs",
    ),
    refused(&["--contiguous"], Nothing, NODES),
    refused(&["--switches"], Value, NODES),
    refused(&["--spread-job"], Nothing, NODES),
    refused(&["--use-min-nodes"], Nothing, NODES),
    refused(&["--wait-all-nodes"], Value, NODES),
    refused(&["-k", "--no-kill"], Optional, NODES),
    refused(
        &["--kill-on-invalid-dep"],
        Value,
        "a job whose dependency can never be satisfied is always cancelled (DependencyNeverSatisfied)",
    ),
    refused(
        &["-M", "--clusters", "--cluster"],
        Value,
        "this centre is one cluster",
    ),
    refused(
        &["--cluster-constraint"],
        Value,
        "this centre is one cluster",
    ),
    refused(
        &["--uid"],
        Value,
        "a job runs as its submitter's account, never another's",
    ),
    refused(
        &["--gid"],
        Value,
        "a job runs as its submitter's account, never another's",
    ),
    refused(
        &["--get-user-env"],
        Optional,
        "the job's environment is the one submitted with it (--export)",
    ),
    refused(
        &["--export-file"],
        Value,
        "pass variables with --export or the job's environment",
    ),
    refused(
        &["--propagate"],
        Optional,
        "a job cannot raise its resource limits on this centre",
    ),
    refused(
        &["--deadline"],
        Value,
        "deadlines are not supported: give a time limit with -t",
    ),
    refused(&["--time-min"], Value, "give one time limit with -t"),
    refused(
        &["-I", "--immediate"],
        Optional,
        "a job waits in the queue until it can start",
    ),
    refused(
        &["--test-only"],
        Nothing,
        "aisc queue --explain says why a waiting job waits",
    ),
    refused(
        &["-i", "--input"],
        Value,
        "a batch job reads no standard input",
    ),
    refused(
        &["-v", "--verbose"],
        Nothing,
        "aisc submit has no verbose mode",
    ),
    refused(
        &["--acctg-freq"],
        Value,
        "aisc meters every job the same way",
    ),
    refused(&["--profile"], Value, "aisc does not profile jobs"),
    refused(&["--gpu-freq"], Value, "GPU clocks are set by the centre"),
    refused(&["--cpu-freq"], Value, "CPU clocks are set by the centre"),
    refused(&["--power"], Value, "power is managed by the centre"),
    refused(&["--reboot"], Nothing, "nodes are rebooted by the centre"),
    refused(&["--delay-boot"], Value, "nodes are booted by the centre"),
    refused(&["--network"], Value, "the network is set up by the centre"),
    refused(&["--mcs-label"], Value, "this centre uses no MCS labels"),
    refused(
        &["--bb", "--bbf", "--burst-buffer"],
        Value,
        "this centre has no burst buffers",
    ),
    refused(&["--container"], Value, "containers are not run yet"),
    refused(&["--container-id"], Value, "containers are not run yet"),
    refused(&["--batch"], Value, "this centre declares no node features"),
    refused(&["--gres-flags"], Value, PLACEMENT),
    refused(
        &["--resv-ports"],
        Optional,
        "aisc reserves no ports for steps: a job of several tasks gets MASTER_PORT",
    ),
    refused(&["--x11"], Optional, "batch jobs have no display"),
];

/// The documented option spelled `name`, if any.
pub fn lookup(name: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.names.contains(&name))
}
