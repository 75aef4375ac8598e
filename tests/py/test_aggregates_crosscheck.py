"""Aggregates checked against independent implementations: Uber's `h3` (H3 C library) for
cells, Shapely (GEOS) for point-in-polygon, Python's Decimal for remittance sums.

The service runs with k = 1 so that nothing is suppressed and every count can be compared.
The exact figures (admins', /api/v1/admin/aggregates) must equal the independent ones; the
public figures must be within the perturbation's bound of them (PRIVACY.md).
"""

import csv
import io
import json
from collections import Counter, defaultdict
from decimal import Decimal

import h3
import pytest
from shapely import STRtree
from shapely.geometry import Point, shape

from conftest import ROOT


def read_points(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    assert rows, "the demo CSV has rows"
    return rows


def layer_csv(server, query, exact=True):
    """The layer as CSV rows: exact figures by default, the public ones with exact=False."""
    if exact:
        text = server.get("/api/v1/admin/aggregates?" + query + "&format=csv", server.admin).decode()
    else:
        text = server.get("/api/v1/aggregates?" + query + "&format=csv").decode()
    lines = text.splitlines()
    assert lines[1].startswith("#"), "second row is the HXL hashtag row"
    return list(csv.DictReader(io.StringIO("\n".join([lines[0]] + lines[2:]))))


@pytest.mark.parametrize("res", range(2, 10))
def test_h3_counts_per_cell_equal_the_h3_python_package(unsuppressed_server, demo_csv, res):
    """A record belongs to the ancestors of its resolution-9 cell (so that every parent is the
    exact sum of its children); H3 children do not tile their parent exactly, so this differs
    from indexing the point at each resolution for points near cell edges."""
    rows = read_points(demo_csv)
    finest = [h3.latlng_to_cell(float(r["_location_latitude"]), float(r["_location_longitude"]), 9) for r in rows]
    expected = Counter(h3.cell_to_parent(c, res) if res < 9 else c for c in finest)
    ours = {row["id"]: int(row["count"]) for row in layer_csv(unsuppressed_server, f"unit=h3&res={res}")}
    assert ours == dict(expected)


def polygons(name):
    with open(ROOT / "geodata" / name, encoding="utf-8") as f:
        features = json.load(f)["features"]
    return [f["properties"]["fips"] for f in features], [shape(f["geometry"]) for f in features]


def assign(rows, name, fallback):
    """Point-in-polygon with Shapely; points in no polygon fall back to their ZIP (the
    importer's documented rule)."""
    ids, geoms = polygons(name)
    tree = STRtree(geoms)
    counts = Counter()
    for r in rows:
        p = Point(float(r["_location_longitude"]), float(r["_location_latitude"]))
        hits = [i for i in tree.query(p) if geoms[i].contains(p)]
        if hits:
            counts[ids[hits[0]]] += 1
        else:
            fb = fallback(r)
            if fb:
                counts[fb] += 1
    return counts


def zip_table():
    with open(ROOT / "geodata" / "zips.csv", newline="", encoding="utf-8") as f:
        return {z["zip"]: z for z in csv.DictReader(f)}


def state_fips_of_postal():
    with open(ROOT / "geodata" / "states.geojson", encoding="utf-8") as f:
        return {ft["properties"]["postal"]: ft["properties"]["fips"] for ft in json.load(f)["features"]}


def test_state_counts_equal_shapely_point_in_polygon(unsuppressed_server, demo_csv):
    rows = read_points(demo_csv)
    zips, fips = zip_table(), state_fips_of_postal()
    expected = assign(rows, "states.geojson", lambda r: fips.get(zips.get(r["residence/zip"], {}).get("state")))
    ours = {row["id"]: int(row["count"]) for row in layer_csv(unsuppressed_server, "unit=state") if row["count"]}
    assert {k: v for k, v in ours.items() if v} == dict(expected)


def test_county_counts_equal_shapely_point_in_polygon(unsuppressed_server, demo_csv):
    rows = read_points(demo_csv)
    zips = zip_table()
    county_ids = set(polygons("counties.geojson")[0])

    def fallback(r):
        c = zips.get(r["residence/zip"], {}).get("county_fips")
        return c if c in county_ids else None

    expected = assign(rows, "counties.geojson", fallback)
    ours = {row["id"]: int(row["count"]) for row in layer_csv(unsuppressed_server, "unit=county")}
    assert ours == dict(expected)


def test_remittance_sums_are_exact_to_the_cent(unsuppressed_server, demo_csv):
    rows = read_points(demo_csv)
    zips, fips = zip_table(), state_fips_of_postal()
    ids, geoms = polygons("states.geojson")
    tree = STRtree(geoms)
    sums = defaultdict(Decimal)
    for r in rows:
        if r["remittances/remits"] != "yes" or not r["remittances/remit_amount_usd"]:
            continue
        p = Point(float(r["_location_longitude"]), float(r["_location_latitude"]))
        hits = [i for i in tree.query(p) if geoms[i].contains(p)]
        state = ids[hits[0]] if hits else fips.get(zips.get(r["residence/zip"], {}).get("state"))
        sums[state] += Decimal(r["remittances/remit_amount_usd"])
    published = 0
    for row in layer_csv(unsuppressed_server, "unit=state"):
        if row["remit_total_usd"]:
            assert Decimal(row["remit_total_usd"]) == sums[row["id"]], row["name"]
            published += 1
    assert published >= 10, "most states publish a total"
    totals = unsuppressed_server.json("/api/v1/admin/aggregates?unit=state", unsuppressed_server.admin)["totals"]
    assert Decimal(str(totals["remit_total_usd"])) == sum(sums.values())


def noise_bound(server):
    return server.json("/api/v1/methodology")["perturbation"]


@pytest.mark.parametrize("query", ["unit=state", "unit=county", "unit=h3&res=5", "unit=h3&res=9", "unit=county&gender=f"])
def test_public_counts_are_within_the_perturbation_bound_of_the_exact_ones(unsuppressed_server, query):
    """Every published count is the exact one moved by at most D, never to 1..js; a unit left
    out of the public layer is one whose count was perturbed to zero (a true count of at
    most js, given D)."""
    p = noise_bound(unsuppressed_server)
    d, never = p["max"], set(p["never"])
    exact = {r["id"]: int(r["count"]) for r in layer_csv(unsuppressed_server, query) if r["count"]}
    public = {r["id"]: int(r["count"]) for r in layer_csv(unsuppressed_server, query, exact=False) if r["count"]}
    assert public, query
    moved = 0
    for uid, n in public.items():
        assert abs(n - exact[uid]) <= d, (uid, n, exact[uid])
        assert n not in never, (uid, n)
        moved += n != exact[uid]
    for uid, n in exact.items():
        if uid not in public:
            assert n <= d, (uid, n)
    # The noise is real: most counts move (about 69 % with the default table).
    assert moved > 0.4 * len(public), (moved, len(public))


def test_public_remittance_totals_are_within_the_magnitude_bound(unsuppressed_server):
    """A public total is the exact one moved by between half and all of `total_share` times
    the largest single amount of the unit, which is at most half the total (dominance), so
    by at most total_share / 2 of the total."""
    share = noise_bound(unsuppressed_server)["total_share"]
    exact = {r["id"]: Decimal(r["remit_total_usd"]) for r in layer_csv(unsuppressed_server, "unit=state") if r["remit_total_usd"]}
    public = {r["id"]: Decimal(r["remit_total_usd"]) for r in layer_csv(unsuppressed_server, "unit=state", exact=False) if r["remit_total_usd"]}
    assert len(public) >= 10
    for uid, v in public.items():
        assert v != exact[uid], uid
        bound = Decimal(str(share / 2)) * max(v, exact[uid]) + Decimal("0.01")
        assert abs(v - exact[uid]) <= bound, (uid, v, exact[uid])
