#!/usr/bin/env bash
# Runs dyaspora on the embedded demo data: builds the web front-end and the release binary
# when needed, then serves http://127.0.0.1:8080 (set DYASPORA_ADDR to change it).
# Extra arguments go to `dyaspora serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f web/package.json ]; then
    if [ ! -d web/node_modules ]; then (cd web && npm ci --no-audit --no-fund --silent); fi
    if [ ! -f web/dist/index.html ] || [ -n "$(find web/src web/index.html -newer web/dist/index.html 2>/dev/null | head -1)" ]; then
        (cd web && npm run build --silent)
    fi
fi
cargo build --release --quiet
exec "${CARGO_TARGET_DIR:-target}/release/dyaspora" serve "$@"
