#!/usr/bin/env bash
# Load test of the tile endpoint on loopback: every tile covering the continental US from
# zoom 3 to 10 (west -125, south 24.4, east -66.9, north 49.4) on the 1,000,000-record demo
# set, requested by wrk (-t2 -c32) through a Lua script that cycles through the list.
#
#   1. warm:   tile cache on (256 MiB), every tile requested once before measuring;
#   2. cold:   tile cache off (--tile-cache-mb 0): every request cuts and encodes its tile
#              (the per-layer sources are prepared once, as in production), measured over the
#              whole list and over the non-empty tiles only.
#
# Requests carry no Accept-Encoding (wrk's default), so tiles go out uncompressed; set
# ACCEPT_ENCODING=gzip (or br) to measure compressed responses (with the cache off this
# includes compressing every tile).
#
# The server and wrk share the machine's cores: the figures are for both on one box.
# Traffic goes to 127.0.0.1 only; every wrk run is bounded by DURATION seconds.
#
# Usage: scripts/bench-tiles.sh [layer]     (layer: hexagons (default), states, counties)
# Env:   RECORDS (1000000), DURATION (20), PORT (18181), QUERY (extra query string, e.g.
#        metric=remit_share), ZMIN (3), ZMAX (10), ACCEPT_ENCODING.
set -euo pipefail
cd "$(dirname "$0")/.."

LAYER=${1:-hexagons}
RECORDS=${RECORDS:-1000000}
DURATION=${DURATION:-20}
PORT=${PORT:-18181}
ZMIN=${ZMIN:-3}
ZMAX=${ZMAX:-10}
QUERY=${QUERY:-}
ACCEPT_ENCODING=${ACCEPT_ENCODING:-}
WORK=target/bench-tiles
mkdir -p "$WORK"

command -v wrk >/dev/null || bash scripts/setup-tiles.sh
cargo build --release --quiet
cargo build --release --quiet --example tile_ceiling
# BIN=path/to/dyaspora measures another build (e.g. an older commit) with the same script.
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/dyaspora}
DB="$WORK/demo-$RECORDS.db"

SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
trap stop_server EXIT

start_server() { # $1 = tile cache MiB
    "$BIN" --db "$DB" serve --addr "127.0.0.1:$PORT" --demo-records "$RECORDS" --tile-cache-mb "$1" \
        >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        # Ready once the snapshot is loaded (builds before /health/ready: /health).
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health/ready" 2>/dev/null || true)
        if [ "$code" = 200 ]; then return 0; fi
        if [ "$code" = 404 ] && curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
        sleep 0.5
    done
    echo "server did not start" >&2
    exit 1
}

