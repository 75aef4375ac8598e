"""The detailed coast (geodata/coast.bin, GSHHG full resolution) checked independently:

- coast.bin is decoded here from its documented format (geodata/README.md), not by the
  service, into Shapely polygons, which must be valid;
- those polygons are compared with GSHHG itself through GMT (`gmt select`, the same data
  the file was built from) on random points: skipped where GMT and gmt-gshhg-full are not
  installed (they are build-time tools, not test dependencies);
- the basemap tiles the service serves at street level are compared pixel by pixel with
  the decoded polygons (Pillow + Shapely): land where GSHHG has land, water where it has
  water, Haiti in its colour.
"""

import math
import random
import shutil
import struct
import subprocess
import zlib

import pytest
from shapely import ops
from shapely.geometry import Point, Polygon, box
from shapely.prepared import prep

from conftest import ROOT, Server
from test_tiles import basemap_tile, boundaries, to_tile

SCALE = 100_000
MIN_AREA_KM2 = "0.01"  # coast.py's threshold
WATER, LAND, HAITI = (0xAA, 0xD3, 0xDF), (0xF2, 0xEF, 0xE9), (0xFB, 0xD7, 0x8C)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("coast")
    s = Server(d / "coast.db", "--demo-records", "2000", "--demo-seed", "3")
    yield s
    s.stop()


def decode():
    """{(lon0, lat0): "water" | "land" | [(owner, Polygon)]} from coast.bin."""
    data = (ROOT / "geodata" / "coast.bin").read_bytes()
    assert data[:8] == b"DYCOAST1"
    raw = zlib.decompress(data[8:])
    pos = 0

    def varint():
        nonlocal pos
        v, shift = 0, 0
        while True:
            b = raw[pos]
            pos += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    def zigzag():
        v = varint()
        return (v >> 1) ^ -(v & 1)

    cells = {}
    for _ in range(varint()):
        x, y, kind = struct.unpack_from("<hhB", raw, pos)
        pos += 5
        if kind < 2:
            cells[(x, y)] = ("water", "land")[kind]
            continue
        prev = [x * SCALE, y * SCALE]
        polys = []
        for _ in range(varint()):
            owner = raw[pos]
            pos += 1
            rings = []
            for _ in range(varint()):
                ring = []
                for _ in range(varint()):
                    prev = [prev[0] + zigzag(), prev[1] + zigzag()]
                    ring.append((prev[0] / SCALE, prev[1] / SCALE))
                rings.append(ring)
            polys.append((owner, Polygon(rings[0], rings[1:])))
        cells[(x, y)] = polys
    assert pos == len(raw)
    return cells


@pytest.fixture(scope="module")
def coast():
    return decode()


def is_land(coast, lon, lat):
    c = coast[(math.floor(lon), math.floor(lat))]
    if isinstance(c, str):
        return c == "land"
    return any(p.contains(Point(lon, lat)) for _, p in c)


def near_coast(coast, lon, lat, d):
    c = coast[(math.floor(lon), math.floor(lat))]
    return not isinstance(c, str) and any(p.boundary.distance(Point(lon, lat)) < d for _, p in c)


def test_coast_bin_decodes_into_valid_oriented_polygons(coast):
    assert len(coast) > 2000
    mixed = [p for c in coast.values() if not isinstance(c, str) for p in c]
    assert len(mixed) > 1000
    for owner, p in mixed:
        assert owner in (0, 1)
        assert p.is_valid, p.wkt[:200]
        assert p.exterior.is_ccw
        assert all(not r.is_ccw for r in p.interiors)
    # Every covered area of geodata: the 50 states, DC, PR, USVI and Haiti.
    for lon, lat, what in [(-80.13, 25.79, "Miami Beach"), (-149.9, 61.2, "Anchorage"),
                           (-157.86, 21.31, "Honolulu"), (-64.93, 18.34, "St Thomas"),
                           (-72.34, 18.54, "Port-au-Prince"), (177.0, 52.0, "Aleutians")]:
        assert (math.floor(lon), math.floor(lat)) in coast, what


