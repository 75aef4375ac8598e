//! Mapbox Vector Tile 2.1 encoding of a [`Source`] for one tile.
//!
//! Projection, clipping, snapping and winding happen here, since no encoder does them:
//! features are selected by bounding box, scaled to the 4096 grid, clipped to the tile plus
//! a buffer of [`BUFFER`] units, snapped to integers and oriented (exterior rings clockwise on
//! screen, holes counter-clockwise).
//!
//! Two encoders write the protobuf:
//! - [`encode`], the one served: it writes the few MVT messages directly, with the source's
//!   values encoded once when the source is built and per-tile key/value tables kept in
//!   reusable thread-local arrays. Measured on the 1,000,000-record demo set it is about
//!   6× faster than the same tile through the `mvt` crate (which hashes and clones every
//!   tag of every feature), and the uncached tile rate depends on exactly that
//!   (see `benches/tiles_bench.rs`, `tiles/mvt/*` against `tiles/mvt_crate/*`).
//! - [`reference::encode`], through the maintained `mvt` crate. Tests require both to give
//!   byte-identical tiles, so the hand-written one is held to a third-party encoder.

use std::cell::RefCell;

use super::clip::{clip_polygon, clip_ring, orient, overlaps, ring_bounds, snap_ring_into, within};
use super::mercator::TileId;
#[cfg(test)]
use super::source::Prop;
use super::source::{put_varint, Kind, Shape, Source};
use crate::error::Error;

/// Tile grid of every layer.
pub const EXTENT: u32 = 4096;
/// Geometry kept beyond each tile edge, in tile units (64 = 4 px of a 256 px tile): enough
/// for strokes and labels to join across tile seams.
pub const BUFFER: f64 = 64.0;

/// The features of `source` that touch tile `t`, as they go into the tile: index, id,
/// geometry commands (MVT §4.3), geometry type (1 point, 3 polygon). Public for the
/// reference encoder the benchmarks compare with ([`encode`] is the service's).
pub fn for_each_feature(source: &Source, t: TileId, mut f: impl FnMut(usize, &[u32], u32)) {
    let ext = f64::from(EXTENT);
    let world = t.world_bounds(BUFFER / ext);
    let clip_box = [-BUFFER, -BUFFER, ext + BUFFER, ext + BUFFER];
    let mut rings = Rings::default();
    let mut commands: Vec<u32> = Vec::new();
    for i in source.select(world) {
        commands.clear();
        let kind = match &source.features[i].shape {
            Shape::Point(p) => {
                let q = t.to_tile(*p, ext);
                if !within([q[0], q[1], q[0], q[1]], clip_box) {
                    continue;
                }
                point_commands(&mut commands, [q[0].round() as i32, q[1].round() as i32]);
                1
            }
            Shape::Polygons(polygons) => {
                rings.clear();
                tile_rings(polygons, source.kind, t, world, clip_box, &mut rings);
                if rings.ends.is_empty() {
                    continue;
                }
                polygon_commands(&mut commands, &rings);
                3
            }
        };
        f(i, &commands, kind);
    }
}

/// The rings of one feature in tile units, flat: ring k is `points[ends[k-1]..ends[k]]`.
#[derive(Default)]
struct Rings {
    points: Vec<[i32; 2]>,
    ends: Vec<usize>,
    /// Scratch for one ring projected to tile units.
    projected: Vec<[f64; 2]>,
}

impl Rings {
    fn clear(&mut self) {
        self.points.clear();
        self.ends.clear();
    }

    fn iter(&self) -> impl Iterator<Item = &[[i32; 2]]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let r = &self.points[start..end];
            start = end;
            r
        })
    }

    /// Snaps, cleans and orients a ring (tile units) into the buffer.
    fn push(&mut self, ring: &[[f64; 2]], exterior: bool) -> bool {
        let start = self.points.len();
        if !snap_ring_into(ring, &mut self.points) {
            return false;
        }
        orient(&mut self.points[start..], exterior);
        self.ends.push(self.points.len());
        true
    }
}

