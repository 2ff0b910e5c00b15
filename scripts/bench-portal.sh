#!/usr/bin/env bash
# Portal page latency on a busy centre: a server with fake GPUs, RUN jobs run
# to completion (charged on the ledger) and HELD jobs waiting in the queue,
# then each page timed over REQUESTS sequential requests, signed in as the
# admin, beside the API's list of the newest 100 jobs on the same server.
# Talks only to a server it starts on 127.0.0.1.
#   scripts/bench-portal.sh                     # RUN=2000 HELD=100000 REQUESTS=200
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-server.sh
start_server "${PORT:-18081}" --fake-gpus 8
run=${RUN:-2000} held=${HELD:-100000} n=${REQUESTS:-200}
echo "# machine: $(nproc) cores, $(uname -r); $run jobs run, $held held"
"$R/examples/loadgen" run "$url" "$tok" 8 "$run"
export AISC_URL=$url AISC_TOKEN=$tok
for _ in $(seq 600); do
  [ "$("$R/aisc" jobs --state completed --json | grep -o '"id"' | wc -l)" -ge 1 ] || { sleep 1; continue; }
  [ -z "$("$R/aisc" jobs --state pending --json | grep -o '"id"' | head -1)" ] \
    && [ -z "$("$R/aisc" jobs --state running --json | grep -o '"id"' | head -1)" ] && break
  sleep 1
done
"$R/examples/loadgen" submit "$url" "$tok" 8 "$held" >/dev/null
last=$("$R/aisc" jobs --state completed --json | grep -o '"id": *[0-9]*' | head -1 | grep -o '[0-9]*$')
for page in / /jobs "/jobs/$last" /projects/default /applications /admin /audit; do
  "$R/examples/loadgen" page "$url" "$tok" "$n" "$page"
done
"$R/examples/loadgen" list "$url" "$tok" "$n"
echo "# database size: $(du -sh "$dir/data" | cut -f1)"
