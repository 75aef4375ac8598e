//! Mapbox Vector Tile 2.1 encoding of a [`Source`] for one tile, with the `mvt` crate as the
//! protobuf encoder. Projection, clipping, snapping and winding happen here, since no encoder
//! does them: features are selected by bounding box, scaled to the 4096 grid, clipped to the
//! tile plus a buffer of [`BUFFER`] units, snapped to integers and oriented (exterior rings
//! clockwise on screen, holes counter-clockwise).

use mvt::{GeomEncoder, GeomType, Tile};

use super::clip::{clip_polygon, clip_ring, orient, overlaps, ring_bounds, snap_ring, within};
use super::mercator::TileId;
use super::source::{Kind, Prop, Shape, Source};
use crate::error::Error;

/// Tile grid of every layer.
pub const EXTENT: u32 = 4096;
/// Geometry kept beyond each tile edge, in tile units (64 = 4 px of a 256 px tile): enough
/// for strokes and labels to join across tile seams.
pub const BUFFER: f64 = 64.0;

fn mvt_error(e: mvt::Error) -> Error {
    Error::Internal(format!("MVT encoding: {e}"))
}

/// Encodes the features of `source` that touch tile `t`; `None` when none does.
///
/// # Errors
/// Only an encoder failure (a bug), reported as internal.
pub fn encode(source: &Source, t: TileId) -> Result<Option<Vec<u8>>, Error> {
    let ext = f64::from(EXTENT);
    let world = t.world_bounds(BUFFER / ext);
    let clip_box = [-BUFFER, -BUFFER, ext + BUFFER, ext + BUFFER];
    let tile = Tile::new(EXTENT);
    let mut layer = tile.create_layer(source.name);
    let mut rings: Vec<(Vec<[i32; 2]>, bool)> = Vec::new();
    for i in source.select(world) {
        let f = &source.features[i];
        let geom = match &f.shape {
            Shape::Point(p) => {
                let q = t.to_tile(*p, ext);
                if !within([q[0], q[1], q[0], q[1]], clip_box) {
                    continue;
                }
                GeomEncoder::<i32>::new(GeomType::Point)
                    .point(q[0].round() as i32, q[1].round() as i32)
                    .and_then(GeomEncoder::encode)
                    .map_err(mvt_error)?
            }
            Shape::Polygons(polygons) => {
                rings.clear();
                tile_rings(polygons, source.kind, t, world, clip_box, &mut rings);
                if rings.is_empty() {
                    continue;
                }
                polygon_geometry(&rings).map_err(mvt_error)?
            }
        };
        let mut feature = layer.into_feature(geom);
        if let Some(id) = f.id {
            feature.set_id(id);
        }
        for (k, v) in &f.props {
            let key = &source.keys[*k as usize];
            match v {
                Prop::Str(s) => feature.add_tag_string(key, s),
                Prop::Uint(u) => feature.add_tag_uint(key, *u),
                Prop::Sint(i) => feature.add_tag_sint(key, *i),
                Prop::Double(d) => feature.add_tag_double(key, *d),
                Prop::Bool(b) => feature.add_tag_bool(key, *b),
            }
        }
        layer = feature.into_layer();
    }
    if layer.num_features() == 0 {
        return Ok(None);
    }
    let mut tile = tile;
    tile.add_layer(layer).map_err(mvt_error)?;
    tile.to_bytes().map(Some).map_err(mvt_error)
}

/// The rings of a feature in tile units, clipped, snapped and oriented: `(ring, exterior)`,
/// each exterior followed by its holes.
fn tile_rings(
    polygons: &[Vec<Vec<[f64; 2]>>],
    kind: Kind,
    t: TileId,
    world: [f64; 4],
    clip_box: [f64; 4],
    out: &mut Vec<(Vec<[i32; 2]>, bool)>,
) {
    let ext = f64::from(EXTENT);
    for polygon in polygons {
        let Some(exterior) = polygon.first() else { continue };
        let bounds = ring_bounds(exterior);
        if !overlaps(bounds, world) {
            continue;
        }
        let projected: Vec<Vec<[f64; 2]>> =
            polygon.iter().map(|r| r.iter().map(|&p| t.to_tile(p, ext)).collect()).collect();
        let parts = if within(bounds, world) {
            vec![projected]
        } else if kind == Kind::Cells {
            // Convex: clipping each ring keeps one convex ring.
            vec![projected.iter().map(|r| clip_ring(r, clip_box)).collect()]
        } else {
            clip_polygon(&projected, clip_box)
        };
        for part in parts {
            let mut part = part.into_iter();
            let Some(mut ext_ring) = part.next().as_deref().and_then(snap_ring) else { continue };
            orient(&mut ext_ring, true);
            out.push((ext_ring, true));
            for hole in part {
                if let Some(mut h) = snap_ring(&hole) {
                    orient(&mut h, false);
                    out.push((h, false));
                }
            }
        }
    }
}

