"""Tiles checked by independent decoders against the GeoJSON layer of the same query.

- Vector tiles are decoded by the `mapbox-vector-tile` package (`y_coord_down`), checked
  valid by Shapely (GEOS), and compared with `/api/v1/aggregates`: layer names, the set of
  features, every property, and every position within one pixel.
- PNG tiles are decoded by Pillow: the pixel at each hexagon's (or area's) inside point has
  the colour of its class in the legend that `/api/v1/aggregates` publishes.
- The basemap is compared with Natural Earth land (geodata/land.geojson) read by Shapely.

Web Mercator is written out here from its formula, not taken from the service.
"""

import io
import json
import math

import mapbox_vector_tile
import pytest
from PIL import Image
from shapely import affinity, ops
from shapely.geometry import Point, box, shape
from shapely.prepared import prep

from conftest import ROOT, Server

EXTENT = 4096
BUFFER = 64
PIXEL = EXTENT / 256  # one pixel of a 256 px tile, in tile units

MIAMI = (-80.19, 25.83)
NEW_YORK = (-73.95, 40.65)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The service on 30,000 demo records with the default disclosure threshold (k = 11)."""
    d = tmp_path_factory.mktemp("tiles")
    s = Server(d / "tiles.db", "--demo-records", "30000", "--demo-seed", "3")
    yield s
    s.stop()


def world(lon, lat):
    lat = max(-85.0511287798, min(85.0511287798, lat))
    r = math.radians(lat)
    return (lon + 180.0) / 360.0, (1.0 - math.log(math.tan(r) + 1.0 / math.cos(r)) / math.pi) / 2.0


def tile_of(lon, lat, z):
    x, y = world(lon, lat)
    return z, int(x * 2**z), int(y * 2**z)


def to_tile(geom, t, size=EXTENT):
    z, tx, ty = t

    def f(lon, lat, *_):
        x, y = world(lon, lat)
        return (x * 2**z - tx) * size, (y * 2**z - ty) * size

    return ops.transform(lambda xs, ys, zs=None: tuple(zip(*[f(a, b) for a, b in zip(xs, ys)])), geom)


def decode(data):
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def shoelace(ring):
    return sum(ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1] for i in range(len(ring) - 1))


def mvt_value(v):
    """What a GeoJSON property becomes in a tile: lists joined by commas, nulls left out."""
    if isinstance(v, list):
        return ",".join(str(x) for x in v) if v else None
    return v


LAYER_QUERY = {
    "hexagons": lambda z, res: f"unit=h3&res={res}",
    "states": lambda z, res: "unit=state",
    "counties": lambda z, res: "unit=county",
}


def legend(server, layer, z, metric):
    return server.json(f"/tiles/{layer}/legend.json?z={z}&metric={metric}")


# (layer, point, zoom, metric): tiles where clipping, holes and many features happen.
VECTOR_CASES = [
    ("hexagons", MIAMI, 7, "count"),
    ("hexagons", MIAMI, 10, "remit_share"),
    ("hexagons", NEW_YORK, 9, "female_share"),
    ("hexagons", NEW_YORK, 4, "count"),
    ("states", MIAMI, 3, "count"),
    ("states", NEW_YORK, 5, "remit_share"),
    ("counties", MIAMI, 7, "count"),
    ("counties", NEW_YORK, 6, "female_share"),
]


@pytest.mark.parametrize("layer,point,z,metric", VECTOR_CASES)
def test_vector_tile_matches_the_geojson_layer(server, layer, point, z, metric):
    t = tile_of(*point, z)
    res = legend(server, layer, z, metric)["res"]
    fc = server.json(f"/api/v1/aggregates?{LAYER_QUERY[layer](z, res)}&metric={metric}")
    raw = server.get(f"/tiles/{layer}/{t[0]}/{t[1]}/{t[2]}.mvt?metric={metric}")
    tile = decode(raw)
    assert list(tile) == [layer], "one layer, named after the URL"
    assert tile[layer]["extent"] == EXTENT
    got = {f["properties"]["id"]: f for f in tile[layer]["features"]}
    assert len(got) == len(tile[layer]["features"]), "ids are unique"

    buffered = box(-BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    inner = box(-BUFFER + PIXEL, -BUFFER + PIXEL, EXTENT + BUFFER - PIXEL, EXTENT + BUFFER - PIXEL)
    outer = box(-BUFFER - PIXEL, -BUFFER - PIXEL, EXTENT + BUFFER + PIXEL, EXTENT + BUFFER + PIXEL)
    expected = {}
    for f in fc["features"]:
        g = to_tile(shape(f["geometry"]), t)
        if g.intersects(outer):
            expected[f["properties"]["id"]] = (f, g)
    must = {i for i, (_, g) in expected.items() if g.intersection(inner).area > PIXEL * PIXEL}
    assert must, "the test tile has features"
    assert must <= set(got), f"missing from the tile: {sorted(must - set(got))[:5]}"
    assert set(got) <= set(expected), f"not in the GeoJSON layer: {sorted(set(got) - set(expected))[:5]}"

    for fid, f in got.items():
        gj, g = expected[fid]
        want = {k: mvt_value(v) for k, v in gj["properties"].items() if mvt_value(v) is not None}
        assert f["properties"] == want, fid
        geom = f["geometry"]
        assert geom["type"] in ("Polygon", "MultiPolygon")
        polygons = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        for rings in polygons:
            assert shoelace(rings[0]) > 0, f"{fid}: exterior ring must be clockwise on screen (positive area)"
            for hole in rings[1:]:
                assert shoelace(hole) < 0, f"{fid}: holes wind the other way"
        s = shape(geom)
        assert s.is_valid, f"{fid}: {s.wkt[:200]}"
        clipped = g.intersection(buffered)
        d = s.hausdorff_distance(clipped)
        assert d <= PIXEL, f"{fid}: {d / PIXEL:.2f} px from the GeoJSON geometry"


def test_places_are_at_the_consulates_addresses(server):
    import csv

    with open(ROOT / "geodata" / "consular_posts.csv", encoding="utf-8") as f:
        posts = list(csv.DictReader(f))
    for post in posts:
        lon, lat = float(post["lon"]), float(post["lat"])
        t = tile_of(lon, lat, 9)
        tile = decode(server.get(f"/tiles/places/{t[0]}/{t[1]}/{t[2]}.mvt"))
        found = [f for f in tile["places"]["features"] if f["properties"]["id"] == post["id"]]
        assert len(found) == 1, post["id"]
        f = found[0]
        assert f["geometry"]["type"] == "Point"
        x, y = to_tile(Point(lon, lat), t).coords[0]
        gx, gy = f["geometry"]["coordinates"]
        assert math.hypot(gx - x, gy - y) <= PIXEL
        assert f["properties"]["kind"] == post["type"]


def rgb(hex_colour):
    h = hex_colour.lstrip("#")
    return tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))


RASTER_CASES = [
    ("hexagons", MIAMI, 7, "count", 1),
    ("hexagons", MIAMI, 7, "remit_share", 2),
    ("hexagons", NEW_YORK, 8, "female_share", 1),
    ("states", MIAMI, 4, "count", 1),
    ("counties", NEW_YORK, 7, "remit_share", 2),
]


@pytest.mark.parametrize("layer,point,z,metric,scale", RASTER_CASES)
def test_png_pixels_have_the_legend_colour_of_their_class(server, layer, point, z, metric, scale):
    t = tile_of(*point, z)
    size = 256 * scale
    res = legend(server, layer, z, metric)["res"]
    fc = server.json(f"/api/v1/aggregates?{LAYER_QUERY[layer](z, res)}&metric={metric}")
    cls = fc["classification"]
    suffix = "@2x.png" if scale == 2 else ".png"
    img = Image.open(io.BytesIO(server.get(f"/tiles/{layer}/{t[0]}/{t[1]}/{t[2]}{suffix}?metric={metric}"))).convert("RGBA")
    assert img.size == (size, size)
    checked = 0
    for f in fc["features"]:
        g = to_tile(shape(f["geometry"]), t, size)
        # A point well inside the unit and the tile, away from outlines and antialiasing.
        core = g.buffer(-3 * scale)
        if core.is_empty:
            continue
        p = core.representative_point()
        if not (3 <= p.x < size - 3 and 3 <= p.y < size - 3):
            continue
        c = f["properties"]["class"]
        want = rgb(cls["colors"][c]) if c is not None else rgb(cls["suppressed_color"])
        assert img.getpixel((int(p.x), int(p.y))) == (*want, 255), f["properties"]["id"]
        checked += 1
    assert checked >= 3, f"only {checked} units checked"


def test_the_legend_of_the_tiles_is_the_legend_of_the_layer(server):
    for layer, z, metric in [("hexagons", 9, "count"), ("states", 4, "female_share")]:
        lg = legend(server, layer, z, metric)
        fc = server.json(f"/api/v1/aggregates?{LAYER_QUERY[layer](z, lg['res'])}&metric={metric}")
        assert lg["classification"] == fc["classification"]


def boundaries(name):
    with open(ROOT / "geodata" / f"{name}.geojson", encoding="utf-8") as f:
        return [shape(feat["geometry"]).boundary for feat in json.load(f)["features"]]


def land_polygons():
    with open(ROOT / "geodata" / "land.geojson", encoding="utf-8") as f:
        land = [shape(feat["geometry"]) for feat in json.load(f)["features"]]
    with open(ROOT / "geodata" / "haiti.geojson", encoding="utf-8") as f:
        haiti = [shape(feat["geometry"]) for feat in json.load(f)["features"]]
    return ops.unary_union(land), ops.unary_union(haiti)


def basemap_tile(server, point, z):
    """The basemap tile at `point` and zoom `z`: its (z, x, y), its RGB image, and its box in
    lon/lat with 8 pixels to spare (to cut geometry before projecting it)."""
    t = tile_of(*point, z)
    img = Image.open(io.BytesIO(server.get(f"/tiles/basemap/{t[0]}/{t[1]}/{t[2]}.png"))).convert("RGB")
    n = 2 ** t[0]

    def lon_lat(px, py):
        x, y = (t[1] + px / 256) / n, (t[2] + py / 256) / n
        return x * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y))))

    w, s = lon_lat(-8, 264)
    e, nn = lon_lat(264, -8)
    return t, img, box(w, s, e, nn)


@pytest.mark.parametrize("point,z", [((-98.0, 39.0), 3), ((-80.0, 27.0), 5), ((-72.5, 19.0), 6), ((-122.4, 37.8), 7)])
def test_the_basemap_draws_land_where_land_is(server, point, z):
    land, haiti = land_polygons()
    t, img, frame = basemap_tile(server, point, z)
    land_px = prep(to_tile(land.intersection(frame), t, 256))
    haiti_px = prep(to_tile(haiti.intersection(frame), t, 256))
    # Borders are drawn from zoom 4 (states) and 7 (counties), over land and water alike.
    borders = [b for name, z0 in (("states", 4), ("counties", 7)) if z >= z0 for b in boundaries(name)]
    borders_px = prep(to_tile(ops.unary_union([b.intersection(frame) for b in borders]), t, 256)) if borders else None
    colours = {"water": (0xAA, 0xD3, 0xDF), "land": (0xF2, 0xEF, 0xE9), "haiti": (0xFB, 0xD7, 0x8C)}
    seen = {"water": 0, "land": 0, "haiti": 0}
    for py in range(4, 256, 12):
        for px in range(4, 256, 12):
            p = Point(px + 0.5, py + 0.5).buffer(2.5)
            if borders_px is not None and borders_px.intersects(p):
                continue  # on a border line
            if haiti_px.contains(p):
                kind = "haiti"
            elif haiti_px.intersects(p):
                continue  # on Haiti's outline
            elif land_px.contains(p):
                kind = "land"
            elif not land_px.intersects(p):
                kind = "water"
            else:
                continue  # on the coast
            got = img.getpixel((px, py))
            assert got == colours[kind], f"{kind} expected at pixel {px},{py}, got {got}"
            seen[kind] += 1
    assert seen["land"] + seen["haiti"] > 10 and seen["water"] > 10, seen
