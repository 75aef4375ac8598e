//! TileJSON 3.0.0 documents (<https://github.com/mapbox/tilejson-spec/tree/master/3.0.0>)
//! for each tile layer, and the catalogue of layers.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use super::source::{Prop, Source};
use super::{basemap, TileLayer, HEXAGON_RESOLUTIONS};
use crate::geodata::Geodata;

/// Attribution shown with every layer (sources of the geometry; see geodata/README.md).
pub const ATTRIBUTION: &str = "Boundaries: US Census Bureau (public domain) via us-atlas; land: Natural Earth, GSHHG (LGPL); ZIP centroids © GeoNames, CC BY 4.0; H3 grid: Uber H3";

/// The extent of the US states, DC and Puerto Rico (west, south, east, north), without the
/// Aleutian islands that lie east of the antimeridian.
pub fn us_bounds() -> [f64; 4] {
    static B: OnceLock<[f64; 4]> = OnceLock::new();
    *B.get_or_init(|| {
        use geo::BoundingRect;
        let mut b = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for s in &Geodata::get().states {
            for p in &s.geometry.0 {
                let Some(r) = p.bounding_rect() else { continue };
                if r.min().x > 0.0 {
                    continue;
                }
                b = [
                    b[0].min(r.min().x),
                    b[1].min(r.min().y),
                    b[2].max(r.max().x),
                    b[3].max(r.max().y),
                ];
            }
        }
        b.map(|v| (v * 1e4).round() / 1e4)
    })
}

/// TileJSON field types of a source's properties ("Number", "String", "Boolean"), in the
/// order they first appear.
pub fn fields(source: &Source) -> Map<String, Value> {
    let mut types: Vec<Option<&'static str>> = vec![None; source.keys.len()];
    for f in &source.features {
        for &(k, v) in &f.props {
            let t = match &source.values[v as usize] {
                Prop::Str(_) => "String",
                Prop::Bool(_) => "Boolean",
                _ => "Number",
            };
            types[k as usize].get_or_insert(t);
        }
    }
    source
        .keys
        .iter()
        .zip(types)
        .map(|(k, t)| (k.clone(), Value::from(t.unwrap_or("Number"))))
        .collect()
}

/// The TileJSON of a layer. `base` is the absolute URL prefix of the service
/// (`https://host`), `query` the query string to repeat on tile URLs (filters, metric,
/// data version), `png` whether to describe the raster tiles instead of the vector tiles,
/// `source` a prepared source of the layer, for its fields (vector layers only).
pub fn document(
    layer: TileLayer,
    base: &str,
    query: &str,
    png: bool,
    source: Option<&Source>,
    data_version: u64,
    basemap_url: Option<&str>,
) -> Value {
    let (minzoom, maxzoom) = layer.zooms();
    let [w, s, e, n] = us_bounds();
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    let name = layer.name();
    let tiles: Vec<String> = match (layer, basemap_url) {
        (TileLayer::Basemap, Some(url)) => vec![url.to_string()],
        (TileLayer::Basemap, None) => vec![format!("{base}/tiles/basemap/{{z}}/{{x}}/{{y}}.png")],
        (_, _) if png => vec![format!("{base}/tiles/{name}/{{z}}/{{x}}/{{y}}.png{q}")],
        _ => vec![format!("{base}/tiles/{name}/{{z}}/{{x}}/{{y}}.mvt{q}")],
    };
    let mut doc = json!({
        "tilejson": "3.0.0",
        "name": format!("dyaspora {name}"),
        "description": layer.description(),
        "version": "1.0.0",
        "attribution": ATTRIBUTION,
        "scheme": "xyz",
        "tiles": tiles,
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": [w, s, e, n],
        "center": [-80.19, 25.83, 5],
    });
    let m = doc.as_object_mut().expect("an object");
    if layer == TileLayer::Basemap {
        m.insert("bounds".into(), json!([-180.0, -85.0511, 180.0, 85.0511]));
        m.insert("format".into(), json!("png"));
        m.insert(
            "dyaspora:style_version".into(),
            json!(basemap::STYLE_VERSION),
        );
        m.insert("dyaspora:external".into(), json!(basemap_url.is_some()));
        return doc;
    }
    if png {
        m.insert("format".into(), json!("png"));
        m.insert(
            "dyaspora:tiles@2x".into(),
            json!([format!("{base}/tiles/{name}/{{z}}/{{x}}/{{y}}@2x.png{q}")]),
        );
    } else {
        m.insert("format".into(), json!("pbf"));
        let mut vl = json!({
            "id": name,
            "description": layer.description(),
            "minzoom": minzoom,
            "maxzoom": maxzoom,
            "fields": source.map(fields).unwrap_or_default(),
        });
        if layer == TileLayer::Places {
            vl["geometry_type"] = json!("point");
        }
        m.insert("vector_layers".into(), json!([vl]));
    }
    if layer.is_aggregate() {
        m.insert("dyaspora:data_version".into(), json!(data_version));
        m.insert(
            "dyaspora:legend".into(),
            json!(format!(
                "{base}/tiles/{name}/legend.json?z={{z}}{}",
                if query.is_empty() {
                    String::new()
                } else {
                    format!("&{query}")
                }
            )),
        );
        if layer == TileLayer::Hexagons {
            let table: Vec<Value> = HEXAGON_RESOLUTIONS
                .iter()
                .filter(|(a, _, _)| *a <= maxzoom)
                .map(|&(a, b, r)| json!({"minzoom": a, "maxzoom": b.min(maxzoom), "res": r}))
                .collect();
            m.insert("dyaspora:resolutions".into(), Value::from(table));
        }
    }
    doc
}

/// The catalogue of tile layers, with their TileJSON addresses.
pub fn catalogue(base: &str) -> Value {
    let layers: Vec<Value> = TileLayer::ALL
        .iter()
        .map(|&l| {
            let (minzoom, maxzoom) = l.zooms();
            let formats: &[&str] = if l == TileLayer::Basemap {
                &["png"]
            } else {
                &["mvt", "png"]
            };
            json!({
                "id": l.name(),
                "description": l.description(),
                "tilejson": format!("{base}/tiles/{}.json", l.name()),
                "formats": formats,
                "minzoom": minzoom,
                "maxzoom": maxzoom,
            })
        })
        .collect();
    json!({
        "layers": layers,
        "hexagon_resolutions": HEXAGON_RESOLUTIONS.iter().map(|&(a, b, r)| json!({"minzoom": a, "maxzoom": b, "res": r})).collect::<Vec<_>>(),
    })
}
