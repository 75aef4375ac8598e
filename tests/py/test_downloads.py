"""Downloads as analysts read them (issue #20): the CSV straight from the API is plain for
pandas, and its CSVW metadata (linked from the response, `rel="describedby"`) gives the
column types, so FIPS codes keep their leading zero; the demo flag is in the metadata and
in the file name, whichever route made the file.

Run with `.venv/bin/pytest tests/py/test_downloads.py` after `cargo build`.
"""

import io
import json
import re
import urllib.request

import pandas as pd
import pytest

from conftest import Server

PANDAS_TYPES = {"string": str, "integer": "Int64", "double": "float64"}


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("downloads")
    server = Server(d / "demo.db", "--demo-records", "20000")
    yield server
    server.stop()


def fetch(server, path):
    with urllib.request.urlopen(server.base + path, timeout=120) as r:
        return r.read(), r.headers  # case-insensitive


def described_by(headers):
    """The target of the response's `Link: <…>; rel="describedby"`."""
    link = headers["Link"]
    assert 'rel="describedby"' in link and 'type="application/csvm+json"' in link, link
    return re.match(r"<([^>]+)>", link).group(1)


def read_with_metadata(body, meta):
    """pandas.read_csv with the dtypes and header rows the CSVW metadata states."""
    columns = meta["tableSchema"]["columns"]
    dtypes = {}
    for c in columns:
        base = c["datatype"]["base"] if isinstance(c["datatype"], dict) else c["datatype"]
        dtypes[c["name"]] = PANDAS_TYPES[base]
    header_rows = meta["dialect"]["headerRowCount"]
    frame = pd.read_csv(
        io.BytesIO(body), dtype=dtypes, skiprows=range(1, header_rows), keep_default_na=False,
        na_values=[""],
    )
    assert list(frame.columns) == [c["name"] for c in columns]
    return frame


@pytest.mark.parametrize("hxl", ["0", "1"])
def test_pandas_reads_the_csv_with_its_csvw_metadata_and_fips_codes_keep_their_zero(demo_server, hxl):
    body, headers = fetch(demo_server, f"/api/v1/aggregates?unit=county&format=csv&download=1&hxl={hxl}")
    name = re.search(r'filename="([^"]+)"', headers["Content-Disposition"]).group(1)
    assert name.startswith("dyaspora-county-") and name.endswith("-demo.csv"), name
    assert not any(line.startswith(b"#") for line in body.splitlines()[:1]), "no comment line"
    meta_body, meta_headers = fetch(demo_server, described_by(headers))
    assert meta_headers["Content-Type"] == "application/csvm+json"
    meta = json.loads(meta_body)
    assert meta["url"] == name, "saved side by side, a CSVW processor finds it"
    assert meta["dyaspora:demo"] is True
    assert "DEMONSTRATION" in meta["dc:title"]
    assert meta["dialect"]["headerRowCount"] == (2 if hxl == "1" else 1)

    frame = read_with_metadata(body, meta)
    ids = frame["id"]
    assert ids.map(len).eq(5).all(), ids[ids.map(len) != 5].tolist()
    zeros = ids[ids.str.startswith("0")]
    assert len(zeros) > 0, "counties of states whose FIPS code starts with 0 (CA, CT, …)"
    assert str(frame["count"].dtype) == "Int64"
    assert frame["count"].dropna().ge(11).all()
    assert frame["female_share"].dtype == "float64"
    # Without the metadata pandas reads the codes as numbers and drops the zero.
    naive = pd.read_csv(io.BytesIO(body), skiprows=range(1, meta["dialect"]["headerRowCount"]))
    assert naive["id"].dtype != object
    assert set(naive["id"].astype(str)) != set(ids)


def test_the_geojson_straight_from_the_api_carries_the_demo_flag_and_the_map_member(demo_server):
    body, headers = fetch(demo_server, "/api/v1/aggregates?unit=state&gender=f&download=1")
    assert re.search(r'filename="dyaspora-state-gender-f-r\d+-\d{4}-\d\d-\d\d-demo\.geojson"',
                     headers["Content-Disposition"]), headers["Content-Disposition"]
    fc = json.loads(body)
    m = fc["dyaspora:map"]
    methodology = demo_server.json("/api/v1/methodology")
    assert m["demo"] is True
    assert m["filters"] == "Gender: Female"
    assert m["sample"]["respondents"] == methodology["records"]
    assert m["rounds"] == methodology["rounds"]
