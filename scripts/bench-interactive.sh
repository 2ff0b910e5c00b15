#!/usr/bin/env bash
# Interactive jobs against srun on the same machine: how long a command takes
# from the user's Enter to its end (submit, start, the agent dialling the
# relay, the output back, the exit status), and how fast output flows back
# through the relay. Three ways in one run, RUNS times each in rotation:
# `aisc run` on the local engine, `aisc run` on the dev Slurm cluster, and
# Slurm's own `srun` (as the same Unix user, on the same cluster). Needs root
# and the cluster (`scripts/slurm-dev-cluster.sh up`, which this runs).
#   scripts/bench-interactive.sh      # COUNT=20 RUNS=3 MB=200
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-20}
RUNS=${RUNS:-3}
MB=${MB:-200}
bash scripts/slurm-dev-cluster.sh up >/dev/null
cargo build --release -q -p aisc-cli --bins
A=$PWD/target/release/aisc
dir=$(mktemp -d)
chmod 777 "$dir"
trap 'kill $local $slurm 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
"$A" serve --listen 127.0.0.1:18191 --data-dir "$dir/local" --default-unix-name aiscdev1 \
    --rate-limit-token 0 --rate-limit-address 0 2>"$dir/local.log" &
local=$!
"$A" serve --listen 127.0.0.1:18192 --data-dir "$dir/slurm" --engine slurm \
    --slurm-url http://127.0.0.1:6820 --slurm-jwt-key /var/lib/aisc-slurm-dev/jwt.key \
    --slurm-default-partition h100 --slurm-sync-interval 0 --slurm-poll-ms 50 \
    --rate-limit-token 0 --rate-limit-address 0 2>"$dir/slurm.log" &
slurm=$!
for log in local slurm; do
    for _ in $(seq 100); do grep -q listening "$dir/$log.log" && break; sleep 0.1; done
done
L_TOKEN=$(cat "$dir/local/admin-token")
S_TOKEN=$(cat "$dir/slurm/admin-token")
AISC_URL=http://127.0.0.1:18192 AISC_TOKEN=$S_TOKEN "$A" user set-unix-name admin aiscdev1 2>/dev/null
AISC_URL=http://127.0.0.1:18192 AISC_TOKEN=$S_TOKEN "$A" slurm sync >/dev/null
cd "$dir"
way() { # the command line of each way: local, slurm, srun
    case $1 in
    local) echo "env AISC_URL=http://127.0.0.1:18191 AISC_TOKEN=$L_TOKEN $A run -Q --" ;;
    slurm) echo "env AISC_URL=http://127.0.0.1:18192 AISC_TOKEN=$S_TOKEN $A run -Q --" ;;
    srun) echo "runuser -u aiscdev1 -- srun -Q -p h100 -A default" ;;
    esac
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "# machine: $(nproc) cores, $(uname -r); Slurm $(sinfo -V | cut -d' ' -f2); $COUNT commands a run, $MB MB of output"
printf '%-6s %-5s %18s %18s\n' way run "true: median ms" "output: MB/s"
for run in $(seq "$RUNS"); do
    for w in local slurm srun; do
        cmd=$(way "$w")
        for _ in $(seq "$COUNT"); do
            s=$(date +%s%N)
            $cmd true
            echo $((($(date +%s%N) - s) / 1000000))
        done >"$dir/$w.ms"
        s=$(date +%s%N)
        got=$($cmd head -c "${MB}M" /dev/zero | wc -c)
        ns=$(($(date +%s%N) - s))
        [ "$got" = $((MB * 1048576)) ] || { echo "$w: $got bytes of $((MB * 1048576))"; exit 1; }
        printf '%-6s %-5s %18s %18s\n' "$w" "$run" "$(median <"$dir/$w.ms")" \
            "$(awk -v b="$got" -v ns="$ns" 'BEGIN {printf "%.0f", b / 1048576 / (ns / 1e9)}')"
    done
done
