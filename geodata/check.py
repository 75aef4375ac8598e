#!/usr/bin/env python3
"""Independent validation of geodata/ with Shapely (GEOS).

    cd geodata
    python3 -m venv .venv && .venv/bin/pip install -r requirements-check.txt
    .venv/bin/python check.py

Asserts: every polygon OGC-valid, RFC 7946 winding (exterior counter-clockwise, holes
clockwise), closed rings without duplicate consecutive points, 4-decimal coordinates,
feature counts and properties, consular posts covering every state exactly once, and the
code lists. Reports (and asserts a floor on) how many ZIP centroids fall inside their
own state polygon. Exits 1 on any failure.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyproj
import shapely
from shapely.geometry import shape
from shapely.validation import explain_validity

HERE = Path(__file__).resolve().parent
FAILURES: list[str] = []

KEPT_POSTAL = set(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
    "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR".split()
)
assert len(KEPT_POSTAL) == 52


def fail(msg: str) -> None:
    FAILURES.append(msg)


def load(name: str) -> dict:
    with open(HERE / name, encoding="utf-8") as f:
        return json.load(f)


def read_csv(name: str) -> list[dict]:
    with open(HERE / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def ring_signed_area(ring) -> float:
    s = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        s += x1 * y2 - x2 * y1
    return s / 2


GEOD = pyproj.Geod(ellps="WGS84")  # geodesic area (GeographicLib, via PROJ)


def check_layer(name: str, decimals: int, count=None, count_range=None, props=None) -> dict:
    fc = load(name)
    if fc.get("type") != "FeatureCollection":
        fail(f"{name}: not a FeatureCollection")
    feats = fc["features"]
    n = len(feats)
    if count is not None and n != count:
        fail(f"{name}: {n} features, expected {count}")
    if count_range is not None and not (count_range[0] <= n <= count_range[1]):
        fail(f"{name}: {n} features, expected {count_range}")
    ids = Counter(f.get("id") for f in feats if "id" in f)
    for i, c in ids.items():
        if c > 1:
            fail(f"{name}: id {i} appears {c} times")
    invalid = polys = rings = 0
    area_dev = []
    scale = 10**decimals
    for f in feats:
        tag = f"{name} {f.get('id', '')}".strip()
        if props is not None and list(f["properties"].keys()) != props:
            fail(f"{tag}: properties {list(f['properties'].keys())}")
        g = f["geometry"]
        if g["type"] not in ("Polygon", "MultiPolygon"):
            fail(f"{tag}: geometry type {g['type']}")
            continue
        geom = shape(g)
        if not geom.is_valid:
            invalid += 1
            fail(f"{tag}: invalid: {explain_validity(geom)}")
        if geom.is_empty or geom.area == 0:
            fail(f"{tag}: empty or zero area")
        plist = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        for poly in plist:
            polys += 1
            if shapely.Polygon(poly[0], poly[1:]).area == 0:
                fail(f"{tag}: zero-area polygon")
            for k, ring in enumerate(poly):
                rings += 1
                if len(ring) < 4:
                    fail(f"{tag}: ring of {len(ring)} positions")
                if ring[0] != ring[-1]:
                    fail(f"{tag}: ring not closed")
                for a, b in zip(ring, ring[1:]):
                    if a == b:
                        fail(f"{tag}: duplicate consecutive point {a}")
                        break
                for x, y in ring:
                    if round(x * scale) / scale != x or round(y * scale) / scale != y:
                        fail(f"{tag}: more than {decimals} decimals: {x},{y}")
                        break
                    if not (-180 <= x <= 180 and -90 <= y <= 90):
                        fail(f"{tag}: out of range {x},{y}")
                        break
                sa = ring_signed_area(ring)
                if k == 0 and not sa > 0:
                    fail(f"{tag}: exterior ring not counter-clockwise")
                if k > 0 and not sa < 0:
                    fail(f"{tag}: hole not clockwise")
        if "land_km2" in f["properties"]:
            km2 = abs(GEOD.geometry_area_perimeter(geom)[0]) / 1e6
            area_dev.append(abs(km2 - f["properties"]["land_km2"]))
    out = {"features": n, "polygons": polys, "rings": rings, "invalid": invalid}
    if area_dev:
        out["max_abs_diff_land_km2_vs_pyproj_km2"] = round(max(area_dev), 4)
        if max(area_dev) > 0.0501:  # land_km2 is rounded to 0.1 km²
            fail(f"{name}: land_km2 differs from pyproj's geodesic area by {max(area_dev):.3f} km²")
    return out


def main() -> int:
    report: dict = {}
    report["states"] = check_layer(
        "states.geojson", 4, count=52, props=["fips", "name", "postal", "land_km2"]
    )
    report["counties"] = check_layer(
        "counties.geojson", 4, count_range=(3200, 3299), props=["fips", "name", "state_fips", "land_km2"]
    )
    report["land"] = check_layer("land.geojson", 4)
    report["haiti"] = check_layer("haiti.geojson", 4, count=1, props=["name", "iso"])

    states = load("states.geojson")["features"]
    counties = load("counties.geojson")["features"]
    postal = {f["properties"]["postal"] for f in states}
    if postal != KEPT_POSTAL:
        fail(f"states: postal codes differ from 50 states + DC + PR: {sorted(postal ^ KEPT_POSTAL)}")
    for f in states:
        if f["id"] != f["properties"]["fips"] or len(f["id"]) != 2:
            fail(f"states {f['id']}: id/fips")
    state_geom = {f["properties"]["postal"]: shape(f["geometry"]) for f in states}
    fips_to_postal = {f["id"]: f["properties"]["postal"] for f in states}
    state_area = {f["id"]: f["properties"]["land_km2"] for f in states}
    county_area_sum: dict[str, float] = defaultdict(float)
    for f in counties:
        p = f["properties"]
        if f["id"] != p["fips"] or len(f["id"]) != 5 or p["state_fips"] != f["id"][:2]:
            fail(f"counties {f['id']}: id/fips/state_fips")
        if p["state_fips"] not in fips_to_postal:
            fail(f"counties {f['id']}: state {p['state_fips']} not in states layer")
        county_area_sum[p["state_fips"]] += p["land_km2"]
    # counties tile their state: the areas must agree
    worst = max(abs(county_area_sum[s] - a) / a for s, a in state_area.items())
    report["counties"]["max_rel_diff_sum_of_counties_vs_state"] = round(worst, 5)
    if worst > 0.005:
        fail(f"sum of county areas differs from state area by {worst:.3%}")
    # Aleutians: Alaska must extend both sides of the antimeridian without unwrapping
    ak = state_geom["AK"]
    minx, _, maxx, _ = ak.bounds
    report["states"]["alaska_lon_range"] = [minx, maxx]
    if not (minx < -179 and maxx > 172):
        fail(f"Alaska bounds {ak.bounds}: Aleutians west of 180 missing or unwrapped")

    # --- ZIP centroids ---------------------------------------------------------------
    zips = read_csv("zips.csv")
    with open(HERE / "zips.csv", encoding="utf-8") as f:
        header = f.readline().strip()
    if header != "zip,lat,lon,city,state,county_fips,county_name":
        fail(f"zips.csv header: {header}")
    codes = [r["zip"] for r in zips]
    if codes != sorted(set(codes)):
        fail("zips.csv: not sorted or not unique")
    zip_states = {r["state"] for r in zips}
    if not zip_states <= KEPT_POSTAL:
        fail(f"zips.csv: unexpected states {sorted(zip_states - KEPT_POSTAL)}")
    x = np.array([float(r["lon"]) for r in zips])
    y = np.array([float(r["lat"]) for r in zips])
    st = np.array([r["state"] for r in zips])
    in_own = np.zeros(len(zips), dtype=bool)
    in_any = np.zeros(len(zips), dtype=bool)
    for code, geom in state_geom.items():
        hit = shapely.intersects_xy(geom, x, y)
        in_any |= hit
        in_own |= hit & (st == code)
    with_poly = np.isin(st, list(state_geom))
    n_poly = int(with_poly.sum())
    n_own = int(in_own[with_poly].sum())
    outside_all = int((~in_any & with_poly).sum())
    other_state = int((in_any & ~in_own & with_poly).sum())
    by_state_out = Counter(st[with_poly & ~in_own].tolist())
    report["zips"] = {
        "rows": len(zips),
        "states_present": len(zip_states),
        "with_state_polygon": n_poly,
        "inside_own_state": n_own,
        "inside_own_state_pct": round(100 * n_own / n_poly, 2),
        "outside_every_state_polygon": outside_all,
        "outside_every_state_polygon_pct": round(100 * outside_all / n_poly, 2),
        "inside_another_state_polygon": other_state,
        "not_in_own_state_by_state_top10": dict(by_state_out.most_common(10)),
    }
    if n_own / n_poly < 0.995:
        fail(f"only {100 * n_own / n_poly:.2f} % of ZIP centroids inside their own state polygon")

    # ZIP -> county join and point-in-county for those that join
    county_geom = {f["id"]: shape(f["geometry"]) for f in counties}
    joined = [i for i, r in enumerate(zips) if r["county_fips"] in county_geom]
    unjoined = Counter(
        f"{r['county_fips']} {r['county_name']}" for r in zips if r["county_fips"] and r["county_fips"] not in county_geom
    )
    by_county: dict[str, list[int]] = defaultdict(list)
    for i in joined:
        by_county[zips[i]["county_fips"]].append(i)
    in_county = 0
    for fips, idx in by_county.items():
        idx_a = np.array(idx)
        in_county += int(shapely.intersects_xy(county_geom[fips], x[idx_a], y[idx_a]).sum())
    # ZIPs whose county code does not join: which county polygon holds the centroid?
    tree = shapely.STRtree(list(county_geom.values()))
    unjoined_idx = [i for i, r in enumerate(zips) if r["county_fips"] and r["county_fips"] not in county_geom]
    pts = shapely.points(x[unjoined_idx], y[unjoined_idx])
    located = len(set(tree.query(pts, predicate="intersects")[0].tolist()))
    report["zips"].update(
        {
            "county_fips_empty": sum(1 for r in zips if not r["county_fips"]),
            "county_fips_joins_county_layer": len(joined),
            "county_fips_not_in_county_layer": sum(unjoined.values()),
            "unjoined_codes": dict(sorted(unjoined.items())),
            "unjoined_located_by_point_in_county": located,
            "joined_inside_own_county_polygon": in_county,
            "joined_inside_own_county_pct": round(100 * in_county / len(joined), 2),
        }
    )

    # --- consular posts ----------------------------------------------------------------
    posts = read_csv("consular_posts.csv")
    with open(HERE / "reference" / "haiti-missions-us.csv", encoding="utf-8", newline="") as f:
        ref = list(csv.DictReader(f))
    if [list(p.keys()) for p in posts][0] != list(ref[0].keys()) + ["states"]:
        fail("consular_posts.csv: columns are not the reference columns + states")
    for p, r in zip(posts, ref):
        if any(p[k] != r[k] for k in r):
            fail(f"consular_posts.csv: row {r['id']} differs from the reference")
    served = Counter(s for p in posts for s in p["states"].split())
    for s in KEPT_POSTAL:
        if served[s] != 1:
            fail(f"consular_posts: {s} served by {served[s]} posts")
    for s in served:
        if s not in KEPT_POSTAL:
            fail(f"consular_posts: unknown state {s}")
    report["consular_posts"] = {p["id"]: len(p["states"].split()) for p in posts}

    # --- codes -------------------------------------------------------------------------
    code_rows = read_csv("codes.csv")
    lists = defaultdict(list)
    for r in code_rows:
        lists[r["list"]].append(r["code"])
        for k in ("en", "fr", "ht"):
            if not r[k].strip():
                fail(f"codes: {r['list']}/{r['code']} without {k}")
    expected_sizes = {
        "gender": 3, "age_band": 6, "education": 6, "years_in_us": 4, "generation": 2,
        "collection_mode": 4, "occupation": 10, "sector": 21, "department": 10,
        "remit_frequency": 4, "remit_channel": 5, "need": 10, "difficulty": 8,
        "willingness": 8, "channel": 10, "language": 4, "place_kind": 9,
    }
    for lst, n in expected_sizes.items():
        if len(lists[lst]) != n or len(set(lists[lst])) != n:
            fail(f"codes: list {lst} has {len(lists[lst])} codes, expected {n} distinct")
    if set(lists) != set(expected_sizes):
        fail(f"codes: lists {sorted(set(lists) ^ set(expected_sizes))}")
    report["codes"] = {"lists": len(lists), "rows": len(code_rows)}

    print(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"shapely {shapely.__version__}, GEOS {shapely.geos_version_string}")
    if FAILURES:
        print(f"CHECK FAILED ({len(FAILURES)}):", file=sys.stderr)
        for m in FAILURES[:100]:
            print("  " + m, file=sys.stderr)
        return 1
    print("check: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
