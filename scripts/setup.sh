#!/usr/bin/env bash
# Installs what a fresh machine lacks for the tests: Debian packages (Chromium, GDAL, wrk),
# the Python test venv, the npm packages of the web front-end and its browser tests, and
# builds the front-end. Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v ogrinfo >/dev/null 2>&1 || need_apt+=(gdal-bin)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]} from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Python test packages: reinstalled when any requirements file changes.
reqs=$(ls tests/py/requirements*.txt requirements-*.txt 2>/dev/null || true)
want=$(cat $reqs | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/pytest ] || [ "$(cat .venv/.requirements 2>/dev/null)" != "$want" ]; then
    echo "setup: Python test venv"
    python3 -m venv .venv
    for req in $reqs; do
        .venv/bin/pip install -q -r "$req"
    done
    echo "$want" > .venv/.requirements
fi

for part in scripts/setup-*.sh; do
    [ -e "$part" ] && bash "$part"
done
exit 0
