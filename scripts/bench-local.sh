#!/usr/bin/env bash
# Short jobs (`true`, 1 CPU, no GPU) run to completion on the local engine:
# jobs/s from the first submission until the last has ended, and the median
# time a job is `running` (from its start to its recorded end: the launcher,
# its confinement, `true` itself, and the end reported back). Every job goes through the launcher
# (aisc_engine::confine): as root, a Unix account, a mount namespace and a
# cgroup per job; otherwise Landlock. With BEFORE=/path/to/older/aisc the same
# run is made with that binary too, in rotation, for a before/after figure.
#   scripts/bench-local.sh            # COUNT=300 RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-300} # at most 1000 (one page of `aisc jobs`)
RUNS=${RUNS:-3}
cargo build --release -q -p aisc-cli --bins
bins=("$PWD/target/release/aisc")
[ -n "${BEFORE:-}" ] && bins+=("$BEFORE")
work=$(mktemp -d)
chmod 755 "$work"
trap 'pkill -f "aisc serve --listen 127.0.0.1:1819" 2>/dev/null; rm -rf "$work"' EXIT
echo "# machine: $(nproc) cores, $(uname -r); $(id -un); $COUNT jobs a run"
for run in $(seq "$RUNS"); do
  for i in "${!bins[@]}"; do
    bin=${bins[$i]}
    d="$work/$run-$i"
    mkdir -p "$d"
    port=1819$i
    extra=()
    # As root, jobs need an account (a binary from before accounts has no such flag).
    if [ "$(id -u)" = 0 ] && "$bin" serve --help | grep -q default-unix-name; then
      extra=(--default-unix-name "${JOB_USER:-nobody}")
    fi
    "$bin" serve --listen "127.0.0.1:$port" --data-dir "$d/data" --rate-limit-token 0 \
      --rate-limit-address 0 --max-queued-per-user 0 "${extra[@]}" 2>"$d/serve.log" &
    pid=$!
    for _ in $(seq 100); do grep -q listening "$d/serve.log" && break; sleep 0.1; done
    grep -q listening "$d/serve.log" || { cat "$d/serve.log"; exit 1; }
    export AISC_URL="http://127.0.0.1:$port" AISC_TOKEN="$(cat "$d/data/admin-token")"
    start=$(date +%s.%N)
    seq "$COUNT" | (cd "$work" && xargs -P 4 -I{} "$bin" submit --chdir "$work" --cpus 1 --time 1m -- true >/dev/null)
    while [ "$("$bin" jobs --state completed --limit 1000 --json | grep -o '"id"' | wc -l)" -lt "$COUNT" ]; do sleep 0.05; done
    end=$(date +%s.%N)
    lat=$("$bin" jobs --limit 1000 --json | python3 -c '
import json, sys, statistics, datetime as d
t = lambda s: d.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
jobs = json.load(sys.stdin)
jobs = jobs["jobs"] if isinstance(jobs, dict) else jobs
print(round(statistics.median(t(j["ended_at"]) - t(j["started_at"]) for j in jobs) * 1000))')
    printf '%s run %s: %.1f jobs/s, running p50 %s ms\n' "$bin" "$run" \
      "$(echo "$COUNT / ($end - $start)" | bc -l)" "$lat"
    kill $pid; wait $pid 2>/dev/null || true
  done
done
