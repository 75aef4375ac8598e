#!/usr/bin/env bash
# Bounded fuzzing (cargo-fuzz / libFuzzer) of the import parser (CSV, XLSX) and the query
# parsing. NOT part of .ci/run: run it by hand and record the outcome in TESTING.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 300; targets default to import xlsx query http_query (see
# fuzz/fuzz_targets/). cargo-fuzz needs a nightly compiler: the installed `nightly` toolchain
# is used when there is one, else the stable compiler with RUSTC_BOOTSTRAP=1 (which accepts
# the -Z flags cargo-fuzz passes). Corpora grow in fuzz/corpus/, crashes land in
# fuzz/artifacts/, logs and a summary in fuzz/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(import xlsx query http_query)

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz from crates.io"
    cargo install cargo-fuzz --locked --quiet
fi
toolchain=()
if cargo +nightly --version >/dev/null 2>&1; then
    toolchain=(+nightly)
    compiler="$(cargo +nightly --version)"
else
    export RUSTC_BOOTSTRAP=1
    compiler="$(cargo --version) with RUSTC_BOOTSTRAP=1"
fi

mkdir -p fuzz/corpus fuzz/artifacts fuzz/logs
summary=fuzz/logs/summary.txt
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) ${secs}s per target, ${compiler}, $(nproc) cores" >> "$summary"
status=0
for t in "${targets[@]}"; do
    seeds=fuzz/seeds/$t
    [ "$t" = http_query ] && seeds=fuzz/seeds/http
    mkdir -p "fuzz/corpus/$t"
    echo "=== fuzz $t for ${secs}s"
    log=fuzz/logs/$t.log
    set +e
    cargo "${toolchain[@]}" fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" "$seeds" -- \
        -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 -max_len=262144 -print_final_stats=1 \
        > "$log" 2>&1
    rc=$?
    set -e
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -oE '(cov|ft): [0-9]+' "$log" | tail -2 | tr '\n' ' ')
    corpus=$(ls "fuzz/corpus/$t" | wc -l)
    if [ $rc -eq 0 ]; then
        verdict="no crash"
    else
        verdict="FAILED (exit $rc): see $log and fuzz/artifacts/$t/"
        status=1
    fi
    line="$t: ${runs:-?} runs in ${secs}s, ${cov}corpus ${corpus} files, ${verdict}"
    echo "$line" | tee -a "$summary"
done
exit $status
