//! `GET /api/v1/aggregates`: the aggregate layers as GeoJSON (`application/geo+json`) or CSV
//! with an HXL hashtag row, with the legend's classification, ETag and 304.

use std::hash::{DefaultHasher, Hash, Hasher};

use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rayon::prelude::*;
use serde_json::{json, Map, Value};

use crate::aggregate::classify::Classification;
use crate::aggregate::filter::Field;
use crate::aggregate::{Figures, Filter, Layer, MetricGroup, Skill, Unit};
use crate::app::AppState;
use crate::codes::Codebook;
use crate::error::Error;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/aggregates", get(public_aggregates))
        .route("/api/v1/admin/aggregates", get(exact_aggregates))
}

/// Parameters other than the filters.
const PARAMS: [&str; 9] = [
    "unit", "res", "bbox", "metric", "metrics", "skill", "format", "download", "lang",
];

/// A parsed layer request, shared by the GeoJSON/CSV, tile and OGC endpoints.
#[derive(Clone, Debug)]
pub struct LayerRequest {
    pub unit: Unit,
    pub filter: Filter,
    pub groups: Vec<MetricGroup>,
    pub skill: Option<Skill>,
    /// The metric classified for the legend.
    pub metric: String,
    /// minLon, minLat, maxLon, maxLat (CRS84).
    pub bbox: Option<[f64; 4]>,
    /// The filter parameters as given, sorted: what a download's name and metadata say.
    pub filter_params: Vec<(String, String)>,
}

impl LayerRequest {
    /// Parses query parameters; `extra` are other parameters the caller accepts.
    ///
    /// # Errors
    /// Unknown parameters, unknown codes, malformed numbers or boxes.
    pub fn parse(pairs: &[(String, String)], extra: &[&str]) -> Result<LayerRequest, Error> {
        for (k, _) in pairs {
            if !PARAMS.contains(&k.as_str())
                && !Field::PARAMS.contains(&k.as_str())
                && !extra.contains(&k.as_str())
            {
                return Err(Error::invalid(k, "unknown parameter"));
            }
        }
        let get = |name: &str| super::param(pairs, name);
        let res = match get("res") {
            None => 6,
            Some(r) => r.parse::<u8>().map_err(|_| {
                Error::invalid("res", format!("{r:?} is not a resolution (2 to 9)"))
            })?,
        };
        let unit = match get("unit").unwrap_or("h3") {
            "h3" => Unit::H3(res),
            "state" => Unit::State,
            "county" => Unit::County,
            other => {
                return Err(Error::invalid(
                    "unit",
                    format!("{other:?}: use h3, state or county"),
                ))
            }
        };
        let filter = Filter::from_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let groups = match get("metrics") {
            None | Some("") => Vec::new(),
            Some("all") => MetricGroup::ALL.to_vec(),
            Some(list) => list
                .split(',')
                .map(|g| {
                    MetricGroup::parse(g.trim()).ok_or_else(|| {
                        Error::invalid("metrics", format!("{g:?}: use all or any of occupation, sector, need, difficulty, willingness, channel, language"))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let skill = get("skill").map(parse_skill).transpose()?;
        let metric = get("metric").unwrap_or("count").to_string();
        let bbox = get("bbox").map(parse_bbox).transpose()?;
        let mut filter_params: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, v)| Field::PARAMS.contains(&k.as_str()) && !v.is_empty())
            .cloned()
            .collect();
        filter_params.sort();
        Ok(LayerRequest {
            unit,
            filter,
            groups,
            skill,
            metric,
            bbox,
            filter_params,
        })
    }
}

fn parse_skill(s: &str) -> Result<Skill, Error> {
    let bad = || {
        Error::invalid(
            "skill",
            format!("{s:?}: use occupation:CODE or sector:CODE, e.g. sector:Q"),
        )
    };
    let (group, code) = s.split_once(':').ok_or_else(bad)?;
    let group = MetricGroup::parse(group)
        .filter(|g| matches!(g, MetricGroup::Occupation | MetricGroup::Sector))
        .ok_or_else(bad)?;
    let index = Codebook::get()
        .index(group.list(), code)
        .map_err(|source| Error::UnknownCode {
            param: "skill".into(),
            source,
        })?;
    Ok(Skill { group, index })
}

/// Parses `minLon,minLat,maxLon,maxLat` in degrees.
///
/// # Errors
/// Not four finite numbers, out of range, or min above max.
pub fn parse_bbox(s: &str) -> Result<[f64; 4], Error> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            Error::invalid(
                "bbox",
                format!("{s:?} is not four numbers minLon,minLat,maxLon,maxLat"),
            )
        })?;
    if v.len() != 4 || v.iter().any(|x| !x.is_finite()) {
        return Err(Error::invalid(
            "bbox",
            "give four finite numbers minLon,minLat,maxLon,maxLat",
        ));
    }
    if v[0] < -180.0 || v[2] > 180.0 || v[1] < -90.0 || v[3] > 90.0 || v[0] > v[2] || v[1] > v[3] {
        return Err(Error::invalid(
            "bbox",
            "longitudes must be within -180..180, latitudes within -90..90, min before max",
        ));
    }
    Ok([v[0], v[1], v[2], v[3]])
}