/// MVT polygon commands for oriented integer rings.
fn polygon_geometry(rings: &[(Vec<[i32; 2]>, bool)]) -> Result<mvt::GeomData, mvt::Error> {
    let mut enc = GeomEncoder::<i32>::new(GeomType::Polygon);
    let mut cursor: Option<[i32; 2]> = None;
    for (ring, _) in rings {
        // The encoder merges a ring's first point into the previous ring's last point when
        // they are equal (dropping the MoveTo); start the ring elsewhere in that case.
        let start = (0..ring.len()).find(|&k| Some(ring[k]) != cursor).unwrap_or(0);
        for k in 0..ring.len() {
            let p = ring[(start + k) % ring.len()];
            enc.add_point(p[0], p[1])?;
        }
        cursor = Some(ring[(start + ring.len() - 1) % ring.len()]);
        enc.complete_geom()?;
    }
    enc.encode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::mercator::to_world;
    use crate::tiles::source::build_places;

    /// A minimal MVT reader for these tests: the commands of the first feature's geometry.
    fn first_geometry(tile: &[u8]) -> Vec<u32> {
        // Walk protobuf: Tile.layers (3) → Layer.features (2) → Feature.geometry (4, packed).
        fn varint(b: &[u8], i: &mut usize) -> u64 {
            let mut v = 0u64;
            let mut s = 0;
            loop {
                let x = b[*i];
                *i += 1;
                v |= u64::from(x & 0x7f) << s;
                if x < 0x80 {
                    return v;
                }
                s += 7;
            }
        }
        fn field(b: &[u8], want: u64) -> Option<&[u8]> {
            let mut i = 0;
            while i < b.len() {
                let key = varint(b, &mut i);
                match key & 7 {
                    0 => {
                        varint(b, &mut i);
                    }
                    1 => i += 8,
                    5 => i += 4,
                    2 => {
                        let n = varint(b, &mut i) as usize;
                        if key >> 3 == want {
                            return Some(&b[i..i + n]);
                        }
                        i += n;
                    }
                    _ => panic!("wire type"),
                }
            }
            None
        }
        let layer = field(tile, 3).unwrap();
        let feature = field(layer, 2).unwrap();
        let geom = field(feature, 4).unwrap();
        let mut i = 0;
        let mut out = Vec::new();
        while i < geom.len() {
            out.push(varint(geom, &mut i) as u32);
        }
        out
    }

    fn square_source(lon0: f64, lat0: f64, lon1: f64, lat1: f64, kind: Kind) -> Source {
        let ring = vec![to_world(lon0, lat0), to_world(lon1, lat0), to_world(lon1, lat1), to_world(lon0, lat1)];
        let b = ring_bounds(&ring);
        let f = super::super::source::Feature {
            id: Some(7),
            shape: Shape::Polygons(vec![vec![ring]]),
            bounds: b,
            props: vec![(0, Prop::Uint(42))],
            fill: [0, 0, 0],
        };
        Source::new("test", kind, 1, vec!["count".into()], vec![f], None)
    }

    fn decode_ring(cmds: &[u32]) -> Vec<[i32; 2]> {
        let (mut x, mut y) = (0i32, 0i32);
        let mut pts = Vec::new();
        let mut i = 0;
        while i < cmds.len() {
            let (id, count) = (cmds[i] & 7, cmds[i] >> 3);
            i += 1;
            if id == 7 {
                break;
            }
            for _ in 0..count {
                let dz = |v: u32| ((v >> 1) as i32) ^ -((v & 1) as i32);
                x += dz(cmds[i]);
                y += dz(cmds[i + 1]);
                i += 2;
                pts.push([x, y]);
            }
        }
        pts
    }

    #[test]
    fn an_exterior_ring_is_clockwise_on_screen_whatever_the_input_winding() {
        // Counter-clockwise in lon/lat (GeoJSON's order) becomes clockwise with y down.
        for kind in [Kind::Cells, Kind::Areas] {
            let s = square_source(-80.3, 25.7, -80.1, 25.9, kind);
            let t = TileId::new(10, 283, 435).unwrap();
            let bytes = encode(&s, t).unwrap().expect("a feature in the tile");
            let ring = decode_ring(&first_geometry(&bytes));
            assert!(super::super::clip::twice_area(&ring) > 0.0, "{kind:?}: {ring:?}");
        }
    }

    #[test]
    fn a_polygon_larger_than_the_tile_is_clipped_to_the_buffer() {
        for kind in [Kind::Cells, Kind::Areas] {
            let s = square_source(-90.0, 20.0, -70.0, 30.0, kind);
            let t = TileId::new(10, 283, 435).unwrap();
            let ring = decode_ring(&first_geometry(&encode(&s, t).unwrap().unwrap()));
            let lim = BUFFER as i32;
            assert!(ring.iter().all(|p| p[0] >= -lim && p[1] >= -lim && p[0] <= 4096 + lim && p[1] <= 4096 + lim), "{ring:?}");
            assert_eq!(ring.len(), 4, "the buffered tile square: {ring:?}");
        }
    }

    #[test]
    fn a_tile_without_features_is_none() {
        let s = square_source(-80.3, 25.7, -80.1, 25.9, Kind::Cells);
        assert!(encode(&s, TileId::new(10, 100, 100).unwrap()).unwrap().is_none());
    }

    #[test]
    fn points_land_on_their_projected_position() {
        let set = crate::places::PlaceSet::build(Vec::new());
        let s = build_places(&set, crate::places::KindFilter::all(), 1, |_| serde_json::Map::new());
        let miami = set.get("HT-CON-MIA").unwrap();
        let w = to_world(miami.lon, miami.lat);
        let t = TileId::new(10, (w[0] * 1024.0) as u32, (w[1] * 1024.0) as u32).unwrap();
        let bytes = encode(&s, t).unwrap().expect("the Miami consulate");
        let cmds = first_geometry(&bytes);
        assert_eq!(cmds[0], 9, "MoveTo(1)");
        let dz = |v: u32| ((v >> 1) as i32) ^ -((v & 1) as i32);
        let expected = t.to_tile(w, 4096.0);
        assert_eq!([dz(cmds[1]), dz(cmds[2])], [expected[0].round() as i32, expected[1].round() as i32]);
    }
}
