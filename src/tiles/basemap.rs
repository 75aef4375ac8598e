//! The offline basemap: PNG tiles drawn from the embedded geodata, so the map needs no
//! outside tile server. Water background, Natural Earth 1:50m land, Haiti highlighted, state
//! borders from zoom [`STATE_LINES_FROM`], county borders from zoom [`COUNTY_LINES_FROM`].
//! From zoom [`DETAIL_FROM`] on, GSHHG's full-resolution land replaces the 1:50m land
//! wherever it covers (the US, Puerto Rico, the Virgin Islands, Hispaniola): at street level
//! the 1:50m coast is kilometres off and leaves barrier islands such as Miami Beach in the
//! sea. Tiles are drawn on the server, so the browser never downloads the detailed land,
//! only the pixels of the tiles it shows.
//!
//! Borders are the *shared* edges of the state and county polygons (an edge two areas have
//! in common), so coastlines come from the land layer only and are not drawn twice from
//! two data sets that disagree by a few hundred metres.

use std::collections::HashMap;
use std::sync::OnceLock;

use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use tiny_skia::{FillRule, LineCap, LineJoin, PathBuilder, Stroke, Transform};

use super::clip::{overlaps, ring_bounds};
use super::mercator::{to_lon_lat, to_world, TileId};
use super::raster::{add_polygon, canvas, paint, TILE_PX};
use super::source::{project_polygons, rgb};
use crate::error::Error;
use crate::geodata::coast::{Cell, Coast, Owner, UNITS_PER_DEGREE};
use crate::geodata::{multipolygon, read_features, Area, Geodata};

/// State borders are drawn from this zoom on (below, they clutter a continent-wide view).
pub const STATE_LINES_FROM: u8 = 4;
/// County borders are drawn from this zoom on.
pub const COUNTY_LINES_FROM: u8 = 7;
/// From this zoom on, the detailed coast is drawn where it covers: at zoom 9 a pixel is
/// about 250 m, and the 1:50m coast's errors (often 1–2 km) begin to show.
pub const DETAIL_FROM: u8 = 9;
/// Deepest zoom served: GSHHG's ~1:250,000 coast is not worth drawing closer.
pub const MAX_ZOOM: u8 = 14;
/// Bumped when the drawing changes, so cached and CDN copies are replaced.
pub const STYLE_VERSION: u64 = 2;

const WATER: &str = "#aad3df";
const LAND: &str = "#f2efe9";
const HAITI: &str = "#fbd78c";
const HAITI_EDGE: &str = "#c8102e";
const STATE_LINE: &str = "#8f8aa8";
const COUNTY_LINE: &str = "#cfcbd6";

type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Fills `path` in `colour` (even-odd: holes stay open).
fn fill_even_odd(pixmap: &mut tiny_skia::Pixmap, path: &tiny_skia::Path, colour: &str) {
    pixmap.fill_path(
        path,
        &paint(rgb(colour), 255),
        FillRule::EvenOdd,
        Transform::identity(),
        None,
    );
}

/// Strokes `path` in `colour`, `width` pixels wide, with round joins.
fn stroke(
    pixmap: &mut tiny_skia::Pixmap,
    path: &tiny_skia::Path,
    colour: &str,
    width: f32,
    cap: LineCap,
) {
    let stroke = Stroke {
        width,
        line_cap: cap,
        line_join: LineJoin::Round,
        ..Stroke::default()
    };
    pixmap.stroke_path(
        path,
        &paint(rgb(colour), 255),
        &stroke,
        Transform::identity(),
        None,
    );
}

/// Shapes (world units) with an R-tree of their boxes.
struct Indexed<T> {
    items: Vec<T>,
    index: RTree<BoxEntry>,
}

/// Polygons: rings, the first one outer.
type Polygons = Indexed<Vec<Vec<[f64; 2]>>>;
/// Polylines.
type Lines = Indexed<Vec<[f64; 2]>>;

impl Polygons {
    /// Polygons indexed by their outer ring.
    fn polygons(items: Vec<Vec<Vec<[f64; 2]>>>) -> Polygons {
        Indexed::new(items, |p| p.first().map(Vec::as_slice))
    }
}

impl Lines {
    /// Polylines indexed by all their points.
    fn lines(items: Vec<Vec<[f64; 2]>>) -> Lines {
        Indexed::new(items, |l| Some(l.as_slice()))
    }
}

