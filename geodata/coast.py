#!/usr/bin/env python3
"""Builds geodata/coast.bin: GSHHG full-resolution land (minus lakes) over the US, Puerto
Rico, the US Virgin Islands and Hispaniola, cut into 1-degree cells, for the basemap's
street-level zooms. See README.md ("coast.bin") for the source, licence and format.

Needs GMT and the GSHHG full-resolution data (Debian: `apt-get install gmt gmt-gshhg-full`)
and Shapely (requirements-check.txt). Run from anywhere: `python3 geodata/coast.py`.

GMT dumps shorelines only as lines cut at its 1-degree bins (`gmt coast -M -W`), not as
polygons. So, per 1-degree cell, the shoreline pieces and the cell's outline are noded and
polygonized into faces, and GMT itself (`gmt select`, same data, same area threshold)
says which faces are land: a representative point of each face is tested. Land is level 1
(and level 3, islands in lakes) minus level 2 (lakes) and 4 (ponds).
"""

import math
import os
import struct
import subprocess
import sys
import zlib
from collections import defaultdict

import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon, box
from shapely.ops import polygonize, unary_union

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "coast.bin")

# Boxes in whole degrees (west, east, south, north): every area with ZIP centroids or
# state polygons in geodata, and Hispaniola (Haiti with the Dominican Republic, so the
# island has one coastline).
REGIONS = [
    ("contiguous US", -125, -66, 24, 50),
    ("Alaska", -180, -129, 51, 72),
    ("Aleutians west of 180", 172, 180, 51, 54),
    ("Hawaii", -161, -154, 18, 23),
    ("Hispaniola, Puerto Rico, US Virgin Islands", -75, -64, 17, 21),
]
# Features (islands, lakes) smaller than this are left out, in km²: 0.01 km² is a square
# of 100 m, a few pixels at zoom 14.
MIN_AREA_KM2 = 0.01
SCALE = 100_000  # 1e-5 degree (about 1 m) per unit
MAGIC = b"DYCOAST1"
# Haiti is drawn in its own colour: its land is the GSHHG land within 0.05 degrees (about
# 5 km, more than the 1:50m outline's error) of haiti.geojson's outline, except on the
# Dominican side of the border (east of 72.1 W, outside that outline), where the
# 1:50m border is kept.
HAITI_REACH = 0.05
DOMINICAN_SIDE = (-72.1, 17, -68, 21)


def gmt(args, stdin=None):
    return subprocess.run(
        ["gmt", *args], input=stdin, capture_output=True, text=True, check=True
    ).stdout


def shoreline_pieces(w, e, s, n):
    """GMT's shoreline lines in the box, every level, cut at 1-degree bins."""
    text = gmt(["coast", "-Df", "-M", "-W", f"-A{MIN_AREA_KM2}", f"-R{w}/{e}/{s}/{n}"])
    pieces, cur = [], None
    for line in text.splitlines():
        if line.startswith(">"):
            cur = []
            pieces.append(cur)
        elif line.strip():
            x, y = line.split()[:2]
            cur.append((float(x), float(y)))
    return [p for p in pieces if len(p) >= 2]


def cell_of(piece):
    xs = [p[0] for p in piece]
    ys = [p[1] for p in piece]
    return (math.floor((min(xs) + max(xs)) / 2), math.floor((min(ys) + max(ys)) / 2))


def classify(points):
    """Indices of the points on land per GMT (ocean skip, land keep, lake skip,
    island-in-lake keep, pond skip)."""
    if not points:
        return set()
    text = "".join(f"{x:.9f} {y:.9f} {i}\n" for i, (x, y) in enumerate(points))
    out = gmt(["select", "-Df", f"-A{MIN_AREA_KM2}", "-Ns/k/s/k/s"], stdin=text)
    return {int(line.split()[2]) for line in out.splitlines() if line.strip()}


def faces(cell, pieces):
    x0, y0 = cell
    outline = box(x0, y0, x0 + 1, y0 + 1)
    lines = [LineString(p) for p in pieces] + [outline.exterior]
    noded = unary_union(lines)
    result = []
    for f in polygonize(noded):
        f = f.intersection(outline)
        if not f.is_empty and f.area > 0:
            result.append(f)
    return result


def polygons_of(geom):
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]


def haiti_region():
    import json

    with open(os.path.join(HERE, "haiti.geojson")) as f:
        fc = json.load(f)
    haiti = shapely.geometry.shape(fc["features"][0]["geometry"])
    return haiti.buffer(HAITI_REACH).difference(box(*DOMINICAN_SIDE).difference(haiti))


