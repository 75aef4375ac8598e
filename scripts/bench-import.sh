#!/usr/bin/env bash
# CSV import throughput (issue #2): N demo rows imported into a fresh database, once with the
# demo's ids (demo-1-0, demo-1-1…: nearly in order) and once with random UUIDs in `_uuid`,
# as in a real KoboToolbox export. The two files differ only in that column. Runs alternate
# between them, since the machine's speed drifts.
# Usage: scripts/bench-import.sh [N] [RUNS]   (default 1,000,000 rows, 3 runs; release build)
# Add DRY_RUN=1 to time validation and geocoding alone.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
runs=${2:-3}
cargo build --release --quiet
bin=$PWD/target/release/dyaspora
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

TIMEFORMAT='%R s wall, %U s user, %S s system'
for run in $(seq "$runs"); do
    for ids in demo kobo; do
        file=$dir/$ids-$n.csv
        rm -f "$dir"/import.db*
        echo -n "run $run, $ids ids: "
        { time "$bin" --db "$dir/import.db" import "$file" --quiet ${DRY_RUN:+--dry-run} >/dev/null; } 2>&1
    done
done
rm -f "$dir"/import.db*