# The tile list (paths), north-west to south-east, zoom by zoom.
LIST="$WORK/tiles-$LAYER.txt"
python3 - "$LAYER" "$ZMIN" "$ZMAX" "$QUERY" >"$LIST" <<'PY'
import math, sys
layer, zmin, zmax, query = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
w, s, e, n = -125.0, 24.4, -66.9, 49.4
def world(lon, lat):
    r = math.radians(lat)
    return (lon + 180) / 360, (1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2
q = f"?{query}" if query else ""
for z in range(zmin, zmax + 1):
    k = 2 ** z
    (x0, y0), (x1, y1) = world(w, n), world(e, s)
    for y in range(int(y0 * k), int(y1 * k) + 1):
        for x in range(int(x0 * k), int(x1 * k) + 1):
            print(f"/tiles/{layer}/{z}/{x}/{y}.mvt{q}")
PY
echo "tiles: $(wc -l <"$LIST") ($LAYER, z$ZMIN–z$ZMAX, continental US)"

# One pass over a list with a few client threads: warms sources/cache, splits out the
# non-empty tiles and reports their sizes.
one_pass() { # $1 list, $2 output list of non-empty tiles
    python3 - "$1" "$2" "$PORT" "$ACCEPT_ENCODING" <<'PY'
import http.client, sys, threading, time
src, out, port, enc = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
paths = [l.strip() for l in open(src) if l.strip()]
status, sizes, lock = {}, {}, threading.Lock()
def work(part):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for p in part:
        c.request("GET", p, headers={"Accept-Encoding": enc} if enc else {})
        r = c.getresponse(); body = r.read()
        with lock:
            status[p] = r.status; sizes[p] = len(body)
t0 = time.time()
threads = [threading.Thread(target=work, args=(paths[i::4],)) for i in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
bad = [p for p in paths if status[p] not in (200, 204)]
assert not bad, f"{len(bad)} failed, e.g. {bad[0]} → {status[bad[0]]}"
full = [p for p in paths if status[p] == 200]
with open(out, "w") as f:
    f.write("\n".join(full) + "\n")
total = sum(sizes[p] for p in full)
big = sorted(sizes[p] for p in full)
print(f"pass: {len(paths)} tiles in {time.time() - t0:.1f} s; {len(full)} non-empty, "
      f"{total / 1e6:.1f} MB, median {big[len(big) // 2] if big else 0} B, max {big[-1] if big else 0} B")
PY
}

LUA="$WORK/cycle.lua"
cat >"$LUA" <<'LUA'
-- Cycles through the tile paths in TILE_LIST; each thread starts at its own offset. The
-- requests are formatted once in init(), so the per-request Lua work is an array read
-- (wrk shares the cores with the server: its CPU per request is the server's loss).
local paths = {}
for line in io.lines(os.getenv("TILE_LIST")) do
    if #line > 0 then paths[#paths + 1] = line end
end
local counter = 0
local enc = os.getenv("ACCEPT_ENCODING") or ""
local threads = 0
local requests = {}
function setup(thread)
    thread:set("offset", threads * math.floor(#paths / 2))
    threads = threads + 1
end
function init(args)
    counter = offset or 0
    if enc ~= "" then wrk.headers["Accept-Encoding"] = enc end
    for i, p in ipairs(paths) do requests[i] = wrk.format("GET", p) end
end
function request()
    counter = counter + 1
    if counter > #requests then counter = 1 end
    return requests[counter]
end
LUA

# CPU seconds (user + system) used so far by a process, from /proc.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"
}

measure() { # $1 label, $2 list
    echo "--- $1 ($(wc -l <"$2") paths, wrk -t2 -c32 -d${DURATION}s; load average before: $(cut -d' ' -f1 /proc/loadavg))"
    local out="$WORK/wrk-$(echo "$1" | tr ' ' '_').txt" before after wrk_cpu
    before=$(cpu_seconds "$SERVER_PID")
    local t0 t1 me=$BASHPID # this shell: wrk's CPU time lands in its children's counters
    t0=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$me/stat")
    TILE_LIST="$2" ACCEPT_ENCODING="$ACCEPT_ENCODING" wrk -t2 -c32 -d"${DURATION}s" --timeout 10s --latency \
        -s "$LUA" "http://127.0.0.1:$PORT" >"$out"
    t1=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$me/stat")
    after=$(cpu_seconds "$SERVER_PID")
    grep -E "Requests/sec|Transfer/sec|^ +50%|^ +90%|^ +99%|Non-2xx|Socket errors|requests in" "$out"
    # CPU per request, server and load tool: what an otherwise idle 2-core machine could do.
    python3 - "$out" "$before" "$after" "$t0" "$t1" "$(getconf CLK_TCK)" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
n = int(re.search(r"(\d+) requests in", text).group(1))
server = float(sys.argv[3]) - float(sys.argv[2])
wrk = (float(sys.argv[5]) - float(sys.argv[4])) / float(sys.argv[6])
s_us, w_us = server / n * 1e6, wrk / n * 1e6
print(f"  CPU per request: server {s_us:.1f} µs, wrk {w_us:.1f} µs → an idle 2-core box: ≈ {2e6 / (s_us + w_us):,.0f} req/s "
      f"(server alone on 2 cores: ≈ {2e6 / s_us:,.0f} req/s)")
PY
}

echo "=== warm: tile cache 256 MiB"
[ -f "$DB" ] || echo "(first run: loading $RECORDS demo records into $DB)"
start_server 256
one_pass "$LIST" "$WORK/nonempty-$LAYER.txt"
one_pass "$LIST" /dev/null >/dev/null # second pass: every tile cached
measure "warm all" "$LIST"
measure "warm non-empty" "$WORK/nonempty-$LAYER.txt"
WARM_RPS=$(grep Requests/sec "$WORK/wrk-warm_non-empty.txt" | awk '{print $2}')

# The ceiling: the same tile bytes from a bare axum server (examples/tile_ceiling.rs),
# loaded the same way in the same run.
CEILING_PORT=$((PORT + 1))
"${CARGO_TARGET_DIR:-target}/release/examples/tile_ceiling" "$WORK/nonempty-$LAYER.txt" \
    "http://127.0.0.1:$PORT" "$CEILING_PORT" 2>"$WORK/ceiling.log" &
CEILING_PID=$!
for _ in $(seq 1 120); do
    grep -q "tiles in memory" "$WORK/ceiling.log" 2>/dev/null && break
    sleep 0.5
done
stop_server
SERVER_PID=$CEILING_PID PORT=$CEILING_PORT measure "ceiling non-empty" "$WORK/nonempty-$LAYER.txt"
kill "$CEILING_PID" 2>/dev/null || true
wait "$CEILING_PID" 2>/dev/null || true
CEILING_RPS=$(grep Requests/sec "$WORK/wrk-ceiling_non-empty.txt" | awk '{print $2}')
python3 -c "print(f'warm non-empty = {float($WARM_RPS) / float($CEILING_RPS):.2f} × the bare-axum ceiling in this run')"

echo "=== cold: tile cache disabled (--tile-cache-mb 0)"
start_server 0
one_pass "$LIST" /dev/null # prepares the per-resolution sources (layers) once
measure "cold all" "$LIST"
measure "cold non-empty" "$WORK/nonempty-$LAYER.txt"
stop_server
echo "raw wrk outputs: $WORK/wrk-*.txt; server log: $WORK/server.log"