def split_haiti(cells, region):
    """Cells of Hispaniola become pairs (other land, Haiti's land)."""
    for cell, c in list(cells.items()):
        full = box(cell[0], cell[1], cell[0] + 1, cell[1] + 1)
        if c == "water" or not full.intersects(region):
            continue
        geom = full if c == "land" else c
        cells[cell] = (
            shapely.set_precision(geom.difference(region), 1.0 / SCALE),
            shapely.set_precision(geom.intersection(region), 1.0 / SCALE),
        )


def build():
    cells = {}  # (lon0, lat0) -> "water" | "land" | geometry
    pending = []  # (cell, faces)
    points = []  # representative points to classify
    owners = []  # (cell index in pending, face index)
    for name, w, e, s, n in REGIONS:
        by_cell = defaultdict(list)
        for p in shoreline_pieces(w, e, s, n):
            by_cell[cell_of(p)].append(p)
        empty = []
        for x in range(w, e):
            for y in range(s, n):
                if (x, y) in by_cell:
                    fs = faces((x, y), by_cell[(x, y)])
                    k = len(pending)
                    pending.append(((x, y), fs))
                    for j, f in enumerate(fs):
                        rp = f.representative_point()
                        points.append((rp.x, rp.y))
                        owners.append((k, j))
                else:
                    empty.append((x, y))
        on_land = classify([(x + 0.5, y + 0.5) for x, y in empty])
        for i, c in enumerate(empty):
            cells[c] = "land" if i in on_land else "water"
        print(f"{name}: {len(by_cell)} cells with shoreline, {len(empty)} without",
              file=sys.stderr)
    on_land = classify(points)
    land_faces = defaultdict(list)
    for i, (k, j) in enumerate(owners):
        if i in on_land:
            land_faces[k].append(pending[k][1][j])
    for k, (cell, _) in enumerate(pending):
        geom = unary_union(land_faces[k]) if land_faces[k] else Polygon()
        # Snap to the 1e-5 degree grid keeping the polygons valid (GEOS precision model).
        geom = shapely.set_precision(geom, 1.0 / SCALE)
        full = box(cell[0], cell[1], cell[0] + 1, cell[1] + 1)
        if geom.is_empty:
            cells[cell] = "water"
        elif geom.equals(full):
            cells[cell] = "land"
        else:
            cells[cell] = geom
    split_haiti(cells, haiti_region())
    return cells


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zigzag(v):
    return (v << 1) ^ (v >> 63)


def ring_units(ring, ccw):
    coords = list(ring.coords)[:-1]  # open ring
    pts = [(round(x * SCALE), round(y * SCALE)) for x, y in coords]
    area2 = sum(
        pts[i][0] * pts[(i + 1) % len(pts)][1] - pts[(i + 1) % len(pts)][0] * pts[i][1]
        for i in range(len(pts))
    )
    if (area2 > 0) != ccw:
        pts.reverse()
    return pts


def encode(cells):
    body = bytearray()
    kinds = {"water": 0, "land": 1}
    body += varint(len(cells))
    npoints = 0
    for (x, y) in sorted(cells):
        c = cells[(x, y)]
        body += struct.pack("<hhB", x, y, kinds.get(c, 2) if isinstance(c, str) else 2)
        if isinstance(c, str):
            continue
        tagged = [(p, 0) for p in polygons_of(c)] if not isinstance(c, tuple) else (
            [(p, 0) for p in polygons_of(c[0])] + [(p, 1) for p in polygons_of(c[1])]
        )
        body += varint(len(tagged))
        prev = (x * SCALE, y * SCALE)
        for p, haiti in tagged:
            body += bytes([haiti])
            rings = [ring_units(p.exterior, True)] + [ring_units(r, False) for r in p.interiors]
            body += varint(len(rings))
            for r in rings:
                body += varint(len(r))
                npoints += len(r)
                for q in r:
                    body += varint(zigzag(q[0] - prev[0])) + varint(zigzag(q[1] - prev[1]))
                    prev = q
    return MAGIC + zlib.compress(bytes(body), 9), npoints


def main():
    cells = build()
    data, npoints = encode(cells)
    with open(OUT, "wb") as f:
        f.write(data)
    kinds = defaultdict(int)
    for c in cells.values():
        kinds[c if isinstance(c, str) else "mixed"] += 1
    print(f"coast.bin: {len(data):,} bytes, {len(cells)} cells {dict(kinds)}, "
          f"{npoints:,} points", file=sys.stderr)


if __name__ == "__main__":
    main()
