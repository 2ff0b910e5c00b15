#!/usr/bin/env bash
# Durable submissions per second over HTTP (1 and 8 clients, 3 runs each), then
# the store filled to 1,000,000 jobs and the latency of listing the newest 100
# and of showing one job by id. Talks only to a server it starts on 127.0.0.1.
#   scripts/bench-api.sh            # durability full (the default)
#   DURABILITY=normal scripts/bench-api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-server.sh
start_server "${PORT:-18080}" --durability "${DURABILITY:-full}"
echo "# machine: $(nproc) cores, $(uname -r); durability ${DURABILITY:-full}"
for c in 1 8; do
  for _ in 1 2 3; do "$R/examples/loadgen" submit "$url" "$tok" "$c" 10000; done
done
total=${TOTAL_JOBS:-1000000}
echo "# filling the store to $total jobs"
"$R/examples/loadgen" submit "$url" "$tok" 8 $((total - 60000)) >/dev/null
"$R/examples/loadgen" list "$url" "$tok" 2000
"$R/examples/loadgen" show "$url" "$tok" 2000 "$total"
echo "# database size: $(du -sh "$dir/data" | cut -f1)"
