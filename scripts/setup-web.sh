#!/usr/bin/env bash
# Installs what the web map and its browser tests need, and builds the front-end:
#   - Debian's chromium (the browser the tests drive), if missing;
#   - the npm packages of web/ and tests/web/ at their locked versions (npm ci), when
#     node_modules is missing or older than the lockfile;
#   - web/dist/ (npm run build), when missing or older than any source of web/.
# The binary serves web/dist/ (read from disk in debug builds, embedded in release builds:
# build the front-end before `cargo build --release`). Idempotent and quiet when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    echo "setup-web: installing chromium from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium >/dev/null
fi

command -v npm >/dev/null 2>&1 || { echo "setup-web: node and npm are required (Node >= 20.19)" >&2; exit 1; }

# npm ci when node_modules is missing or the lockfile changed since the last install.
install() {
    local dir=$1
    local stamp="$dir/node_modules/.package-lock.json"
    if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
        echo "setup-web: npm ci in $dir" >&2
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
}
install web
install tests/web

# Rebuild when dist/ is missing or any input is newer than it.
if [ ! -f web/dist/index.html ] || [ -n "$(find web/src web/public web/index.html web/vite.config.js web/compress.mjs web/package-lock.json -newer web/dist/index.html -print -quit)" ]; then
    echo "setup-web: building web/dist" >&2
    (cd web && npm run build --silent >/dev/null)
fi
exit 0
