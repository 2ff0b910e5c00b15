#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for SECONDS each (default 20),
# starting from the checked-in seeds in fuzz/corpus/TARGET; what a run learns
# goes to a scratch directory, so the tree stays clean. A crash fails the
# script, prints the end of the fuzzer's output and leaves the input in
# fuzz/artifacts/TARGET. libFuzzer needs the
# sanitizer flags of a nightly compiler; RUSTC_BOOTSTRAP lets this stable one
# take them (no other toolchain is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo fuzz list); do
  mkdir -p "$scratch/$target"
  echo "fuzz: $target for ${secs}s"
  log="$scratch/$target.log"
  if ! cargo fuzz run -O "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
      -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz: $target crashed; its input is in fuzz/artifacts/$target" >&2
    exit 1
  fi
  grep -a -E '^(Done|stat::number_of_executed_units)' "$log" || true
done
