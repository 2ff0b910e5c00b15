#!/usr/bin/env bash
# Projects' files through aisc (sealed at rest): `aisc data put` and `get` of a
# SIZE_MB file (default 1024) over loopback, beside the same machine's
# `sha256sum` and `cp` of that file as anchors (a put and a get each read the
# file and hash it once, and write it once). Talks only to a server it starts.
#   scripts/bench-data.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-server.sh
start_server "${PORT:-18081}" --fake-gpus 1
size=${SIZE_MB:-1024}
f="$dir/blob"
head -c "$((size << 20))" /dev/urandom >"$f"
sync
echo "# machine: $(nproc) cores, $(uname -r); ${size} MiB of random bytes"
t() { local s; s=$(date +%s.%N); "$@" >/dev/null; awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
mbps() { awk -v n="$size" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
export AISC_URL=$url AISC_TOKEN=$tok AISC_CONFIG_DIR=$dir/cfg
for i in 1 2 3; do
  s=$(t sha256sum "$f"); echo "anchor sha256sum: $s s ($(mbps "$s") MiB/s)"
  s=$(t cp "$f" "$dir/copy"); echo "anchor cp: $s s ($(mbps "$s") MiB/s)"
  s=$(t "$R/aisc" data put "$f" "blob$i" -A default -q); echo "aisc data put: $s s ($(mbps "$s") MiB/s)"
  s=$(t "$R/aisc" data get "blob$i" "$dir/back" -A default -q); echo "aisc data get: $s s ($(mbps "$s") MiB/s)"
  cmp "$f" "$dir/back"
  rm -f "$dir/back" "$dir/copy"
done
echo "# on disk: $(du -sm "$dir/data/objects" | cut -f1) MiB sealed for $((3 * size)) MiB put"
