//! GeoJSON (RFC 7946) of the published layers: a unit's geometry, and a whole layer as a
//! FeatureCollection with its metadata (privacy, filters, box, classification, totals).

use rayon::prelude::*;
use serde_json::{json, Map, Value};

use super::{today, unit_properties, LayerRequest};
use crate::aggregate::classify::Classification;
use crate::aggregate::Layer;

/// Rounds a coordinate to 6 decimals (≈ 0.1 m), plenty for 10 m cells and 1:10m boundaries.
fn coord(x: f64) -> Value {
    Value::from((x * 1e6).round() / 1e6)
}

/// GeoJSON geometry of a unit (Polygon or MultiPolygon, RFC 7946 winding).
pub fn geometry_json(layer: &Layer, i: usize) -> Value {
    let mp = layer.geometry(i);
    let ring = |ls: &geo::LineString<f64>| -> Value {
        let mut pts: Vec<Value> = ls
            .coords()
            .map(|c| json!([coord(c.x), coord(c.y)]))
            .collect();
        if ls.0.first() != ls.0.last() {
            pts.push(pts[0].clone());
        }
        Value::Array(pts)
    };
    let polygon = |p: &geo::Polygon<f64>| -> Value {
        Value::Array(
            std::iter::once(ring(p.exterior()))
                .chain(p.interiors().iter().map(ring))
                .collect(),
        )
    };
    if mp.0.len() == 1 {
        json!({"type": "Polygon", "coordinates": polygon(&mp.0[0])})
    } else {
        json!({"type": "MultiPolygon", "coordinates": mp.0.iter().map(polygon).collect::<Vec<_>>()})
    }
}

/// The FeatureCollection of `units` as GeoJSON text. Features are built and serialised in
/// parallel (a whole-US layer has thousands of them), then joined.
pub fn layer_collection(
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
                "geometry": geometry_json(layer, i),
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
        // National, whatever the bounding box: the features may cover less.
        "totals_scope": "nation",
        "totals": layer.national_properties(&req.groups, req.skill),
    })
    .to_string();
    let mut out = String::with_capacity(
        head.len() + 16 + features.iter().map(|f| f.len() + 1).sum::<usize>(),
    );
    out.push_str(head.strip_suffix('}').expect("a JSON object"));
    out.push_str(",\"features\":[");
    for (n, f) in features.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(f);
    }
    out.push_str("]}");
    out
}
