#!/bin/sh
# srun for a job of aisc's local engine (written into the job's own directory,
# first on its PATH). It runs one step as the job's tasks on this host, the
# job's one node: each task with SLURM_PROCID, SLURM_LOCALID and, with
# --gpus-per-task, its own share of the job's CUDA_VISIBLE_DEVICES. It exits
# with the worst status of its tasks. An option it does not honour is refused,
# never ignored.
me=srun
die() {
    echo "$me: $*" >&2
    exit 1
}
if [ -z "${AISC_JOB_ID:-}" ] || [ -z "${SLURM_JOB_ID:-}" ]; then
    die "not inside a job: srun runs a step of a running job's tasks (submit the job with aisc submit)"
fi

# A whole number of at least 1 and at most 65536, or a refusal naming the option.
count() {
    case $2 in
    '' | *[!0-9]* | 0 | 0*) die "$1=$2: not a whole number of at least 1" ;;
    ??????*) die "$1=$2: at most 65536" ;;
    esac
    if [ "$2" -gt 65536 ]; then die "$1=$2: at most 65536"; fi
}

job_tasks=${SLURM_NTASKS:-1}
ntasks=
nodes=
per_node=
gpt=${SLURM_GPUS_PER_TASK:-}
cpt=
label=
need() { if [ "$2" -lt 2 ]; then die "$1 needs a value"; fi; }
while [ $# -gt 0 ]; do
    case $1 in
    -n | --ntasks) need "$1" $#; count --ntasks "$2"; ntasks=$2; shift 2 ;;
    --ntasks=*) ntasks=${1#*=}; count --ntasks "$ntasks"; shift ;;
    -n*) ntasks=${1#-n}; count --ntasks "$ntasks"; shift ;;
    -N | --nodes) need "$1" $#; nodes=$2; shift 2 ;;
    --nodes=*) nodes=${1#*=}; shift ;;
    -N*) nodes=${1#-N}; shift ;;
    --ntasks-per-node) need "$1" $#; count --ntasks-per-node "$2"; per_node=$2; shift 2 ;;
    --ntasks-per-node=*) per_node=${1#*=}; count --ntasks-per-node "$per_node"; shift ;;
    --gpus-per-task) need "$1" $#; count --gpus-per-task "$2"; gpt=$2; shift 2 ;;
    --gpus-per-task=*) gpt=${1#*=}; count --gpus-per-task "$gpt"; shift ;;
    -c | --cpus-per-task) need "$1" $#; count --cpus-per-task "$2"; cpt=$2; shift 2 ;;
    --cpus-per-task=*) cpt=${1#*=}; count --cpus-per-task "$cpt"; shift ;;
    -c*) cpt=${1#-c}; count --cpus-per-task "$cpt"; shift ;;
    -l | --label) label=1; shift ;;
    # This srun passes output through as it comes: it is never buffered here.
    -u | --unbuffered) shift ;;
    # Each task gets the job's whole environment, as --export=ALL says.
    --export=ALL) shift ;;
    --mpi=none | --cpu-bind=none | --cpu_bind=none) shift ;;
    --) shift; break ;;
    -*)
        die "$1: not honoured by srun on the local engine, so refused (it honours -n/--ntasks, -N 1, --ntasks-per-node, --gpus-per-task, -c/--cpus-per-task, -l/--label, -u, --export=ALL, --mpi=none, --cpu-bind=none); the Slurm engine runs Slurm's own srun"
        ;;
    *) break ;;
    esac
done
if [ $# -eq 0 ]; then die "no command to run (srun [OPTIONS] COMMAND [ARGS])"; fi
case $nodes in
'' | 1 | 1-1) ;;
*) die "--nodes=$nodes: a job on the local engine has one node" ;;
esac
if [ -z "$ntasks" ]; then ntasks=${per_node:-$job_tasks}; fi
if [ "$ntasks" -gt "$job_tasks" ]; then
    die "--ntasks=$ntasks: the job has $job_tasks task(s) (sbatch --ntasks=$job_tasks); a step runs at most that many"
