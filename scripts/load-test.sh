#!/usr/bin/env bash
# Load test on loopback: CONNS (1000) concurrent connections for DURATION (60s) against vector
# tiles and aggregate layers (scripts/load-test.lua) while imports run (three files of 50,000
# records, one after the other, over POST /api/v1/imports). Prints wrk's figures (p50…p99.9,
# errors) and the imports' statuses; exits 1 on any error. NOT part of .ci/run.
#
#   scripts/load-test.sh            # CONNS=1000 DURATION=60s RECORDS=200000
#
# The per-client limits are switched off (--rate-limit 0 --layer-budget 0): every connection comes from
# 127.0.0.1, and the point is the service's capacity, not the limiter (tested elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-1000}
DURATION=${DURATION:-60s}
RECORDS=${RECORDS:-200000}
IMPORT_RECORDS=${IMPORT_RECORDS:-50000}

if ! command -v wrk >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" # 1,000 sockets each side
cargo build --release --quiet
bin=$PWD/target/release/dyaspora
work=$(mktemp -d)
server=
importer=
cleanup() {
    [ -n "$importer" ] && kill "$importer" 2>/dev/null || true
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

db=$work/load.db
echo "load-test: $RECORDS demo records, three import files of $IMPORT_RECORDS"
"$bin" --db "$db" demo --records "$RECORDS" >/dev/null 2>&1
token=$("$bin" --db "$db" token create --role editor --name load-test 2>/dev/null)
for seed in 101 102 103; do
    "$bin" --db "$db" demo --records "$IMPORT_RECORDS" --seed $seed --csv "$work/import-$seed.csv" >/dev/null 2>&1
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
"$bin" --db "$db" serve --addr 127.0.0.1:$port --no-demo --rate-limit 0 --layer-budget 0 2> "$work/server.log" &
server=$!
for _ in $(seq 600); do
    curl -fs "$base/health/ready" >/dev/null 2>&1 && break
    sleep 0.2
done
echo "load-test: server up ($(curl -s "$base/health"))"

(
    sleep 5
    for seed in 101 102 103; do
        curl -s -o "$work/import-$seed.json" -w "import seed $seed: HTTP %{http_code} in %{time_total}s\n" \
            -H "Authorization: Bearer $token" --data-binary "@$work/import-$seed.csv" \
            "$base/api/v1/imports?name=load-$seed.csv"
    done
) > "$work/imports.log" 2>&1 &
importer=$!

echo "load-test: wrk -t2 -c$CONNS -d$DURATION (tiles 80 %, aggregates 20 %)"
wrk -t2 -c"$CONNS" -d"$DURATION" --timeout 30s --latency -s scripts/load-test.lua "$base" | tee "$work/wrk.txt"
wait "$importer" || true
importer=
cat "$work/imports.log"
echo "load-test: $(curl -s "$base/health")"
server_errors=$(grep -c ' ERROR ' "$work/server.log" || true)
echo "load-test: server log has $server_errors ERROR line(s)"

failed=0
grep -q "non-2xx/3xx 0$" "$work/wrk.txt" || failed=1
grep -q "errors: connect 0, read 0, write 0, timeout 0" "$work/wrk.txt" || failed=1
[ "$(grep -c 'HTTP 200' "$work/imports.log")" -eq 3 ] || failed=1
[ "$server_errors" -eq 0 ] || failed=1
if [ $failed -ne 0 ]; then
    echo "load-test: FAILED (errors above)"
    exit 1
fi
echo "load-test: zero errors"
