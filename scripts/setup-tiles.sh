#!/usr/bin/env bash
# Installs what the tile tests and the tile load test need: the Python packages of
# requirements-tiles.txt in the project venv .venv (mapbox-vector-tile, Shapely, Pillow) and,
# for scripts/bench-tiles.sh only, Debian's wrk. Idempotent and quiet when everything is
# already there. Set DYASPORA_SKIP_WRK=1 to skip wrk (tests do not need it).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# Fast path: skip pip when every pinned requirement is already installed at its version.
if ! .venv/bin/python - requirements-tiles.txt <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    if version(name) != want:
        sys.exit(1)
import pytest  # noqa: F401  (from tests/py/requirements.txt)
PY
then
    echo "setup-tiles: installing requirements-tiles.txt into .venv" >&2
    .venv/bin/pip install -q --disable-pip-version-check -r requirements-tiles.txt
    .venv/bin/python -c "import pytest" 2>/dev/null || .venv/bin/pip install -q --disable-pip-version-check -r tests/py/requirements.txt
fi

if [ "${DYASPORA_SKIP_WRK:-0}" != "1" ] && ! command -v wrk >/dev/null 2>&1; then
    echo "setup-tiles: installing wrk (load tool for scripts/bench-tiles.sh)" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Another setup script may hold apt's lock: wait for it rather than fail.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends wrk >/dev/null || echo "setup-tiles: wrk not installed (only the load test needs it)" >&2
fi
exit 0
