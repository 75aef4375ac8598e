#!/usr/bin/env bash
# Installs what the OGC API – Features tests need: GDAL's command-line tools (Debian
# gdal-bin: ogrinfo, ogr2ogr with the OAPIF and GPKG drivers) and, in the project venv
# .venv, the Python packages of requirements-ogc.txt (pytest, owslib). Idempotent and quiet
# when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v ogrinfo >/dev/null 2>&1 || ! command -v ogr2ogr >/dev/null 2>&1; then
    echo "setup-ogc: installing gdal-bin" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Another setup script may hold apt's lock: wait for it rather than fail.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends gdal-bin >/dev/null
    command -v ogrinfo >/dev/null || { echo "setup-ogc: gdal-bin could not be installed" >&2; exit 1; }
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# `pip check`-style fast path: skip pip when every pinned requirement is already installed.
if ! .venv/bin/python - requirements-ogc.txt <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    if version(name) != want:
        sys.exit(1)
PY
then
    .venv/bin/pip install -q --disable-pip-version-check -r requirements-ogc.txt
fi
