#!/usr/bin/env bash
# Runs every test: formatting and lints, the Rust unit and integration tests, the Python
# cross-checks (h3, Shapely, GDAL, owslib, MVT decoding) and the browser tests in Chromium.
# Installs what is missing first (scripts/setup.sh). This is what .ci/run calls.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; exit 1; }

failed=0
step() {
    echo "=== $1"
    shift
    if ! "$@"; then
        echo "=== FAILED: $*"
        failed=$((failed + 1))
    fi
}

step "format" cargo fmt --check
step "lints" cargo clippy --all-targets --quiet -- -D warnings
step "module cycles" scripts/module-cycles.sh
# The fuzz crate (fuzz/, its own workspace, run by hand with scripts/fuzz.sh on nightly) is
# only type-checked here, on the stable compiler, so that a change to the library's public
# surface cannot leave the fuzz targets broken unnoticed. In the main target directory
# (not fuzz/target); still about a minute the first time, as most dependencies are checked
# again (the two workspaces unify features differently), a few seconds when warm.
step "fuzz targets compile" cargo check --manifest-path fuzz/Cargo.toml --bins --quiet \
    --target-dir "${CARGO_TARGET_DIR:-target}"
step "rust tests" cargo test --quiet
if [ -d tests/py ]; then
    step "python cross-checks" .venv/bin/pytest -q tests/py
fi
if [ -f tests/web/package.json ]; then
    step "browser tests" bash -c 'cd tests/web && npm test --silent'
fi

if [ "$failed" -ne 0 ]; then
    echo "test.sh: $failed step(s) failed"
    exit 1
fi
echo "test.sh: every step passed"
