# Sourced by the bench scripts: builds release, then `start_server PORT ARGS...`
# starts `aisc serve` on 127.0.0.1:PORT with a temporary data directory and
# the abuse limits off (capacity is measured, not the limits; see README),
# waits for it, and sets R, dir, url and tok. It is stopped and its data
# removed when the script exits.
cargo build --release -q -p aisc-cli --bins --examples
R=target/release
start_server() {
  local port=$1
  shift
  dir=$(mktemp -d)
  "$R/aisc" serve --listen "127.0.0.1:$port" --data-dir "$dir/data" \
    --rate-limit-token 0 --rate-limit-address 0 --max-queued-per-user 0 "$@" 2>"$dir/serve.log" &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
  for _ in $(seq 50); do [ -s "$dir/data/admin-token" ] && grep -q listening "$dir/serve.log" && break; sleep 0.1; done
  url="http://127.0.0.1:$port"
  tok=$(cat "$dir/data/admin-token")
}