/// Computes the public layer on a worker thread (aggregation is CPU work).
pub async fn layer_for(
    state: &AppState,
    req: &LayerRequest,
) -> Result<std::sync::Arc<Layer>, Error> {
    layer_of(state, req, Figures::Public).await
}

/// [`layer_for`] with the figures asked for.
async fn layer_of(
    state: &AppState,
    req: &LayerRequest,
    figures: Figures,
) -> Result<std::sync::Arc<Layer>, Error> {
    let engine = state.engine.clone();
    let (unit, filter) = (req.unit, req.filter.clone());
    tokio::task::spawn_blocking(move || engine.layer_of(unit, &filter, figures))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

/// The units of a layer to publish: visible counts inside the box.
pub fn selected_units(layer: &Layer, bbox: Option<[f64; 4]>) -> Vec<usize> {
    (0..layer.ids.len())
        .filter(|&i| layer.is_published(i) || !matches!(layer.unit, Unit::H3(_)))
        .filter(|&i| match bbox {
            None => true,
            Some(b) => {
                use geo::BoundingRect;
                layer.geometry(i).bounding_rect().is_some_and(|r| {
                    r.max().x >= b[0] && r.min().x <= b[2] && r.max().y >= b[1] && r.min().y <= b[3]
                })
            }
        })
        .collect()
}

/// The classification of `metric` over the published values of the selected units.
pub fn classify(
    layer: &Layer,
    units: &[usize],
    req: &LayerRequest,
) -> Result<Classification, Error> {
    let props: Vec<Map<String, Value>> = units
        .par_iter()
        .map(|&i| layer.properties(i, &req.groups, req.skill))
        .collect();
    let known = props.first().is_none_or(|p| p.contains_key(&req.metric));
    if !known || req.metric == "suppressed" || req.metric.starts_with("dominant_") {
        return Err(Error::invalid(
            "metric",
            format!("{:?} is not a numeric metric of this layer", req.metric),
        ));
    }
    let values: Vec<f64> = props
        .iter()
        .filter_map(|p| p.get(&req.metric).and_then(Value::as_f64))
        .collect();
    Ok(Classification::new(&req.metric, &values))
}

fn etag(state: &AppState, raw_query: &str, figures: Figures) -> String {
    let mut h = DefaultHasher::new();
    raw_query.hash(&mut h);
    let exact = if figures == Figures::Exact { "x" } else { "" };
    format!(
        "W/\"{exact}v{}-{:x}\"",
        state.engine.snapshot().data_version,
        h.finish()
    )
}

/// Answers 304 when the client's `If-None-Match` matches (weak comparison).
pub use super::conditional::not_modified;

/// The query of an aggregates request, as axum extracts it.
type PairsQuery = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// `GET /api/v1/aggregates`: the public, perturbed figures.
async fn public_aggregates(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    query: PairsQuery,
) -> Result<Response, Error> {
    aggregates(state, headers, raw, query, Figures::Public).await
}

/// `GET /api/v1/admin/aggregates`: the same layers with exact (unperturbed, still
/// suppressed) figures, for admins only (the route table says so).
async fn exact_aggregates(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    query: PairsQuery,
) -> Result<Response, Error> {
    aggregates(state, headers, raw, query, Figures::Exact).await
}

async fn aggregates(
    state: AppState,
    headers: HeaderMap,
    raw: Option<String>,
    query: PairsQuery,
    figures: Figures,
) -> Result<Response, Error> {
    let Query(pairs) = query.map_err(|e| Error::invalid("query", e.body_text()))?;
    let req = LayerRequest::parse(&pairs, &[])?;
    let tag = etag(&state, raw.as_deref().unwrap_or(""), figures);
    if let Some(r) = not_modified(&headers, &tag) {
        return Ok(r);
    }
    let encoding = super::conditional::negotiate(&headers);
    let key = (tag.clone(), encoding);
    if let Some(hit) = state.responses.get(&key) {
        return Ok(hit);
    }
    let layer = layer_of(&state, &req, figures).await?;
    let units = selected_units(&layer, req.bbox);
    let classification = classify(&layer, &units, &req)?;
    let get = |name: &str| super::param(&pairs, name);
    let csv = match get("format").unwrap_or("geojson") {
        "geojson" | "json" => false,
        "csv" => true,
        other => {
            return Err(Error::invalid(
                "format",
                format!("{other:?}: use geojson or csv"),
            ))
        }
    };
    let download = matches!(get("download"), Some("1" | "true" | "yes"));
    let req_filters = req.filter_params.clone();
    // Built and compressed off the async workers: a whole-US layer is megabytes of text.
    let built = tokio::task::spawn_blocking(move || {
        let (body, content_type, ext) = if csv {
            (
                to_csv(&layer, &units, &req),
                "text/csv; charset=utf-8",
                "csv",
            )
        } else {
            (
                to_geojson(&layer, &units, &req, &classification),
                "application/geo+json",
                "geojson",
            )
        };
        (encoding.compress(body.as_bytes()), content_type, ext, layer)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?;
    let (body, content_type, ext, layer) = built;
    let mut response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(match figures {
                    Figures::Public => "public, max-age=60, must-revalidate",
                    Figures::Exact => "private, no-store",
                }),
            ),
        ],
        axum::body::Bytes::from(body),
    )
        .into_response();
    let h = response.headers_mut();
    if let Some(coding) = encoding.header() {
        // Already compressed: the compression layer leaves encoded responses alone.
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&tag).expect("ASCII etag"),
    );
    if download {
        let name = format!(
            "attachment; filename=\"{}.{ext}\"",
            download_name(&layer, &req_filters, today())
        );
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&name).expect("ASCII file name"),
        );
    }
    Ok(state
        .responses
        .insert(layer.data_version, key, response)
        .await)
}