/// Per-thread scratch space: tile-local key and value indexes by source index, stamped with
/// a generation number so that starting a tile costs nothing.
#[derive(Default)]
struct Scratch {
    generation: u32,
    key_slot: Vec<(u32, u32)>,
    value_slot: Vec<(u32, u32)>,
    keys: Vec<u16>,
    values: Vec<u32>,
    tags: Vec<u32>,
    features: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Index of `global` in the tile's table, adding it on first use.
#[inline]
fn slot(slots: &mut [(u32, u32)], generation: u32, used: &mut Vec<u32>, global: u32) -> u32 {
    let s = &mut slots[global as usize];
    if s.0 != generation {
        *s = (generation, used.len() as u32);
        used.push(global);
    }
    s.1
}

/// Encodes the features of `source` that touch tile `t`; `None` when none does.
///
/// # Errors
/// None today; the `Result` keeps the signature of [`reference::encode`].
pub fn encode(source: &Source, t: TileId) -> Result<Option<Vec<u8>>, Error> {
    SCRATCH.with(|cell| {
        let mut guard = cell.borrow_mut();
        let sc = &mut *guard;
        sc.generation = sc.generation.wrapping_add(1);
        if sc.generation == 0 {
            // Wrapped: forget every stamp rather than trust a stale one.
            sc.key_slot
                .iter_mut()
                .chain(sc.value_slot.iter_mut())
                .for_each(|s| *s = (0, 0));
            sc.generation = 1;
        }
        let generation = sc.generation;
        if sc.key_slot.len() < source.keys.len() {
            sc.key_slot.resize(source.keys.len(), (0, 0));
        }
        if sc.value_slot.len() < source.values.len() {
            sc.value_slot.resize(source.values.len(), (0, 0));
        }
        sc.keys.clear();
        sc.values.clear();
        sc.features.clear();
        let mut count = 0usize;
        let mut used_keys: Vec<u32> = Vec::new();
        for_each_feature(source, t, |i, commands, kind| {
            let f = &source.features[i];
            sc.tags.clear();
            for &(k, v) in &f.props {
                let ki = slot(&mut sc.key_slot, generation, &mut used_keys, u32::from(k));
                let vi = slot(&mut sc.value_slot, generation, &mut sc.values, v);
                sc.tags.push(ki);
                sc.tags.push(vi);
            }
            // Lengths first, so each message is written once, in place.
            let tags_len = packed_len(&sc.tags);
            let commands_len = packed_len(commands);
            let id_len = f.id.map_or(0, |id| 1 + varint_len(id));
            let feature_len = id_len
                + packed_field_len(tags_len)
                + 1
                + varint_len(u64::from(kind))
                + packed_field_len(commands_len);
            let out = &mut sc.features;
            out.push(0x12);
            put_varint(out, feature_len as u64);
            if let Some(id) = f.id {
                out.push(0x08);
                put_varint(out, id);
            }
            put_packed(out, 0x12, &sc.tags, tags_len);
            out.push(0x18);
            put_varint(out, u64::from(kind));
            put_packed(out, 0x22, commands, commands_len);
            count += 1;
        });
        if count == 0 {
            return Ok(None);
        }
        let keys = used_keys
            .iter()
            .map(|&k| source.keys[k as usize].as_bytes());
        let values = sc
            .values
            .iter()
            .map(|&v| &*source.encoded_values[v as usize]);
        let layer_len = field_len(source.name.len())
            + sc.features.len()
            + keys.clone().map(|k| field_len(k.len())).sum::<usize>()
            + values.clone().map(|v| field_len(v.len())).sum::<usize>()
            + 1
            + varint_len(u64::from(EXTENT))
            + 2;
        let mut tile = Vec::with_capacity(field_len(layer_len));
        tile.push(0x1a);
        put_varint(&mut tile, layer_len as u64);
        put_bytes(&mut tile, 0x0a, source.name.as_bytes());
        tile.extend_from_slice(&sc.features);
        for k in keys {
            put_bytes(&mut tile, 0x1a, k);
        }
        for v in values {
            put_bytes(&mut tile, 0x22, v);
        }
        tile.push(0x28);
        put_varint(&mut tile, u64::from(EXTENT));
        tile.push(0x78);
        put_varint(&mut tile, 2);
        debug_assert_eq!(tile.len(), field_len(layer_len));
        Ok(Some(tile))
    })
}

fn put_bytes(out: &mut Vec<u8>, key: u8, bytes: &[u8]) {
    out.push(key);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Bytes of the varints of `values` (the payload of a packed field).
fn packed_len(values: &[u32]) -> usize {
    values.iter().map(|&v| varint_len(u64::from(v))).sum()
}

/// Bytes of a length-delimited field (key, length, payload) with a payload of `len` bytes.
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// Bytes of a packed field with a payload of `len` bytes: none when empty ([`put_packed`]
/// leaves it out).
fn packed_field_len(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        field_len(len)
    }
}

/// A packed repeated field whose payload is `len` bytes ([`packed_len`]); nothing if empty.
fn put_packed(out: &mut Vec<u8>, key: u8, values: &[u32], len: usize) {
    if values.is_empty() {
        return;
    }
    out.push(key);
    put_varint(out, len as u64);
    for &v in values {
        put_varint(out, u64::from(v));
    }
}

#[inline]
fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

#[inline]
fn command(id: u32, count: usize) -> u32 {
    (id & 7) | ((count as u32) << 3)
}

fn point_commands(out: &mut Vec<u32>, p: [i32; 2]) {
    out.extend_from_slice(&[command(1, 1), zigzag(p[0]), zigzag(p[1])]);
}

/// MVT polygon commands for oriented integer rings (MoveTo, LineTo × n−1, ClosePath each).
fn polygon_commands(out: &mut Vec<u32>, rings: &Rings) {
    let mut cursor = [0i32, 0i32];
    for ring in rings.iter() {
        let start = ring_start(ring, cursor);
        let n = ring.len();
        for k in 0..n {
            let p = ring[(start + k) % n];
            if k == 0 {
                out.push(command(1, 1));
            } else if k == 1 {
                out.push(command(2, n - 1));
            }
            out.push(zigzag(p[0] - cursor[0]));
            out.push(zigzag(p[1] - cursor[1]));
            cursor = p;
        }
        out.push(command(7, 1));
    }
}

/// Where to start writing a ring: not at the point the cursor is on (a zero MoveTo that the
/// `mvt` crate folds into the previous ring; avoided so both encoders agree).
fn ring_start(ring: &[[i32; 2]], cursor: [i32; 2]) -> usize {
    (0..ring.len()).find(|&k| ring[k] != cursor).unwrap_or(0)
}

/// The rings of a feature in tile units, clipped, snapped and oriented, each exterior
/// followed by its holes.
fn tile_rings(
    polygons: &[Vec<Vec<[f64; 2]>>],
    kind: Kind,
    t: TileId,
    world: [f64; 4],
    clip_box: [f64; 4],
    out: &mut Rings,
) {
    let ext = f64::from(EXTENT);
    for polygon in polygons {
        let Some(exterior) = polygon.first() else {
            continue;
        };
        let bounds = ring_bounds(exterior);
        if !overlaps(bounds, world) {
            continue;
        }
        if within(bounds, world) {
            // The common case (every hexagon inside the tile): no clipping, no allocation.
            for (k, ring) in polygon.iter().enumerate() {
                let mut projected = std::mem::take(&mut out.projected);
                projected.clear();
                projected.extend(ring.iter().map(|&p| t.to_tile(p, ext)));
                let kept = out.push(&projected, k == 0);
                out.projected = projected;
                if k == 0 && !kept {
                    break; // the exterior vanished: so do its holes
                }
            }
            continue;
        }
        let projected: Vec<Vec<[f64; 2]>> = polygon
            .iter()
            .map(|r| r.iter().map(|&p| t.to_tile(p, ext)).collect())
            .collect();
        let parts = if kind == Kind::Cells {
            // Convex: clipping each ring keeps one convex ring.
            vec![projected.iter().map(|r| clip_ring(r, clip_box)).collect()]
        } else {
            clip_polygon(&projected, clip_box)
        };
        for part in parts {
            let mut part = part.iter();
            if !part.next().is_some_and(|e| out.push(e, true)) {
                continue;
            }
            for hole in part {
                out.push(hole, false);
            }
        }
    }
}

/// The same tiles through the `mvt` crate: the reference the fast encoder is tested against.
/// Test-only (the `mvt` crate is a dev-dependency); the benchmarks include the same file as
/// their baseline.
#[cfg(test)]
#[path = "mvt_reference.rs"]
pub(crate) mod reference;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::mercator::to_world;
    use crate::tiles::source::{build_places, Prop, TagTable};

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
        let ring = vec![
            to_world(lon0, lat0),
            to_world(lon1, lat0),
            to_world(lon1, lat1),
            to_world(lon0, lat1),
        ];
        let b = ring_bounds(&ring);
        let mut tags = TagTable::new();
        let props = vec![(tags.key("count"), tags.value(Prop::Uint(42)))];
        let f = super::super::source::Feature {
            id: Some(7),
            shape: Shape::Polygons(vec![vec![ring]]),
            bounds: b,
            props,
            fill: [0, 0, 0],
        };
        Source::new("test", kind, 1, tags, vec![f], None)
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
            assert!(
                super::super::clip::twice_area(&ring) > 0.0,
                "{kind:?}: {ring:?}"
            );
        }
    }

    #[test]
    fn a_polygon_larger_than_the_tile_is_clipped_to_the_buffer() {
        for kind in [Kind::Cells, Kind::Areas] {
            let s = square_source(-90.0, 20.0, -70.0, 30.0, kind);
            let t = TileId::new(10, 283, 435).unwrap();
            let ring = decode_ring(&first_geometry(&encode(&s, t).unwrap().unwrap()));
            let lim = BUFFER as i32;
            assert!(
                ring.iter().all(|p| p[0] >= -lim
                    && p[1] >= -lim
                    && p[0] <= 4096 + lim
                    && p[1] <= 4096 + lim),
                "{ring:?}"
            );
            assert_eq!(ring.len(), 4, "the buffered tile square: {ring:?}");
        }
    }

    #[test]
    fn a_tile_without_features_is_none() {
        let s = square_source(-80.3, 25.7, -80.1, 25.9, Kind::Cells);
        assert!(encode(&s, TileId::new(10, 100, 100).unwrap())
            .unwrap()
            .is_none());
    }

    #[test]
    fn points_land_on_their_projected_position() {
        let set = crate::places::PlaceSet::build(Vec::new());
        let s = build_places(&set, crate::places::KindFilter::all(), 1, |_| {
            serde_json::Map::new()
        });
        let miami = set.get("HT-CON-MIA").unwrap();
        let w = to_world(miami.lon, miami.lat);
        let t = TileId::new(10, (w[0] * 1024.0) as u32, (w[1] * 1024.0) as u32).unwrap();
        let bytes = encode(&s, t).unwrap().expect("the Miami consulate");
        let cmds = first_geometry(&bytes);
        assert_eq!(cmds[0], 9, "MoveTo(1)");
        let dz = |v: u32| ((v >> 1) as i32) ^ -((v & 1) as i32);
        let expected = t.to_tile(w, 4096.0);
        assert_eq!(
            [dz(cmds[1]), dz(cmds[2])],
            [expected[0].round() as i32, expected[1].round() as i32]
        );
    }

    #[test]
    fn the_fast_encoder_writes_the_same_bytes_as_the_mvt_crate() {
        // Real layers: hexagons (clipped cells), states and counties (holes, multipolygons,
        // boolean clipping), at zooms where they are dense, plus places.
        let engine = crate::aggregate::Engine::new(11);
        engine.replace(crate::aggregate::Snapshot::build(
            crate::demo::generate(20_000, 4).records,
            1,
        ));
        let req = crate::publish::LayerRequest::from_pairs(
            &[("metric".into(), "remit_share".into())],
            &[],
        )
        .unwrap();
        let mut compared = 0;
        for unit in [
            crate::aggregate::Unit::H3(5),
            crate::aggregate::Unit::State,
            crate::aggregate::Unit::County,
        ] {
            let s = crate::tiles::source::build_aggregate(&engine, unit, &req).unwrap();
            for z in [3u8, 5, 7] {
                for t in crate::tiles::mercator::tiles_covering([-90.0, 24.0, -70.0, 42.0], z) {
                    let fast = encode(&s, t).unwrap();
                    let slow = reference::encode(&s, t).unwrap();
                    assert_eq!(fast, slow, "{unit:?} {t:?}");
                    compared += usize::from(fast.is_some());
                }
            }
        }
        assert!(compared > 50, "{compared} non-empty tiles compared");
    }
}
