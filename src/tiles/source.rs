//! A [`Source`] is one layer prepared for cutting: every published unit projected once to
//! Web Mercator world units, its properties already in tag form, its fill colour already
//! classified, and an R-tree of bounding boxes. Building one costs about as much as the
//! GeoJSON layer; every tile after that only selects, scales, clips and encodes.
//!
//! The units, their figures and the classification come from the same functions as
//! `/api/v1/aggregates` (`selected_units`, `unit_properties`, `classify`), so the privacy
//! rules and the legend cannot drift apart between GeoJSON, vector and raster output.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde_json::{Map, Value};

use super::clip::polygons_bounds;
use super::mercator::to_world;
use crate::aggregate::classify::Classification;
use crate::aggregate::{Engine, Layer, Unit, UnitId};
use crate::error::Error;
use crate::places::{Category, KindFilter, Place, PlaceSet};
use crate::publish::{classify, selected_units, unit_properties, LayerRequest};

/// A property value as MVT types it.
#[derive(Clone, Debug, PartialEq)]
pub enum Prop {
    Str(Box<str>),
    Uint(u64),
    Sint(i64),
    Double(f64),
    Bool(bool),
}

/// A unit's outline or position in world units (0..1, y down).
#[derive(Clone, Debug)]
pub enum Shape {
    /// Polygons, each an exterior ring then holes; rings are open (first point not repeated).
    Polygons(Vec<Vec<Vec<[f64; 2]>>>),
    Point([f64; 2]),
}

/// How a source's polygons are clipped at tile edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// H3 cells: small convex rings, clipped by Sutherland–Hodgman.
    Cells,
    /// States and counties: concave, with holes; clipped by a boolean intersection.
    Areas,
    /// Places.
    Points,
}

/// One unit ready to be cut into tiles.
#[derive(Clone, Debug)]
pub struct Feature {
    /// MVT feature id: the H3 index or the numeric FIPS code.
    pub id: Option<u64>,
    pub shape: Shape,
    /// `[min_x, min_y, max_x, max_y]` in world units.
    pub bounds: [f64; 4],
    /// `(index into Source::keys, index into Source::values)`; null properties are left out.
    pub props: Vec<(u16, u32)>,
    /// RGB fill of the raster tiles (the legend's colour for this unit's value).
    pub fill: [u8; 3],
}

type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// A layer prepared for tiling.
pub struct Source {
    /// The MVT layer name.
    pub name: &'static str,
    pub kind: Kind,
    /// The data version (or places version) the source was built from.
    pub version: u64,
    pub keys: Vec<String>,
    /// Distinct property values of the whole source, each also protobuf-encoded once
    /// (an MVT `Value` message), so cutting a tile copies bytes instead of encoding.
    pub values: Vec<Prop>,
    pub encoded_values: Vec<Box<[u8]>>,
    pub features: Vec<Feature>,
    /// The legend of aggregate layers (`None` for places).
    pub classification: Option<Classification>,
    index: RTree<BoxEntry>,
}

impl Source {
    /// A source over prepared features (indexes their boxes).
    pub fn new(
        name: &'static str,
        kind: Kind,
        version: u64,
        tags: TagTable,
        features: Vec<Feature>,
        classification: Option<Classification>,
    ) -> Source {
        let boxes = features
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let b = f.bounds;
                BoxEntry::new(
                    Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]),
                    i as u32,
                )
            })
            .collect();
        let encoded_values = tags
            .values
            .iter()
            .map(|v| encode_value(v).into_boxed_slice())
            .collect();
        Source {
            name,
            kind,
            version,
            keys: tags.keys,
            values: tags.values,
            encoded_values,
            features,
            classification,
            index: RTree::bulk_load(boxes),
        }
    }

    /// Indexes of the features whose boxes meet `bounds` (world units), in source order
    /// (the order of the GeoJSON layer).
    pub fn select(&self, bounds: [f64; 4]) -> Vec<usize> {
        let env = AABB::from_corners([bounds[0], bounds[1]], [bounds[2], bounds[3]]);
        let mut v: Vec<usize> = self
            .index
            .locate_in_envelope_intersecting(&env)
            .map(|e| e.data as usize)
            .collect();
        v.sort_unstable();
        v
    }

    /// The approximate heap size, for logs.
    pub fn heap_bytes(&self) -> usize {
        self.features
            .iter()
            .map(|f| {
                let pts = match &f.shape {
                    Shape::Polygons(p) => p.iter().flatten().map(Vec::len).sum::<usize>(),
                    Shape::Point(_) => 1,
                };
                pts * 16 + f.props.len() * 32 + 96
            })
            .sum()
    }
}

/// Interns property names and values while a source is built.
#[derive(Default)]
pub struct TagTable {
    keys: Vec<String>,
    key_index: HashMap<String, u16>,
    values: Vec<Prop>,
    value_index: HashMap<PropKey, u32>,
}

