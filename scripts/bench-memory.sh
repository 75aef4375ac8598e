#!/usr/bin/env bash
# Resident memory per loaded record: RSS of `dyaspora serve` with N demo records loaded
# (snapshot built, one state layer and one res-6 layer computed) minus RSS with none.
# Usage: scripts/bench-memory.sh [N]   (default 1,000,000; release build)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
cargo build --release --quiet
bin=target/release/dyaspora
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

rss_after_load() { # db records port
    "$bin" --db "$1" serve --addr "127.0.0.1:$3" --demo-records "$2" $([ "$2" = 0 ] && echo --no-demo) >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$3/health/ready" >/dev/null && break; sleep 0.5; done
    curl -sf "http://127.0.0.1:$3/api/v1/aggregates?unit=state" >/dev/null
    curl -sf "http://127.0.0.1:$3/api/v1/aggregates?unit=h3&res=6" >/dev/null
    local rss
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "$rss"
}

base=$(rss_after_load "$dir/empty.db" 0 18701)
# Load once (generation + import), then measure a fresh process that only loads the snapshot.
rss_after_load "$dir/full.db" "$n" 18702 >/dev/null
full=$(rss_after_load "$dir/full.db" "$n" 18703)
echo "records=$n rss_empty_kib=$base rss_loaded_kib=$full bytes_per_record=$(( (full - base) * 1024 / n ))"