/// Today's date (UTC), `YYYY-MM-DD`.
fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A download's file name: the unit, the filters, the release and the date, in characters
/// every file system takes, e.g. `dyaspora-county-gender-f_sector-Q-r3-2026-12-05`.
fn download_name(layer: &Layer, filters: &[(String, String)], date: String) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect()
    };
    let mut name = format!("dyaspora-{}", clean(&layer.unit.name()));
    let filters: Vec<String> = filters
        .iter()
        .map(|(k, v)| format!("{}-{}", clean(k), clean(v)))
        .collect();
    if !filters.is_empty() {
        name.push('-');
        name.push_str(&filters.join("_"));
    }
    name.truncate(120);
    format!("{name}-r{}-{date}", layer.data_version)
}

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

/// The properties of a unit as published in every format: id and name, then the figures.
pub fn unit_properties(
    layer: &Layer,
    i: usize,
    req: &LayerRequest,
    classification: Option<&Classification>,
) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("id".into(), Value::from(layer.id_string(i)));
    p.insert("name".into(), Value::from(layer.name(i)));
    let figures = layer.properties(i, &req.groups, req.skill);
    if let Some(c) = classification {
        let v = figures.get(&c.metric).and_then(Value::as_f64);
        p.insert(
            "class".into(),
            v.map_or(Value::Null, |v| Value::from(c.class_of(v))),
        );
    }
    p.extend(figures);
    p
}