fi
if [ -n "$per_node" ] && [ "$ntasks" -gt "$per_node" ]; then
    die "--ntasks=$ntasks does not fit --ntasks-per-node=$per_node on the job's one node"
fi
if [ -n "$cpt" ] && [ $((cpt * ntasks)) -gt "${SLURM_CPUS_ON_NODE:-0}" ]; then
    die "--cpus-per-task=$cpt: $ntasks task(s) would need $((cpt * ntasks)) CPUs; the job has ${SLURM_CPUS_ON_NODE:-0}"
fi

# The job's GPUs, and task $1's share of them (--gpus-per-task).
gpu_count() {
    n=0
    old=$IFS
    IFS=,
    for d in ${CUDA_VISIBLE_DEVICES:-}; do n=$((n + 1)); done
    IFS=$old
    echo "$n"
}
gpus_of() {
    n=0
    first=$(($1 * gpt))
    share=
    old=$IFS
    IFS=,
    for d in ${CUDA_VISIBLE_DEVICES:-}; do
        if [ "$n" -ge "$first" ] && [ "$n" -lt $((first + gpt)) ]; then share=${share:+$share,}$d; fi
        n=$((n + 1))
    done
    IFS=$old
    echo "$share"
}
if [ -n "$gpt" ]; then
    have=$(gpu_count)
    if [ $((gpt * ntasks)) -gt "$have" ]; then
        die "--gpus-per-task=$gpt: $ntasks task(s) would need $((gpt * ntasks)) GPUs; the job has $have"
    fi
fi

sed=sed
if echo | sed -u '' >/dev/null 2>&1; then sed="sed -u"; fi
tmp=
if [ -n "$label" ]; then
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/srun.XXXXXX") || die "cannot make a temporary directory"
    trap 'rm -rf "$tmp"' EXIT
fi

# Task $1 runs the command; with --label each line of its output and of its
# errors starts with "$1: ", on the stream it was written to.
task() {
    i=$1
    shift
    SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NODEID=0
    SLURM_NTASKS=$ntasks SLURM_NPROCS=$ntasks SLURM_STEP_NUM_TASKS=$ntasks SLURM_STEP_NUM_NODES=1
    SLURM_STEP_NODELIST=${SLURM_JOB_NODELIST:-}
    SLURM_STEP_TASKS_PER_NODE=$ntasks SLURM_TASKS_PER_NODE=$ntasks
    export SLURM_PROCID SLURM_LOCALID SLURM_NODEID SLURM_NTASKS SLURM_NPROCS SLURM_STEP_NUM_TASKS \
        SLURM_STEP_NUM_NODES SLURM_STEP_NODELIST SLURM_STEP_TASKS_PER_NODE SLURM_TASKS_PER_NODE
    if [ -n "$cpt" ]; then
        SLURM_CPUS_PER_TASK=$cpt
        export SLURM_CPUS_PER_TASK
    fi
    if [ -n "$gpt" ]; then
        CUDA_VISIBLE_DEVICES=$(gpus_of "$i") SLURM_GPUS_PER_TASK=$gpt
        export CUDA_VISIBLE_DEVICES SLURM_GPUS_PER_TASK
    fi
    if [ -z "$label" ]; then exec "$@"; fi
    { { {
        "$@"
        echo $? >"$tmp/$i"
    } 2>&1 1>&3 3>&- | $sed "s/^/$i: /" >&2; } 3>&1 | $sed "s/^/$i: /"; }
    read -r rc <"$tmp/$i" || rc=1
    exit "$rc"
}

i=0
while [ "$i" -lt "$ntasks" ]; do
    (task "$i" "$@") &
    eval "pid_$i=\$!"
    i=$((i + 1))
done
worst=0
i=0
while [ "$i" -lt "$ntasks" ]; do
    eval "wait \"\$pid_$i\""
    rc=$?
    if [ "$rc" -gt "$worst" ]; then worst=$rc; fi
    i=$((i + 1))
done
exit "$worst"