impl<T> Indexed<T> {
    /// Indexes `items` by the box of the points `outline` gives (a shape without one is kept
    /// but never selected).
    fn new(items: Vec<T>, outline: impl Fn(&T) -> Option<&[[f64; 2]]>) -> Indexed<T> {
        let boxes = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| outline(item).map(|points| (i, ring_bounds(points))))
            .map(|(i, b)| {
                BoxEntry::new(
                    Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]),
                    i as u32,
                )
            })
            .collect();
        Indexed {
            items,
            index: RTree::bulk_load(boxes),
        }
    }

    /// The shapes whose box meets `b`, in their original order (a stable drawing order).
    fn select(&self, b: [f64; 4]) -> impl Iterator<Item = &T> {
        let env = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
        let mut ids: Vec<u32> = self
            .index
            .locate_in_envelope_intersecting(&env)
            .map(|e| e.data)
            .collect();
        ids.sort_unstable();
        ids.into_iter().map(|i| &self.items[i as usize])
    }
}

/// The basemap's geometry, projected once.
struct Basemap {
    land: Polygons,
    haiti: Polygons,
    state_lines: Lines,
    county_lines: Lines,
}

fn basemap() -> &'static Basemap {
    static BASEMAP: OnceLock<Basemap> = OnceLock::new();
    BASEMAP.get_or_init(|| {
        let geo = Geodata::get();
        // Embedded and read by the tests: a binary whose files do not parse stops here.
        let polygons_of = |file: &str| -> Vec<Vec<Vec<[f64; 2]>>> {
            let polygons = read_features(file).and_then(|features| {
                features
                    .iter()
                    .map(|f| multipolygon(file, f).map(|mp| project_polygons(&mp)))
                    .collect::<Result<Vec<_>, _>>()
            });
            match polygons {
                Ok(p) => p.into_iter().flatten().collect(),
                Err(e) => panic!("the embedded basemap is invalid: {e}"),
            }
        };
        Basemap {
            land: Polygons::polygons(polygons_of("land.geojson")),
            haiti: Polygons::polygons(polygons_of("haiti.geojson")),
            state_lines: Lines::lines(shared_edges(&geo.states)),
            county_lines: Lines::lines(shared_edges(&geo.counties)),
        }
    })
}

/// The edges two different areas have in common, joined into polylines (world units).
fn shared_edges(areas: &[Area]) -> Vec<Vec<[f64; 2]>> {
    type P = (u64, u64);
    let key = |c: geo::Coord<f64>| -> P { (c.x.to_bits(), c.y.to_bits()) };
    let edge = |a: P, b: P| if a <= b { (a, b) } else { (b, a) };
    // Edge → (first area seen, shared by another area?).
    let mut owners: HashMap<(P, P), (usize, bool)> = HashMap::new();
    for (i, area) in areas.iter().enumerate() {
        for ring in area
            .geometry
            .0
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        {
            for w in ring.0.windows(2) {
                let e = edge(key(w[0]), key(w[1]));
                owners
                    .entry(e)
                    .and_modify(|o| o.1 |= o.0 != i)
                    .or_insert((i, false));
            }
        }
    }
    let mut lines = Vec::new();
    for (i, area) in areas.iter().enumerate() {
        for ring in area
            .geometry
            .0
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        {
            let mut run: Vec<geo::Coord<f64>> = Vec::new();
            for w in ring.0.windows(2) {
                // Each shared edge is drawn once, by the first area that has it.
                let take = owners
                    .get(&edge(key(w[0]), key(w[1])))
                    .is_some_and(|&(first, shared)| shared && first == i);
                if take {
                    if run.is_empty() {
                        run.push(w[0]);
                    }
                    run.push(w[1]);
                } else if !run.is_empty() {
                    lines.push(std::mem::take(&mut run));
                }
            }
            if !run.is_empty() {
                lines.push(run);
            }
        }
    }
    lines
        .into_iter()
        .map(|l| {
            l.iter()
                .map(|c| super::mercator::to_world(c.x, c.y))
                .collect()
        })
        .collect()
}

/// Clips a polyline to a box (pixel units), segment by segment (Liang–Barsky).
fn clip_polyline(line: &[[f64; 2]], b: [f64; 4]) -> Vec<Vec<[f64; 2]>> {
    let mut out: Vec<Vec<[f64; 2]>> = Vec::new();
    let mut run: Vec<[f64; 2]> = Vec::new();
    for w in line.windows(2) {
        match clip_segment(w[0], w[1], b) {
            Some((p, q)) => {
                if run.last() != Some(&p) {
                    if run.len() >= 2 {
                        out.push(std::mem::take(&mut run));
                    }
                    run.clear();
                    run.push(p);
                }
                run.push(q);
            }
            None => {
                if run.len() >= 2 {
                    out.push(std::mem::take(&mut run));
                }
                run.clear();
            }
        }
    }
    if run.len() >= 2 {
        out.push(run);
    }
    out
}