/// A value's identity for interning: doubles by their bits (0.0 and -0.0 as one).
#[derive(Clone, PartialEq, Eq, Hash)]
enum PropKey {
    Str(Box<str>),
    Uint(u64),
    Sint(i64),
    Double(u64),
    Bool(bool),
}

impl TagTable {
    pub fn new() -> TagTable {
        TagTable::default()
    }

    pub fn key(&mut self, k: &str) -> u16 {
        if let Some(&i) = self.key_index.get(k) {
            return i;
        }
        let i = u16::try_from(self.keys.len()).expect("fewer than 65536 property names");
        self.keys.push(k.to_string());
        self.key_index.insert(k.to_string(), i);
        i
    }

    pub fn value(&mut self, v: Prop) -> u32 {
        let key = match &v {
            Prop::Str(s) => PropKey::Str(s.clone()),
            Prop::Uint(u) => PropKey::Uint(*u),
            Prop::Sint(i) => PropKey::Sint(*i),
            Prop::Double(d) => PropKey::Double(if *d == 0.0 { 0 } else { d.to_bits() }),
            Prop::Bool(b) => PropKey::Bool(*b),
        };
        if let Some(&i) = self.value_index.get(&key) {
            return i;
        }
        let i = u32::try_from(self.values.len()).expect("fewer than 2^32 values");
        self.values.push(v);
        self.value_index.insert(key, i);
        i
    }

    /// Tag form of a property map: nulls dropped (MVT has no null), lists joined by commas.
    pub fn props(&mut self, map: &Map<String, Value>) -> Vec<(u16, u32)> {
        map.iter()
            .filter_map(|(k, v)| Some((self.key(k), self.value(prop(v)?))))
            .collect()
    }
}

/// A `Value` message of MVT 2.1 (vector_tile.proto) for one property value.
pub fn encode_value(v: &Prop) -> Vec<u8> {
    let mut out = Vec::with_capacity(12);
    match v {
        Prop::Str(s) => {
            out.push(0x0a);
            put_varint(&mut out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Prop::Double(d) => {
            out.push(0x19);
            out.extend_from_slice(&d.to_le_bytes());
        }
        Prop::Uint(u) => {
            out.push(0x28);
            put_varint(&mut out, *u);
        }
        Prop::Sint(i) => {
            out.push(0x30);
            put_varint(&mut out, ((*i << 1) ^ (*i >> 63)) as u64);
        }
        Prop::Bool(b) => {
            out.push(0x38);
            out.push(u8::from(*b));
        }
    }
    out
}

/// Appends a protobuf base-128 varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// An MVT value for a JSON value; `None` for null and empty lists.
pub fn prop(v: &Value) -> Option<Prop> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => Prop::Bool(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Prop::Uint(u)
            } else if let Some(i) = n.as_i64() {
                Prop::Sint(i)
            } else {
                Prop::Double(n.as_f64()?)
            }
        }
        Value::String(s) => Prop::Str(s.as_str().into()),
        Value::Array(a) if a.is_empty() => return None,
        Value::Array(a) => Prop::Str(
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(",")
                .into(),
        ),
        Value::Object(_) => Prop::Str(v.to_string().into()),
    })
}

/// `#rrggbb` → RGB.
pub fn rgb(hex: &str) -> [u8; 3] {
    let h = hex.trim_start_matches('#');
    let c = |i: usize| u8::from_str_radix(h.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    [c(0), c(2), c(4)]
}

/// Projects a lon/lat multipolygon to world units with open rings. Rings that cross the
/// antimeridian (an H3 cell near ±180°) are unwrapped eastwards so they stay small.
pub fn project_polygons(mp: &geo::MultiPolygon<f64>) -> Vec<Vec<Vec<[f64; 2]>>> {
    let ring = |ls: &geo::LineString<f64>| -> Vec<[f64; 2]> {
        let mut pts: Vec<(f64, f64)> = ls.coords().map(|c| (c.x, c.y)).collect();
        if pts.len() > 1 && pts.first() == pts.last() {
            pts.pop();
        }
        let (lo, hi) = pts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.0), b.max(p.0))
            });
        let wrap = hi - lo > 180.0;
        pts.iter()
            .map(|&(x, y)| to_world(if wrap && x < 0.0 { x + 360.0 } else { x }, y))
            .collect()
    };
    mp.0.iter()
        .map(|p| {
            std::iter::once(ring(p.exterior()))
                .chain(p.interiors().iter().map(ring))
                .collect()
        })
        .collect()
}

/// The MVT layer name of an aggregate unit.
pub fn layer_name(unit: Unit) -> &'static str {
    match unit {
        Unit::H3(_) => "hexagons",
        Unit::State => "states",
        Unit::County => "counties",
    }
}

