#!/usr/bin/env bash
# 1,000 short jobs (1 GPU, 1 CPU, `true`) run to completion on the dev Slurm
# cluster, three ways in the same run, RUNS times each in rotation: straight
# with sbatch (1 client), straight through slurmrestd (8 clients), and through
# aisc (`aisc serve --engine slurm`, 8 clients on its API). Needs root and the
# cluster (`scripts/slurm-dev-cluster.sh up`, which this runs).
#   scripts/bench-slurm.sh            # COUNT=1000 RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-1000}
RUNS=${RUNS:-3}
bash scripts/slurm-dev-cluster.sh up >/dev/null
cargo build --release -q -p aisc-cli --bins --examples
R=target/release
URL=http://127.0.0.1:6820
KEY=/var/lib/aisc-slurm-dev/jwt.key
dir=$(mktemp -d)
port=${PORT:-18181}
"$R/aisc" serve --listen "127.0.0.1:$port" --data-dir "$dir/data" --engine slurm --slurm-url "$URL" \
    --slurm-jwt-key "$KEY" --slurm-default-partition h100 --slurm-sync-interval 0 2>"$dir/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"; rm -f /tmp/aisc-bench-*.out' EXIT
for _ in $(seq 100); do grep -q listening "$dir/serve.log" && break; sleep 0.1; done
export AISC_URL="http://127.0.0.1:$port" AISC_TOKEN="$(cat "$dir/data/admin-token")"
"$R/aisc" user set-unix-name admin aiscdev1 2>/dev/null
"$R/aisc" slurm sync >/dev/null
echo "# machine: $(nproc) cores, $(uname -r); Slurm $(sinfo -V | cut -d' ' -f2), $(sinfo -h -o '%D nodes x %G')"
for run in $(seq "$RUNS"); do
    tag="b$run-$$"
    "$R/examples/slurm_bench" sbatch "$URL" "$KEY" aiscdev1 default "${tag}s" "$COUNT"
    "$R/examples/slurm_bench" rest "$URL" "$KEY" aiscdev1 default "${tag}r" "$COUNT" 8
    "$R/examples/slurm_bench" aisc "$AISC_URL" "$AISC_TOKEN" "${tag}a" "$COUNT" 8
done
