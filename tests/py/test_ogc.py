"""OGC API – Features as analysts' tools read it: GDAL (ogrinfo, ogr2ogr to GeoPackage,
a bbox query) and OWSLib, against the real `dyaspora` binary on demo data.

Run with `.venv/bin/pytest tests/py/test_ogc.py` after `scripts/setup-ogc.sh` and
`cargo build` (or set DYASPORA_BIN to the binary to test).
"""

import json
import os
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import BIN, ROOT
RECORDS = 20_000
COLLECTIONS = ["states", "counties"] + [f"h3-res{r}" for r in range(2, 10)] + ["places"]
MIAMI = (-80.5, 25.5, -80.0, 26.2)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ogc(tmp_path_factory):
    """The OGC root URL of a fresh service on demo data; stopped after the module."""
    if not BIN.exists():
        subprocess.run(["cargo", "build", "--bin", "dyaspora"], cwd=ROOT, check=True)
    work = tmp_path_factory.mktemp("ogc")
    port = free_port()
    log = open(work / "server.log", "wb")
    proc = subprocess.Popen(
        [str(BIN), "--db", str(work / "ogc.db"), "serve", "--addr", f"127.0.0.1:{port}",
         "--demo-records", str(RECORDS)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        # These tests page through every collection many times over, far beyond the
        # per-client rate limit and budget of filtered layers of one analyst; the limits
        # have their own tests.
        env={**os.environ, "DYASPORA_RATE_LIMIT": "0", "DYASPORA_LAYER_BUDGET": "0"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        if proc.poll() is not None:
            pytest.fail(f"dyaspora exited ({proc.returncode}): {(work / 'server.log').read_text()[-2000:]}")
        try:
            if requests.get(f"{base}/health/ready", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("dyaspora did not answer /health/ready within 300 s")
        time.sleep(0.2)
    yield f"{base}/ogc"
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def get_json(url, **params):
    r = requests.get(url, params=params, timeout=120)
    assert r.status_code == 200, f"{r.url}: {r.status_code} {r.text[:500]}"
    return r


def number_matched(ogc, collection, **params):
    return get_json(f"{ogc}/collections/{collection}/items", limit=1, **params).json()["numberMatched"]


def all_ids(ogc, collection, limit, **params):
    """Every feature id, following next links to the end; checks the page arithmetic."""
    url, query = f"{ogc}/collections/{collection}/items", dict(limit=limit, **params)
    ids, matched, pages = [], None, 0
    while url:
        page = get_json(url, **query).json()
        query = {}  # next links carry the whole query
        pages += 1
        assert page["numberReturned"] == len(page["features"])
        assert matched in (None, page["numberMatched"])
        matched = page["numberMatched"]
        ids += [f["id"] for f in page["features"]]
        nxt = [l for l in page["links"] if l["rel"] == "next"]
        assert all(l["type"] == "application/geo+json" for l in nxt)
        url = nxt[0]["href"] if nxt else None
        assert pages < 5000
    return ids, matched


def run(*args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
    assert r.returncode == 0, f"{' '.join(args)}\n{r.stderr[-3000:]}"
    return r


def test_content_types_are_exact(ogc):
    assert get_json(f"{ogc}/").headers["content-type"] == "application/json"
    assert get_json(f"{ogc}/conformance").headers["content-type"] == "application/json"
    assert get_json(f"{ogc}/collections").headers["content-type"] == "application/json"
    assert get_json(f"{ogc}/api").headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert get_json(f"{ogc}/collections/states/items").headers["content-type"] == "application/geo+json"
    r = requests.get(f"{ogc}/collections/states/items", params={"limit": "none"}, timeout=30)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_paging_to_the_end_sums_to_number_matched(ogc, collection):
    matched = number_matched(ogc, collection)
    assert matched > 0
    for limit in (37, 10_000, 1_000_000):
        ids, reported = all_ids(ogc, collection, limit)
        assert reported == matched
        assert len(ids) == matched and len(set(ids)) == matched, f"limit={limit}"


def test_ogrinfo_lists_every_collection(ogc):
    out = run("ogrinfo", "-ro", "-q", f"OAPIF:{ogc}").stdout
    listed = [line.split(":", 1)[1].split("(")[0].strip() for line in out.splitlines() if line[:1].isdigit()]
    served = [c["id"] for c in get_json(f"{ogc}/collections").json()["collections"]]
    assert served == COLLECTIONS
    assert sorted(listed) == sorted(served), out


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_ogr2ogr_copies_each_collection_completely(ogc, collection, tmp_path):
    gpkg = tmp_path / f"{collection}.gpkg"
    run("ogr2ogr", "-f", "GPKG", str(gpkg), f"OAPIF:{ogc}", collection)
    with sqlite3.connect(gpkg) as db:
        tables = [t for (t,) in db.execute("SELECT table_name FROM gpkg_contents")]
        assert tables == [collection]
        copied = db.execute(f'SELECT COUNT(*) FROM "{collection}"').fetchone()[0]
        columns = [row[1] for row in db.execute(f'PRAGMA table_info("{collection}")')]
        ids = {row[0] for row in db.execute(f'SELECT "id" FROM "{collection}"')}
    assert copied == number_matched(ogc, collection)
    assert "name" in columns
    served, _ = all_ids(ogc, collection, 10_000)
    assert ids == set(served)


def test_a_bbox_query_through_gdal_returns_what_our_endpoint_returns(ogc, tmp_path):
    for collection in ("counties", "h3-res7", "places"):
        out = tmp_path / f"{collection}.geojson"
        r = run("ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{ogc}", collection,
                "-spat", *map(str, MIAMI), "--config", "CPL_DEBUG", "ON")
        assert "bbox=" in r.stderr, "GDAL passes the box to the server"
        through_gdal = {f["properties"]["id"] for f in json.loads(out.read_text())["features"]}
        ours, matched = all_ids(ogc, collection, 100, bbox=",".join(map(str, MIAMI)))
        assert through_gdal, collection
        assert through_gdal == set(ours), collection
        assert matched == len(ours)


def test_owslib_reads_collections_and_items(ogc):
    from owslib.ogcapi.features import Features

    api = Features(ogc)
    conformance = api.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    assert api.feature_collections() == COLLECTIONS
    definition = api.api()
    assert definition["openapi"].startswith("3.0")
    limit = next(p for p in definition["paths"]["/collections/states/items"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["default"], limit["schema"]["maximum"]) == (100, 10_000)
    counties = api.collection("counties")
    assert counties["extent"]["spatial"]["bbox"][0][0] < -80
    items = api.collection_items("states", limit=100)
    assert items["numberReturned"] == items["numberMatched"] == len(items["features"])
    assert {f["id"] for f in items["features"]} >= {"12", "36", "25"}
    boxed = api.collection_items("counties", bbox=list(MIAMI), limit=10)
    assert 0 < boxed["numberReturned"] <= 10
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in boxed["features"])
    women = api.collection_items("h3-res5", gender="f", limit=10_000)
    assert all(f["properties"]["count"] >= 11 for f in women["features"])
    place = api.collection_item("places", "HT-EMB-WAS")
    assert place["properties"]["kind"] == "embassy"
