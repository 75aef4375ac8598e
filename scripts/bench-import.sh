#!/usr/bin/env bash
# CSV import throughput (issue #2): N demo rows imported into a fresh database, once with the
# demo's ids (demo-1-0, demo-1-1…: nearly in order) and once with random UUIDs in `_uuid`,
# as in a real KoboToolbox export. The two files differ only in that column. Runs alternate
# between them, since the machine's speed drifts.
# Usage: scripts/bench-import.sh [N] [RUNS]   (default 1,000,000 rows, 3 runs; release build)
# Add DRY_RUN=1 to time validation and geocoding alone.
# Add REFERENCE=1 to time, in the same runs, two general-purpose loaders on the Kobo file
# with no validation at all: the sqlite3 shell's `.import` (package sqlite3) and
# PostgreSQL's `COPY` into 39 text columns with a unique index on `_uuid` (package
# postgresql; a throwaway cluster in the bench directory, stopped at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
runs=${2:-3}
cargo build --release --quiet
# BIN=path/to/dyaspora times another build (e.g. an older commit) with the same files.
bin=${BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/dyaspora}
dir=${BENCH_DIR:-/tmp/dyaspora-bench-import}
mkdir -p "$dir"
demo=$dir/demo-$n.csv
kobo=$dir/kobo-$n.csv

if [ ! -s "$demo" ]; then
    "$bin" --db "$dir/demo.db" demo --records "$n" --seed 1 --csv "$demo"
    rm -f "$dir"/demo.db*
fi
if [ ! -s "$kobo" ]; then
    # Version 4 UUIDs from a fixed seed, in the `_uuid` column (found by its header).
    awk -F';' -v OFS=';' '
        function hex(k,   s, i) { s = ""; for (i = 0; i < k; i++) s = s substr("0123456789abcdef", int(rand() * 16) + 1, 1); return s }
        NR == 1 { srand(1); for (i = 1; i <= NF; i++) if ($i == "_uuid") col = i; if (!col) exit 1; print; next }
        { $col = hex(8) "-" hex(4) "-4" hex(3) "-" substr("89ab", int(rand() * 4) + 1, 1) hex(3) "-" hex(12); print }
    ' "$demo" > "$kobo.tmp"
    mv "$kobo.tmp" "$kobo"
fi

if [ -n "${REFERENCE:-}" ]; then
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$pg_bin" ] && command -v sqlite3 >/dev/null || {
        echo "REFERENCE=1 needs the sqlite3 and postgresql packages" >&2
        exit 1
    }
    # PostgreSQL refuses to run as root.
    as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else bash -c "$*"; fi; }
    pg_dir=$dir/pg
    rm -rf "$pg_dir" && mkdir -p "$pg_dir"
    [ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
    as_pg "'$pg_bin/initdb' -D '$pg_dir/data' -A trust >'$pg_dir/initdb.log'"
    as_pg "'$pg_bin/pg_ctl' -D '$pg_dir/data' -l '$pg_dir/log' -w start \
        -o \"-p 5499 -k '$pg_dir' -c listen_addresses='' -c shared_buffers=1GB -c max_wal_size=4GB\"" >/dev/null
    trap 'as_pg "'"'$pg_bin/pg_ctl' -D '$pg_dir/data' -m fast stop"'" >/dev/null' EXIT
    # Text columns c1, c2… for the file's header; `_uuid` is one of them.
    columns=$(head -1 "$kobo" | awk -F';' '{for (i = 1; i <= NF; i++) printf "%sc%d text", (i > 1 ? ", " : ""), i}')
    uuid_column=$(head -1 "$kobo" | tr ';' '\n' | grep -nx '_uuid' | cut -d: -f1)
    cat >"$pg_dir/copy.sql" <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS kobo;
CREATE TABLE kobo ($columns);
CREATE UNIQUE INDEX kobo_uuid ON kobo (c$uuid_column);
COPY kobo FROM '$kobo' WITH (FORMAT csv, DELIMITER ';', HEADER true);
SQL
fi

TIMEFORMAT='%R s wall, %U s user, %S s system'
for run in $(seq "$runs"); do
    for ids in demo kobo; do
        file=$dir/$ids-$n.csv
        rm -f "$dir"/import.db*
        echo -n "run $run, $ids ids: "
        { time "$bin" --db "$dir/import.db" import "$file" --quiet ${DRY_RUN:+--dry-run} >/dev/null; } 2>&1
    done
    if [ -n "${REFERENCE:-}" ]; then
        rm -f "$dir"/shell.db*
        echo -n "run $run, kobo file, sqlite3 .import (no validation, no index): "
        { time sqlite3 "$dir/shell.db" -cmd "PRAGMA journal_mode=WAL" -cmd ".mode csv" \
            -cmd ".separator ;" -cmd ".import '$kobo' kobo" "SELECT 1" >/dev/null; } 2>&1
        echo -n "run $run, kobo file, PostgreSQL COPY (no validation, unique index on _uuid): "
        { time as_pg "psql -q -h '$pg_dir' -p 5499 -d postgres -f '$pg_dir/copy.sql'" >/dev/null; } 2>&1
    fi
done
rm -f "$dir"/import.db* "$dir"/shell.db*
