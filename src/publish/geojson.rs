//! GeoJSON (RFC 7946) of the published layers, typed with the `geojson` crate: a unit's
//! geometry and feature, and a whole layer as a FeatureCollection with its metadata
//! (privacy, filters, box, classification, totals).
//!
//! A whole layer has thousands of features: they are serialised in parallel, each to its
//! own text, and written into a typed envelope ([`LayerCollection`]) as raw JSON. Measured
//! on the resolution-9 layer (BENCHMARKS.md, "#19 GeoJSON writer"), this is several times
//! faster than serialising a `geojson::FeatureCollection` on one thread.

use geojson::{Feature, Geometry, GeometryValue, Position};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{today, unit_properties, LayerRequest};
use crate::aggregate::classify::Classification;
use crate::aggregate::Layer;

/// Rounds a coordinate to 6 decimals (≈ 0.1 m), plenty for 10 m cells and 1:10m boundaries.
fn coord(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// A closed ring of rounded positions.
fn ring(ls: &geo::LineString<f64>) -> Vec<Position> {
    let mut pts: Vec<Position> = ls
        .coords()
        .map(|c| Position::from([coord(c.x), coord(c.y)]))
        .collect();
    if ls.0.first() != ls.0.last() {
        if let Some(first) = pts.first().cloned() {
            pts.push(first);
        }
    }
    pts
}

fn polygon(p: &geo::Polygon<f64>) -> Vec<Vec<Position>> {
    std::iter::once(ring(p.exterior()))
        .chain(p.interiors().iter().map(ring))
        .collect()
}

/// The geometry of a unit: a Polygon, or a MultiPolygon for areas in several parts
/// (lon/lat degrees, RFC 7946 winding, 6 decimals).
pub fn unit_geometry(layer: &Layer, i: usize) -> Geometry {
    let mp = layer.geometry(i);
    Geometry::new(match mp.0.as_slice() {
        [one] => GeometryValue::Polygon {
            coordinates: polygon(one),
        },
        parts => GeometryValue::MultiPolygon {
            coordinates: parts.iter().map(polygon).collect(),
        },
    })
}

/// A unit as a feature: its id, geometry and published properties (with its class when a
/// classification is given).
pub fn unit_feature(
    layer: &Layer,
    i: usize,
    req: &LayerRequest,
    classification: Option<&Classification>,
) -> Feature {
    Feature {
        bbox: None,
        geometry: Some(unit_geometry(layer, i)),
        id: Some(geojson::feature::Id::String(layer.id_string(i))),
        properties: Some(unit_properties(layer, i, req, classification)),
        foreign_members: None,
    }
}

/// The privacy note of a layer.
#[derive(Serialize)]
struct Privacy {
    min_count: u32,
    perturbed: bool,
    note: String,
}

/// A layer's FeatureCollection: the members in the order clients have always seen them,
/// the features last, already serialised.
#[derive(Serialize)]
struct LayerCollection<'a> {
    r#type: &'static str,
    unit: String,
    data_version: u64,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    privacy: Privacy,
    filters: Map<String, Value>,
    bbox: Option<[f64; 4]>,
    generated_on: String,
    classification: &'a Classification,
    /// National, whatever the bounding box: the features may cover less.
    totals_scope: &'static str,
    totals: Map<String, Value>,
    /// What the layer shows and where it comes from ([`super::meta::map_member`]).
    #[serde(rename = "dyaspora:map")]
    map: Value,
    features: Vec<Box<RawValue>>,
}