/// The FeatureCollection of `units` as GeoJSON text. Features are built and serialised in
/// parallel (a whole-US layer has thousands of them), then joined.
pub fn to_geojson(
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

/// HXL hashtag of a published column.
fn hxl_tag(column: &str, unit: Unit) -> String {
    match column {
        "id" => match unit {
            Unit::H3(_) => "#geo+h3".into(),
            Unit::State => "#adm1+code".into(),
            Unit::County => "#adm2+code".into(),
        },
        "name" => match unit {
            Unit::H3(_) => "#geo+name".into(),
            Unit::State => "#adm1+name".into(),
            Unit::County => "#adm2+name".into(),
        },
        "lon" => "#geo+lon".into(),
        "lat" => "#geo+lat".into(),
        "count" => "#population+total".into(),
        "density_km2" => "#population+density".into(),
        "female" => "#population+f".into(),
        "female_share" => "#indicator+pct+f".into(),
        "remitters" => "#population+remitters".into(),
        "remit_share" => "#indicator+pct+remitters".into(),
        "female_remitters" => "#population+remitters+f".into(),
        "remit_total_usd" => "#value+remittances+usd+total".into(),
        "remit_mean_usd" => "#value+remittances+usd+mean".into(),
        "remit_median_usd" => "#value+remittances+usd+median".into(),
        "dominant_occupation" => "#sector+occupation+dominant".into(),
        "dominant_sector" => "#sector+isic+dominant".into(),
        "suppressed" => "#meta+suppressed".into(),
        "class" => "#meta+class".into(),
        other => {
            let (group, code) = other.split_once('_').unwrap_or((other, ""));
            let code: String = code
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("#population+{group}+code_{code}")
        }
    }
}

/// A CSV cell, neutralised against formula injection in spreadsheets.
fn csv_text(s: &str) -> String {
    super::spreadsheet::formula_safe(s).into_owned()
}

/// The figure columns of a unit, in output order. An empty layer (a period or a filter that
/// nobody matches, a box with no unit) has no unit to read them from: they are those of the
/// national totals, which are the same but for the density.
fn figure_columns(layer: &Layer, units: &[usize], req: &LayerRequest) -> Vec<String> {
    if let Some(&first) = units.first() {
        return layer
            .properties(first, &req.groups, req.skill)
            .keys()
            .cloned()
            .collect();
    }
    let mut columns: Vec<String> = layer
        .national_properties(&req.groups, req.skill)
        .keys()
        .cloned()
        .collect();
    let at = columns
        .iter()
        .position(|c| c == "count")
        .map_or(0, |i| i + 1);
    columns.insert(at, "density_km2".into());
    columns
}

fn to_csv(layer: &Layer, units: &[usize], req: &LayerRequest) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut columns: Vec<String> = vec!["id".into(), "name".into(), "lon".into(), "lat".into()];
    columns.extend(figure_columns(layer, units, req));
    let _ = w.write_record(&columns);
    let _ = w.write_record(columns.iter().map(|c| hxl_tag(c, layer.unit)));
    for &i in units {
        let p = layer.properties(i, &req.groups, req.skill);
        let (lon, lat) = layer.center(i);
        let mut row = vec![
            layer.id_string(i),
            csv_text(&layer.name(i)),
            format!("{lon:.6}"),
            format!("{lat:.6}"),
        ];
        for c in &columns[4..] {
            row.push(match p.get(c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => csv_text(s),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                Some(v) => v.to_string(),
            });
        }
        let _ = w.write_record(&row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