/// Builds the source of an aggregate layer (blocking: may compute the layer).
///
/// # Errors
/// A resolution out of range, an unknown survey round, a metric the layer does not have.
pub fn build_aggregate(engine: &Engine, unit: Unit, req: &LayerRequest) -> Result<Source, Error> {
    let layer = engine.layer(unit, &req.filter)?;
    from_layer(&layer, req)
}

/// Builds a source from a computed layer.
///
/// # Errors
/// A metric the layer does not have.
pub fn from_layer(layer: &Layer, req: &LayerRequest) -> Result<Source, Error> {
    let units = selected_units(layer, None);
    let classification = classify(layer, &units, req)?;
    let mut keys = TagTable::new();
    let features = units
        .iter()
        .map(|&i| {
            let props = unit_properties(layer, i, req, Some(&classification));
            let value = props.get(&classification.metric).and_then(Value::as_f64);
            let polygons = project_polygons(&layer.geometry(i));
            let id = match &layer.ids[i] {
                UnitId::Cell(c) => Some(*c),
                UnitId::Area(_) => layer.id_string(i).parse().ok(),
            };
            Feature {
                id,
                bounds: polygons_bounds(&polygons),
                shape: Shape::Polygons(polygons),
                props: keys.props(&props),
                fill: rgb(classification.color_of(value)),
            }
        })
        .collect();
    let kind = if matches!(layer.unit, Unit::H3(_)) {
        Kind::Cells
    } else {
        Kind::Areas
    };
    Ok(Source::new(
        layer_name(layer.unit),
        kind,
        layer.data_version,
        keys,
        features,
        Some(classification),
    ))
}

/// Colour of a place marker on raster tiles: consular posts dark red, associations blue.
fn place_fill(place: &Place) -> [u8; 3] {
    match place.category() {
        Category::Consular => rgb("#b2182b"),
        Category::Association => rgb("#2166ac"),
    }
}

/// A content hash of the places, which keys their tiles as the data version keys the others.
pub fn places_version(places: &[Place]) -> u64 {
    let mut h = DefaultHasher::new();
    for p in places {
        (
            &p.id,
            &p.kind,
            &p.name,
            &p.city,
            &p.state,
            p.lat.to_bits(),
            p.lon.to_bits(),
            &p.sectors,
            &p.languages,
            p.is_demo,
        )
            .hash(&mut h);
    }
    h.finish() | 1
}

/// Builds the places source from the places of `set` that `kinds` keeps, each with the
/// properties `props` gives it (those of the `/api/v1/places` GeoJSON).
pub fn build_places(
    set: &PlaceSet,
    kinds: KindFilter,
    version: u64,
    props: impl Fn(&Place) -> Map<String, Value>,
) -> Source {
    let mut keys = TagTable::new();
    let features = (0..set.len())
        .filter(|&i| kinds.contains(set.kind(i)))
        .map(|i| {
            let p = set.place(i);
            let w = to_world(p.lon, p.lat);
            Feature {
                id: None,
                shape: Shape::Point(w),
                bounds: [w[0], w[1], w[0], w[1]],
                props: keys.props(&props(p)),
                fill: place_fill(p),
            }
        })
        .collect();
    Source::new("places", Kind::Points, version, keys, features, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geodata::Geodata;

    #[test]
    fn json_values_become_mvt_values_and_nulls_disappear() {
        assert_eq!(prop(&Value::from(12u64)), Some(Prop::Uint(12)));
        assert_eq!(prop(&Value::from(-3i64)), Some(Prop::Sint(-3)));
        assert_eq!(prop(&Value::from(0.25)), Some(Prop::Double(0.25)));
        assert_eq!(prop(&Value::Null), None);
        assert_eq!(
            prop(&serde_json::json!(["a", "b"])),
            Some(Prop::Str("a,b".into()))
        );
        assert_eq!(prop(&serde_json::json!([])), None);
    }

    #[test]
    fn hex_colours_parse() {
        assert_eq!(rgb("#41b6c4"), [0x41, 0xb6, 0xc4]);
    }

    #[test]
    fn consular_posts_are_places_even_with_an_empty_store() {
        let set = PlaceSet::build(Vec::new());
        let version = places_version(set.places());
        let s = build_places(&set, KindFilter::all(), version, |p| {
            let mut m = Map::new();
            m.insert("id".into(), Value::from(p.id.clone()));
            m
        });
        assert_eq!(s.features.len(), Geodata::get().posts.len());
        let miami = to_world(-80.19, 25.83);
        let near = s.select([
            miami[0] - 5e-4,
            miami[1] - 5e-4,
            miami[0] + 5e-4,
            miami[1] + 5e-4,
        ]);
        assert_eq!(near.len(), 1, "one post in Miami");
        let embassy = build_places(&set, KindFilter::parse("embassy").unwrap(), version, |_| {
            Map::new()
        });
        assert_eq!(embassy.features.len(), 1);
    }
}