/// The FeatureCollection of `units` as GeoJSON text. Features are serialised in parallel
/// (a whole-US layer has thousands of them) into the typed envelope.
pub fn layer_collection(
    layer: &Layer,
    units: &[usize],
    req: &LayerRequest,
    classification: &Classification,
    map: Value,
) -> String {
    let features: Vec<Box<RawValue>> = units
        .par_iter()
        .map(|&i| {
            let f = unit_feature(layer, i, req, Some(classification));
            serde_json::value::to_raw_value(&f)
                .unwrap_or_else(|_| unreachable!("features serialise"))
        })
        .collect();
    let envelope = LayerCollection {
        r#type: "FeatureCollection",
        unit: layer.unit.name(),
        data_version: layer.data_version,
        number_returned: features.len(),
        privacy: Privacy {
            min_count: layer.k,
            perturbed: layer.perturbed,
            note: format!("Counts are perturbed by a few units (cell-key method) and remittance figures by a share of the largest amount, so that no person's answers can be derived; published counts below {} are suppressed (null, listed in `suppressed`), and counties and hexagons with a suppressed count are omitted. See PRIVACY.md.", layer.k),
        },
        filters: req
            .filter_params
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect(),
        bbox: req.bbox,
        generated_on: today(),
        classification,
        totals_scope: "nation",
        totals: layer.national_properties(&req.groups, req.skill),
        map,
        features,
    };
    serde_json::to_string(&envelope).unwrap_or_else(|_| unreachable!("the envelope serialises"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{compute, Snapshot, Unit};
    use crate::publish::{classify, selected_units};
    use serde_json::json;

    /// The writer before #19: features as `serde_json::Value`s, serialised in parallel and
    /// joined into the envelope's text by string surgery. The reference of the tests and of
    /// the timing below.
    fn string_surgery(
        layer: &Layer,
        units: &[usize],
        req: &LayerRequest,
        classification: &Classification,
    ) -> String {
        let features: Vec<String> = units
            .par_iter()
            .map(|&i| {
                json!({
                    "type": "Feature",
                    "id": layer.id_string(i),
                    "geometry": unit_geometry(layer, i),
                    "properties": unit_properties(layer, i, req, Some(classification)),
                })
                .to_string()
            })
            .collect();
        let head = json!({
            "type": "FeatureCollection",
            "unit": layer.unit.name(),
            "data_version": layer.data_version,
            "numberReturned": features.len(),
            "privacy": {
                "min_count": layer.k,
                "perturbed": layer.perturbed,
                "note": format!("Counts are perturbed by a few units (cell-key method) and remittance figures by a share of the largest amount, so that no person's answers can be derived; published counts below {} are suppressed (null, listed in `suppressed`), and counties and hexagons with a suppressed count are omitted. See PRIVACY.md.", layer.k),
            },
            "filters": req.filter_params.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect::<Map<String, Value>>(),
            "bbox": req.bbox,
            "generated_on": today(),
            "classification": classification,
            "totals_scope": "nation",
            "totals": layer.national_properties(&req.groups, req.skill),
        })
        .to_string();
        let mut out = String::new();
        out.push_str(head.strip_suffix('}').unwrap());
        out.push_str(",\"features\":[");
        out.push_str(&features.join(","));
        out.push_str("]}");
        out
    }

    fn layer(n: usize, res: u8) -> (std::sync::Arc<Layer>, LayerRequest) {
        let snap = Snapshot::build(crate::demo::generate(n, 7).records, 1);
        let req = LayerRequest::from_pairs(&[("res".into(), res.to_string())], &[]).unwrap();
        let layer = std::sync::Arc::new(compute(&snap, Unit::H3(res), &req.filter, 11).unwrap());
        (layer, req)
    }

    #[test]
    fn the_typed_writer_says_what_the_old_one_said() {
        let (layer, req) = layer(20_000, 6);
        let units = selected_units(&layer, None);
        assert!(units.len() > 50);
        let c = classify(&layer, &units, &req).unwrap();
        let new_text = layer_collection(&layer, &units, &req, &c, json!({"demo": true}));
        let old_text = string_surgery(&layer, &units, &req, &c);
        let mut new: Value = serde_json::from_str(&new_text).unwrap();
        let old: Value = serde_json::from_str(&old_text).unwrap();
        // The `dyaspora:map` member (#20) is new; the rest is what the old writer said.
        let map = new.as_object_mut().unwrap().remove("dyaspora:map").unwrap();
        assert_eq!(map, json!({"demo": true}));
        assert_eq!(new, old);
        // The same members in the same order; only a feature's id now follows its geometry
        // (the geojson crate's order), so the texts have the same length.
        let member = r#","dyaspora:map":{"demo":true}"#;
        assert_eq!(new_text.len(), old_text.len() + member.len());
        let keys: Vec<&String> = new.as_object().unwrap().keys().collect();
        assert_eq!(keys.first().unwrap().as_str(), "type");
        assert_eq!(keys.last().unwrap().as_str(), "features");
    }

    /// `cargo test --release --lib publish::geojson -- --ignored --nocapture`: the three
    /// writers on the resolution-9 layer (BENCHMARKS.md, "#19 GeoJSON writer").
    #[test]
    #[ignore = "a timing, run by hand in release"]
    fn time_the_writers_on_the_resolution_9_layer() {
        let (layer, req) = layer(200_000, 9);
        let units = selected_units(&layer, None);
        let c = classify(&layer, &units, &req).unwrap();
        let time = |name: &str, f: &dyn Fn() -> String| {
            let mut ms: Vec<f64> = (0..9)
                .map(|_| {
                    let t = std::time::Instant::now();
                    std::hint::black_box(f());
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            ms.sort_by(f64::total_cmp);
            println!(
                "{name}: median {:.1} ms (min {:.1}, max {:.1}), {} bytes",
                ms[4],
                ms[0],
                ms[8],
                f().len()
            );
        };
        println!("res 9, {} features", units.len());
        time("typed envelope, features in parallel", &|| {
            layer_collection(&layer, &units, &req, &c, Value::Null)
        });
        time("string surgery, features in parallel (before)", &|| {
            string_surgery(&layer, &units, &req, &c)
        });
        time("geojson::FeatureCollection, one thread", &|| {
            let fc = geojson::FeatureCollection {
                bbox: None,
                features: units
                    .iter()
                    .map(|&i| unit_feature(&layer, i, &req, Some(&c)))
                    .collect(),
                foreign_members: None,
            };
            serde_json::to_string(&fc).unwrap()
        });
        time(
            "geojson::FeatureCollection, features built in parallel",
            &|| {
                let fc = geojson::FeatureCollection {
                    bbox: None,
                    features: units
                        .par_iter()
                        .map(|&i| unit_feature(&layer, i, &req, Some(&c)))
                        .collect(),
                    foreign_members: None,
                };
                serde_json::to_string(&fc).unwrap()
            },
        );
    }
}
