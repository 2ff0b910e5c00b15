#!/usr/bin/env bash
# The same API benchmark on both back ends in one run: durable submissions
# per second (1 and 8 clients), then the store filled to 1,000,000 jobs and
# the latency of the newest-100 job page and of one job by id. SQLite first,
# then PostgreSQL. Needs a PostgreSQL server on which it may create and drop a
# database (PG_SERVER, default postgres://postgres@127.0.0.1:5432/postgres).
#   scripts/bench-postgres.sh
#   TOTAL_JOBS=200000 RUNS=1 scripts/bench-postgres.sh   # a quicker look
#   BACKENDS=postgres scripts/bench-postgres.sh           # one back end only
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-server.sh
server=${PG_SERVER:-postgres://postgres@127.0.0.1:5432/postgres}
db="aisc_bench_$$"
pgurl="${server%/*}/$db"
total=${TOTAL_JOBS:-1000000}
runs=${RUNS:-3}
psql "$server" -qc "CREATE DATABASE $db"
echo "# machine: $(nproc) cores, $(uname -r); PostgreSQL $(psql "$server" -Atc 'SHOW server_version'), fsync $(psql "$server" -Atc 'SHOW fsync'), synchronous_commit $(psql "$server" -Atc 'SHOW synchronous_commit')"
for backend in ${BACKENDS:-sqlite postgres}; do
  if [ "$backend" = postgres ]; then
    start_server "${PORT:-18080}" --database "$pgurl"
  else
    start_server "${PORT:-18080}"
  fi
  echo "## $backend"
  for c in 1 8; do
    for _ in $(seq "$runs"); do "$R/examples/loadgen" submit "$url" "$tok" "$c" 10000; done
  done
  done_jobs=$((runs * 20000))
  echo "# filling the store to $total jobs"
  # In parts: one load generator run stops after 5 minutes.
  left=$((total - done_jobs))
  while [ "$left" -gt 0 ]; do
    part=$((left < 200000 ? left : 200000))
    "$R/examples/loadgen" submit "$url" "$tok" 8 "$part" >/dev/null
    left=$((left - part))
  done
  "$R/examples/loadgen" list "$url" "$tok" 2000
  "$R/examples/loadgen" show "$url" "$tok" 2000 "$total"
  if [ "$backend" = postgres ]; then
    echo "# database size: $(psql "$pgurl" -Atc "SELECT pg_size_pretty(pg_database_size('$db'))")"
  else
    echo "# database size: $(du -sh "$dir/data" | cut -f1)"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$dir"
done
trap - EXIT
psql "$server" -qc "DROP DATABASE $db WITH (FORCE)"