@pytest.mark.skipif(shutil.which("gmt") is None, reason="GMT (and gmt-gshhg-full) not installed")
def test_coast_bin_agrees_with_gshhg_on_random_points(coast):
    rng = random.Random(7)
    keys = sorted(k for k, c in coast.items() if not isinstance(c, str))
    points = []
    while len(points) < 4000:
        x, y = rng.choice(keys)
        lon, lat = x + rng.random(), y + rng.random()
        # 1e-4 degrees (about 10 m): beyond the 1 m rounding and GMT's own precision.
        if not near_coast(coast, lon, lat, 1e-4):
            points.append((lon, lat))
    # Plus the centres of whole cells, which coast.py classified by one point only.
    whole = sorted(k for k, c in coast.items() if isinstance(c, str))
    points += [(x + 0.5, y + 0.5) for x, y in rng.sample(whole, 300)]
    text = "".join(f"{lon:.7f} {lat:.7f} {i}\n" for i, (lon, lat) in enumerate(points))
    out = subprocess.run(["gmt", "select", "-Df", f"-A{MIN_AREA_KM2}", "-Ns/k/s/k/s"],
                         input=text, capture_output=True, text=True, check=True).stdout
    on_land = {int(line.split()[2]) for line in out.splitlines() if line.strip()}
    wrong = [points[i] for i in range(len(points)) if is_land(coast, *points[i]) != (i in on_land)]
    assert not wrong, f"{len(wrong)} of {len(points)} points differ from GSHHG, e.g. {wrong[:5]}"


PLACES = [
    ((-80.1300, 25.7906), 13, "Miami Beach"),
    ((-80.19, 25.80), 10, "Miami and Biscayne Bay"),
    ((-73.9442, 40.6782), 12, "Brooklyn"),
    ((-122.40, 37.80), 11, "San Francisco"),
    ((-157.86, 21.30), 12, "Honolulu"),
    ((-66.10, 18.45), 12, "San Juan"),
    ((-72.34, 18.54), 12, "Port-au-Prince"),
    ((-76.3, 36.9), 9, "Norfolk, Chesapeake Bay"),
]


@pytest.mark.parametrize("point,z,name", PLACES, ids=[p[2] + f"-z{p[1]}" for p in PLACES])
def test_the_street_level_basemap_draws_the_gshhg_coast(server, coast, point, z, name):
    t, img, frame = basemap_tile(server, point, z)
    w, s, e, nn = frame.bounds
    # The decoded coast in this tile, in pixels, Haiti apart.
    parts = {0: [], 1: []}
    for x in range(math.floor(w), math.floor(e) + 1):
        for y in range(math.floor(s), math.floor(nn) + 1):
            c = coast.get((x, y))
            assert c is not None, f"{name}: cell {(x, y)} is not covered"
            if c == "land":
                parts[0].append(box(x, y, x + 1, y + 1))
            elif not isinstance(c, str):
                for owner, p in c:
                    parts[owner].append(p)
    land_px = prep(to_tile(ops.unary_union(parts[0]).intersection(frame), t, 256))
    haiti_px = prep(to_tile(ops.unary_union(parts[1]).intersection(frame), t, 256))
    lines = [b for name_, z0 in (("states", 4), ("counties", 7)) if z >= z0 for b in boundaries(name_)]
    lines_px = prep(to_tile(ops.unary_union([b.intersection(frame) for b in lines]), t, 256))
    seen = {WATER: 0, LAND: 0, HAITI: 0}
    for py in range(2, 256, 6):
        for px in range(2, 256, 6):
            p = Point(px + 0.5, py + 0.5).buffer(1.5)
            if lines_px.intersects(p):
                continue  # under a state or county line
            if land_px.contains(p):
                want = LAND
            elif haiti_px.contains(p):
                want = HAITI
            elif not land_px.intersects(p) and not haiti_px.intersects(p):
                want = WATER
            else:
                continue  # on the coast
            assert img.getpixel((px, py)) == want, f"{name} z{z}: pixel {(px, py)}"
            seen[want] += 1
    assert seen[WATER] > 20 and seen[LAND] + seen[HAITI] > 20, f"{name}: {seen}"