fn clip_segment(p: [f64; 2], q: [f64; 2], b: [f64; 4]) -> Option<([f64; 2], [f64; 2])> {
    let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (pk, qk) in [
        (-dx, p[0] - b[0]),
        (dx, b[2] - p[0]),
        (-dy, p[1] - b[1]),
        (dy, b[3] - p[1]),
    ] {
        if pk == 0.0 {
            if qk < 0.0 {
                return None;
            }
        } else {
            let r = qk / pk;
            if pk < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then(|| {
        (
            [p[0] + t0 * dx, p[1] + t0 * dy],
            [p[0] + t1 * dx, p[1] + t1 * dy],
        )
    })
}

/// Renders basemap tile `t` at `scale` (1 or 2) as a PNG.
///
/// # Errors
/// Only a PNG encoder failure (a bug), reported as internal.
pub fn render(t: TileId, scale: u32) -> Result<Vec<u8>, Error> {
    let map = basemap();
    let size = f64::from(TILE_PX * scale);
    let s = scale as f32;
    let buffer = 4.0 * f64::from(scale);
    let world = t.world_bounds(buffer / size);
    let clip = [-buffer, -buffer, size + buffer, size + buffer];
    let mut pixmap = canvas(scale)?;
    pixmap.fill(tiny_skia::Color::from_rgba8(0xaa, 0xd3, 0xdf, 255));
    debug_assert_eq!(rgb(WATER), [0xaa, 0xd3, 0xdf]);
    let fill = |pixmap: &mut tiny_skia::Pixmap,
                polygons: &Polygons,
                colour: &str,
                edge: Option<(&str, f32)>| {
        let mut pb = PathBuilder::new();
        for rings in polygons.select(world) {
            add_polygon(&mut pb, rings, t, size, world, clip);
        }
        if let Some(path) = pb.finish() {
            fill_even_odd(pixmap, &path, colour);
            if let Some((c, w)) = edge {
                stroke(pixmap, &path, c, w * s, LineCap::Butt);
            }
        }
    };
    fill(&mut pixmap, &map.land, LAND, None);
    let detailed = t.z >= DETAIL_FROM;
    if detailed {
        draw_coast(&mut pixmap, t, size, world, clip);
    }
    let lines = |pixmap: &mut tiny_skia::Pixmap, lines: &Lines, colour: &str, width: f32| {
        let mut pb = PathBuilder::new();
        for line in lines.select(world) {
            let px: Vec<[f64; 2]> = line.iter().map(|&p| t.to_tile(p, size)).collect();
            for part in clip_polyline(&px, clip) {
                pb.move_to(part[0][0] as f32, part[0][1] as f32);
                for p in &part[1..] {
                    pb.line_to(p[0] as f32, p[1] as f32);
                }
            }
        }
        if let Some(path) = pb.finish() {
            stroke(pixmap, &path, colour, width * s, LineCap::Round);
        }
    };
    if t.z >= COUNTY_LINES_FROM {
        lines(&mut pixmap, &map.county_lines, COUNTY_LINE, 0.6);
    }
    if t.z >= STATE_LINES_FROM {
        lines(
            &mut pixmap,
            &map.state_lines,
            STATE_LINE,
            if t.z >= COUNTY_LINES_FROM { 1.4 } else { 0.9 },
        );
    }
    // The detailed coast colours Haiti itself (all of Hispaniola is covered).
    if !detailed && overlaps(world, haiti_bounds()) {
        fill(&mut pixmap, &map.haiti, HAITI, Some((HAITI_EDGE, 1.0)));
    }
    pixmap
        .encode_png()
        .map_err(|e| Error::Internal(format!("PNG encoding: {e}")))
}

/// Draws the detailed coast over the 1:50m land: each covered 1° cell in the tile is first
/// painted water, then its land. Each colour is one path, so cells that abut show no seam.
fn draw_coast(
    pixmap: &mut tiny_skia::Pixmap,
    t: TileId,
    size: f64,
    world: [f64; 4],
    clip: [f64; 4],
) {
    let (west, north) = to_lon_lat([world[0], world[1]]);
    let (east, south) = to_lon_lat([world[2], world[3]]);
    let units = [west, south, east, north].map(|d| d * UNITS_PER_DEGREE);
    let (mut water, mut land, mut haiti) =
        (PathBuilder::new(), PathBuilder::new(), PathBuilder::new());
    let px = |lon: f64, lat: f64| t.to_tile(to_world(lon, lat), size);
    for ((x, y), cell) in Coast::get().cells_in([west, south, east, north]) {
        let (x, y) = (f64::from(x), f64::from(y));
        let (nw, se) = (px(x, y + 1.0), px(x + 1.0, y));
        let rect = tiny_skia::Rect::from_ltrb(
            nw[0].max(clip[0]) as f32,
            nw[1].max(clip[1]) as f32,
            se[0].min(clip[2]) as f32,
            se[1].min(clip[3]) as f32,
        );
        let Some(rect) = rect else { continue };
        water.push_rect(rect);
        match cell {
            Cell::Water => {}
            Cell::Land => land.push_rect(rect),
            Cell::Mixed(polygons) => {
                for p in polygons {
                    let b = p.bounds.map(f64::from);
                    if !overlaps(b, units) {
                        continue;
                    }
                    let rings: Vec<Vec<[f64; 2]>> = p
                        .rings
                        .iter()
                        .map(|r| {
                            r.iter()
                                .map(|q| {
                                    to_world(
                                        f64::from(q[0]) / UNITS_PER_DEGREE,
                                        f64::from(q[1]) / UNITS_PER_DEGREE,
                                    )
                                })
                                .collect()
                        })
                        .collect();
                    let path = match p.owner {
                        Owner::Other => &mut land,
                        Owner::Haiti => &mut haiti,
                    };
                    add_polygon(path, &rings, t, size, world, clip);
                }
            }
        }
    }
    for (pb, colour) in [(water, WATER), (land, LAND), (haiti, HAITI)] {
        if let Some(path) = pb.finish() {
            fill_even_odd(pixmap, &path, colour);
        }
    }
}

fn haiti_bounds() -> [f64; 4] {
    static B: OnceLock<[f64; 4]> = OnceLock::new();
    *B.get_or_init(|| super::clip::polygons_bounds(&basemap().haiti.items))
}

/// The basemap's colours, for tests and the legend of printed maps.
pub fn palette() -> [(&'static str, [u8; 3]); 3] {
    [
        ("water", rgb(WATER)),
        ("land", rgb(LAND)),
        ("haiti", rgb(HAITI)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colour_at(lon: f64, lat: f64, z: u8) -> [u8; 3] {
        let w = to_world(lon, lat);
        let n = f64::from(1u32 << z);
        let t = TileId::new(z, (w[0] * n) as u32, (w[1] * n) as u32).unwrap();
        let img = tiny_skia::Pixmap::decode_png(&render(t, 1).unwrap()).unwrap();
        let p = t.to_tile(w, f64::from(TILE_PX));
        let px = img.pixel(p[0] as u32, p[1] as u32).unwrap();
        [px.red(), px.green(), px.blue()]
    }

    #[test]
    fn land_is_drawn_where_land_is_and_water_where_water_is() {
        let [water, land, haiti] = palette().map(|(_, c)| c);
        assert_eq!(colour_at(-98.0, 39.0, 5), land, "Kansas");
        assert_eq!(colour_at(-60.0, 30.0, 5), water, "the Atlantic");
        assert_eq!(colour_at(-72.3, 18.9, 6), haiti, "central Haiti");
        assert_eq!(
            colour_at(-70.5, 19.0, 6),
            land,
            "the Dominican Republic is land, not Haiti"
        );
    }

    #[test]
    fn at_street_level_barrier_islands_are_land_and_bays_water() {
        let [water, land, haiti] = palette().map(|(_, c)| c);
        for z in [DETAIL_FROM, 13, MAX_ZOOM] {
            assert_eq!(colour_at(-80.1300, 25.7906, z), land, "Miami Beach, z{z}");
            assert_eq!(colour_at(-73.9442, 40.6782, z), land, "Brooklyn, z{z}");
            assert_eq!(colour_at(-80.16, 25.80, z), water, "Biscayne Bay, z{z}");
            assert_eq!(
                colour_at(-72.3388, 18.5392, z),
                haiti,
                "Port-au-Prince, z{z}"
            );
        }
        // Below the detail zoom the 1:50m land puts Miami Beach in the sea: the reason for
        // the detailed coast (if this fails, the 1:50m land improved; revisit DETAIL_FROM).
        assert_eq!(colour_at(-80.1300, 25.7906, 6), water);
    }

    #[test]
    fn borders_are_the_edges_shared_by_two_states() {
        let geo = Geodata::get();
        let lines = shared_edges(&geo.states);
        assert!(!lines.is_empty());
        // No border runs along the open Atlantic east of Florida.
        let sea = to_world(-79.0, 27.0);
        assert!(lines
            .iter()
            .flatten()
            .all(|p| (p[0] - sea[0]).abs() > 1e-3 || (p[1] - sea[1]).abs() > 1e-3));
    }

    #[test]
    fn a_polyline_is_cut_where_it_leaves_the_box() {
        let parts = clip_polyline(
            &[
                [-5.0, 5.0],
                [5.0, 5.0],
                [15.0, 5.0],
                [15.0, 15.0],
                [5.0, 8.0],
            ],
            [0.0, 0.0, 10.0, 10.0],
        );
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], vec![[0.0, 5.0], [5.0, 5.0], [10.0, 5.0]]);
    }
}
