//! `/api/v1/outreach/…`: consular catchments, per-post figures, coverage gaps and a post's
//! outreach plan (GeoJSON or CSV). The rules and formulas are documented in
//! [`crate::places::outreach`] and stated in every response.
//!
//! Every endpoint takes the layer parameters of `/api/v1/aggregates` (`res`, default 6, and
//! the record filters), and works on the published hexagons of that layer only.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use geojson::feature::Id;
use geojson::{Feature, JsonObject};
use serde::Serialize;

use crate::aggregate::Figures;
use crate::aggregate::{Layer, Unit};
use crate::error::Error;
use crate::http::AppState;
use crate::places::outreach::{self, Assignment, GapQuery, Mode, PlanArea, Target};
use crate::places::{round_km, Category, KindFilter, Names, PlaceSet};
use crate::publish::geojson::unit_geometry;
use crate::publish::{unit_properties, LayerRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(posts))
        .routes(routes!(catchments))
        .routes(routes!(gaps))
        .routes(routes!(plan))
}

/// Parameters of the outreach endpoints besides the layer's.
const EXTRA: [&str; 9] = [
    "mode",
    "target",
    "kind",
    "saturation_km",
    "beyond_km",
    "top",
    "near",
    "limit",
    "post",
];
/// Most hexagons a gap ranking returns.
const MAX_LIMIT: usize = 5_000;

/// The layer an outreach request computes (its hexagons and filters), parsed as its
/// handlers parse it; `None` when invalid.
pub(super) fn requested_layer(
    pairs: &[(String, String)],
) -> Option<(Unit, crate::aggregate::Filter)> {
    let layer = LayerRequest::from_pairs(pairs, &EXTRA).ok()?;
    matches!(layer.unit, Unit::H3(_)).then_some((layer.unit, layer.filter))
}

/// The query of the outreach endpoints.
type Query = super::query::Params<super::params::OutreachQuery>;

/// A parsed outreach request.
struct Request {
    layer: LayerRequest,
    mode: Mode,
    gap: GapQuery,
    pairs: Vec<(String, String)>,
}

impl Request {
    fn parse(query: Query) -> Result<Request, Error> {
        let pairs = query.pairs();
        let layer = LayerRequest::from_pairs(&pairs, &EXTRA)?;
        if !matches!(layer.unit, Unit::H3(_)) {
            return Err(Error::invalid(
                "unit",
                "outreach works on hexagons: use unit=h3 (the default) and res",
            ));
        }
        let get = |name: &str| super::param(&pairs, name);
        let mode = match get("mode") {
            None => Mode::Nearest,
            Some(m) => Mode::parse(m).ok_or_else(|| {
                Error::invalid("mode", format!("{m:?}: use nearest or jurisdiction"))
            })?,
        };
        let target = match get("target") {
            None => Target::Count,
            Some(t) => Target::parse(t)
                .ok_or_else(|| Error::invalid("target", format!("{t:?}: use count or female")))?,
        };
        let mut gap = GapQuery::new(target);
        if let Some(list) = get("kind") {
            let kinds = KindFilter::parse(list).map_err(|source| Error::UnknownCode {
                param: "kind".into(),
                source,
            })?;
            if kinds.is_empty() || kinds.and(KindFilter::category(Category::Association)) != kinds {
                return Err(Error::invalid(
                    "kind",
                    "give one or more association kinds (not embassy or consulate_general)",
                ));
            }
            gap.kinds = kinds;
        }
        let positive = |name: &str| -> Result<Option<f64>, Error> {
            get(name)
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && *x > 0.0 && *x <= 20_100.0)
                        .ok_or_else(|| {
                            Error::invalid(
                                name,
                                format!("{v:?}: give kilometres above 0, at most 20100"),
                            )
                        })
                })
                .transpose()
        };
        if let Some(d) = positive("saturation_km")? {
            gap.saturation_km = d;
        }
        gap.beyond_km = positive("beyond_km")?;
        Ok(Request {
            layer,
            mode,
            gap,
            pairs,
        })
    }

    fn get(&self, name: &str) -> Option<&str> {
        super::param(&self.pairs, name)
    }

    fn count(&self, name: &str, default: usize, max: usize) -> Result<usize, Error> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| Error::invalid(name, format!("{v:?}: give 1 to {max}"))),
        }
    }

    /// `geojson` (default) or `csv`.
    fn csv(&self) -> Result<bool, Error> {
        match self.get("format").unwrap_or("geojson") {
            "geojson" | "json" => Ok(false),
            "csv" => Ok(true),
            other => Err(Error::invalid(
                "format",
                format!("{other:?}: use geojson or csv"),
            )),
        }
    }

    fn download(&self) -> bool {
        matches!(self.get("download"), Some("1" | "true" | "yes"))
    }

    /// A download's file name (#20): `dyaspora-{what}-` then the layer, filters, release,
    /// date and `-demo` for demo data, as the aggregates name theirs.
    fn file_name(&self, state: &AppState, layer: &Layer, what: &str, ext: &str) -> String {
        let stem = crate::publish::download_name(
            layer,
            &self.layer.filter_params,
            &crate::publish::today(),
            None,
            super::layers::is_demo(state),
        );
        let what = format!("dyaspora-{what}-");
        format!("{}.{ext}", stem.replacen("dyaspora-", &what, 1))
    }

    /// The post named by `id` (a consular post id, case-insensitive).
    fn post(set: &PlaceSet, id: &str, param: &str) -> Result<usize, Error> {
        set.posts()
            .find(|&i| set.place(i).id.eq_ignore_ascii_case(id))
            .ok_or_else(|| match param {
                "post" => Error::invalid("post", format!("{id:?} is not a consular post id")),
                _ => Error::NotFound(format!("consular post {id:?}")),
            })
    }
}

/// The hexagon layer, its assignments, and (jurisdiction mode) the state layer.
struct Computed {
    hexagons: std::sync::Arc<Layer>,
    states: std::sync::Arc<Layer>,
    assignments: Vec<Assignment>,
}

async fn compute(
    state: &AppState,
    req: &Request,
    set: std::sync::Arc<PlaceSet>,
) -> Result<Computed, Error> {
    let hexagons = crate::publish::layer(&state.engine, &req.layer, Figures::Public).await?;
    let states = crate::publish::layer(
        &state.engine,
        &LayerRequest {
            unit: Unit::State,
            ..req.layer.clone()
        },
        Figures::Public,
    )
    .await?;
    let (layer, mode) = (hexagons.clone(), req.mode);
    let assignments = tokio::task::spawn_blocking(move || outreach::assign(&layer, &set, mode))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Computed {
        hexagons,
        states,
        assignments,
    })
}

/// How a catchment is drawn and summed, stated in every answer.
#[derive(Serialize)]
struct CatchmentMethod {
    mode: &'static str,
    rule: &'static str,
    hexagons: String,
    figures: &'static str,
    distance_km: &'static str,
}

fn catchment_method(req: &Request, c: &Computed) -> CatchmentMethod {
    CatchmentMethod {
        mode: req.mode.name(),
        rule: req.mode.rule(),
        hexagons: c.hexagons.unit.name(),
        figures: match req.mode {
            Mode::Nearest => "sums of the published figures of the post's published hexagons; people in hexagons too small to publish are in no post's sum (see coverage)",
            Mode::Jurisdiction => "sums of the published figures of the post's jurisdiction states (state layer); states whose figures are suppressed are listed in basis.states_suppressed",
        },
        distance_km: "great-circle kilometres (haversine, mean Earth radius 6371.0088 km) from the hexagon centre",
    }
}

/// The privacy note of an outreach answer.
#[derive(Serialize)]
struct Privacy {
    min_count: u32,
    note: String,
}

fn privacy(layer: &Layer) -> Privacy {
    Privacy {
        min_count: layer.k,
        note: format!("Only published hexagons (count ≥ {}) take part, and only their published values are summed; see PRIVACY.md.", layer.k),
    }
}

/// `/api/v1/outreach/posts`.
#[derive(Serialize)]
struct Posts {
    method: CatchmentMethod,
    data_version: u64,
    privacy: Privacy,
    coverage: Value,
    posts: Vec<Value>,
}

#[utoipa::path(
    get,
    path = "/api/v1/outreach/posts",
    tag = "outreach",
    summary = "Per consular post: the published figures of its catchment",
    params(super::params::OutreachQuery),
    responses((status = 200, description = "The posts and the method", body = serde_json::Value)),
)]
pub(super) async fn posts(State(state): State<AppState>, query: Query) -> Result<Response, Error> {
    let req = Request::parse(query)?;
    let set = state.places.get();
    let c = compute(&state, &req, set.clone()).await?;
    let body = Posts {
        method: catchment_method(&req, &c),
        data_version: c.hexagons.data_version,
        privacy: privacy(&c.hexagons),
        coverage: outreach::hexagon_coverage(&c.hexagons),
        posts: outreach::post_figures(&set, req.mode, &c.hexagons, &c.assignments, &c.states),
    };
    Ok(json_body(&body, "application/json"))
}

/// Published count and female count of a unit (nulls when suppressed).
fn core_figures(layer: &Layer, unit: usize) -> (Value, Value) {
    let p = layer.properties(unit, &[], None);
    (
        p.get("count").cloned().unwrap_or(Value::Null),
        p.get("female").cloned().unwrap_or(Value::Null),
    )
}

#[utoipa::path(
    get,
    path = "/api/v1/outreach/catchments",
    tag = "outreach",
    summary = "The published hexagons with the consular post each is assigned to",
    params(super::params::OutreachQuery),
    responses((status = 200, description = "Hexagons as GeoJSON", body = ref("#/components/schemas/FeatureCollection"), content_type = "application/geo+json")),
)]
pub(super) async fn catchments(
    State(state): State<AppState>,
    query: Query,
) -> Result<Response, Error> {
    let req = Request::parse(query)?;
    let set = state.places.get();
    let c = compute(&state, &req, set.clone()).await?;
    let features: Vec<Feature> = c
        .assignments
        .iter()
        .map(|a| {
            let post = set.place(a.post);
            let (count, female) = core_figures(&c.hexagons, a.unit);
            let names = post.names();
            let properties = CatchmentProperties {
                id: c.hexagons.id_string(a.unit),
                post_id: &post.id,
                post_name: &names.name,
                post_name_fr: &names.name_fr,
                post_name_ht: &names.name_ht,
                assigned_by: a.by.name(),
                distance_km: round_km(a.distance_km),
                count,
                female,
            };
            unit_feature(
                &c.hexagons,
                a.unit,
                crate::places::feature::to_object(&properties),
            )
        })
        .collect();
    let body = Catchments {
        r#type: "FeatureCollection",
        number_returned: features.len(),
        method: catchment_method(&req, &c),
        data_version: c.hexagons.data_version,
        privacy: privacy(&c.hexagons),
        coverage: outreach::hexagon_coverage(&c.hexagons),
        posts: outreach::post_figures(&set, req.mode, &c.hexagons, &c.assignments, &c.states),
        features,
    };
    Ok(json_body(&body, "application/geo+json"))
}

/// The properties of a catchment hexagon.
#[derive(Serialize)]
struct CatchmentProperties<'a> {
    id: String,
    post_id: &'a str,
    post_name: &'a str,
    post_name_fr: &'a str,
    post_name_ht: &'a str,
    assigned_by: &'static str,
    distance_km: f64,
    count: Value,
    female: Value,
}

/// `/api/v1/outreach/catchments`.
#[derive(Serialize)]
struct Catchments {
    r#type: &'static str,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    method: CatchmentMethod,
    data_version: u64,
    privacy: Privacy,
    coverage: Value,
    posts: Vec<Value>,
    features: Vec<Feature>,
}

/// A published hexagon as a feature with the given properties.
fn unit_feature(layer: &Layer, unit: usize, properties: JsonObject) -> Feature {
    Feature {
        bbox: None,
        geometry: Some(unit_geometry(layer, unit)),
        id: Some(Id::String(layer.id_string(unit))),
        properties: Some(properties),
        foreign_members: None,
    }
}

/// A body serialised as JSON with its content type.
fn json_body<T: Serialize>(body: &T, content_type: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, content_type)],
        serde_json::to_string(body).unwrap_or_default(),
    )
        .into_response()
}

/// A place listed inside a feature's properties: its names, where it is, how far.
#[derive(Serialize)]
struct PlaceRef<'a> {
    id: &'a str,
    #[serde(flatten)]
    names: Names,
    kind: &'a str,
    city: &'a str,
    state: &'a str,
    is_demo: bool,
    distance_km: f64,
}

/// A short description of a place for lists inside a feature's properties.
fn place_ref(set: &PlaceSet, index: usize, distance_km: f64) -> Value {
    let p = set.place(index);
    serde_json::to_value(PlaceRef {
        id: &p.id,
        names: p.names(),
        kind: &p.kind,
        city: &p.city,
        state: &p.state,
        is_demo: p.is_demo,
        distance_km: round_km(distance_km),
    })
    .unwrap_or_default()
}

/// The properties of a ranked hexagon: rank, score, distance, then the unit's published
/// figures.
#[derive(Serialize)]
struct GapProperties<'a> {
    rank: usize,
    score: f64,
    value: u64,
    nearest_km: Option<f64>,
    nearest_association: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_id: Option<&'a str>,
    lon: f64,
    lat: f64,
    #[serde(flatten)]
    unit: JsonObject,
}

fn gap_properties(
    layer: &Layer,
    set: &PlaceSet,
    req: &Request,
    rank: usize,
    gap: &outreach::Gap,
    post: Option<usize>,
) -> JsonObject {
    let (lon, lat) = layer.center(gap.unit);
    crate::places::feature::to_object(&GapProperties {
        rank,
        score: (gap.score * 1000.0).round() / 1000.0,
        value: gap.value,
        nearest_km: gap.nearest.map(|h| round_km(h.distance_km)),
        nearest_association: gap.nearest.map(|h| place_ref(set, h.index, h.distance_km)),
        post_id: post.map(|p| set.place(p).id.as_str()),
        lon: (lon * 1e6).round() / 1e6,
        lat: (lat * 1e6).round() / 1e6,
        unit: unit_properties(layer, gap.unit, &req.layer, None),
    })
}

/// The catchment a gap ranking is limited to.
#[derive(Serialize)]
struct CatchmentOf<'a> {
    post_id: &'a str,
    mode: &'static str,
    rule: &'static str,
}

/// `/api/v1/outreach/gaps` as GeoJSON.
#[derive(Serialize)]
struct Gaps<'a> {
    r#type: &'static str,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    #[serde(rename = "numberMatched")]
    number_matched: usize,
    ranking: Value,
    catchment: Option<CatchmentOf<'a>>,
    data_version: u64,
    privacy: Privacy,
    features: Vec<Feature>,
}

/// The post a plan is for, with its names.
#[derive(Serialize)]
struct PlanPost<'a> {
    id: &'a str,
    #[serde(flatten)]
    names: Names,
    city: &'a str,
    state: &'a str,
}

/// `/api/v1/outreach/plan/{post}` as GeoJSON.
#[derive(Serialize)]
struct Plan<'a> {
    r#type: &'static str,
    post: PlanPost<'a>,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    gap_areas: usize,
    catchment: CatchmentMethod,
    ranking: Value,
    post_figures: Value,
    data_version: u64,
    privacy: Privacy,
    features: Vec<Feature>,
}

#[utoipa::path(
    get,
    path = "/api/v1/outreach/gaps",
    tag = "outreach",
    summary = "Coverage gaps: hexagons far from any association, ranked",
    params(super::params::OutreachQuery),
    responses((status = 200, description = "The ranked hexagons, GeoJSON or CSV", content(
            (ref("#/components/schemas/FeatureCollection") = "application/geo+json"),
            (String = "text/csv"),
        ))),
)]
pub(super) async fn gaps(State(state): State<AppState>, query: Query) -> Result<Response, Error> {
    let req = Request::parse(query)?;
    let limit = req.count("limit", 50, MAX_LIMIT)?;
    let csv = req.csv()?;
    let set = state.places.get();
    let post = req
        .get("post")
        .map(|id| Request::post(&set, id, "post"))
        .transpose()?;
    let c = compute(&state, &req, set.clone()).await?;
    let units: Vec<usize> = c
        .assignments
        .iter()
        .filter(|a| post.is_none_or(|p| a.post == p))
        .map(|a| a.unit)
        .collect();
    let posts_of: std::collections::HashMap<usize, usize> =
        c.assignments.iter().map(|a| (a.unit, a.post)).collect();
    let post_of = |unit: usize| posts_of.get(&unit).copied();
    let (layer, set2, q) = (c.hexagons.clone(), set.clone(), req.gap);
    let ranked =
        tokio::task::spawn_blocking(move || outreach::rank_gaps(&layer, &set2, &units, &q))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
    let considered = ranked.len();
    let rows: Vec<(usize, JsonObject)> = ranked
        .iter()
        .take(limit)
        .enumerate()
        .map(|(i, g)| {
            (
                g.unit,
                gap_properties(&c.hexagons, &set, &req, i + 1, g, post_of(g.unit)),
            )
        })
        .collect();
    let ranking = req.gap.describe();
    if csv {
        let columns = [
            "rank",
            "id",
            "post_id",
            "lon",
            "lat",
            "score",
            "value",
            "nearest_km",
            "count",
            "female",
            "female_share",
            "remitters",
        ];
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(columns);
        for (_, p) in &rows {
            let _ = w.write_record(columns.iter().map(|c| csv_value(p.get(*c))));
        }
        return Ok(text_response(
            w,
            "text/csv; charset=utf-8",
            req.download()
                .then(|| req.file_name(&state, &c.hexagons, "gaps", "csv"))
                .as_deref(),
        ));
    }
    let features: Vec<Feature> = rows
        .into_iter()
        .map(|(unit, p)| unit_feature(&c.hexagons, unit, p))
        .collect();
    let body = Gaps {
        r#type: "FeatureCollection",
        number_returned: features.len(),
        number_matched: considered,
        ranking,
        catchment: post.map(|p| CatchmentOf {
            post_id: &set.place(p).id,
            mode: req.mode.name(),
            rule: req.mode.rule(),
        }),
        data_version: c.hexagons.data_version,
        privacy: privacy(&c.hexagons),
        features,
    };
    Ok(with_download(
        json_body(&body, "application/geo+json"),
        req.download()
            .then(|| req.file_name(&state, &c.hexagons, "gaps", "geojson"))
            .as_deref(),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/outreach/plan/{post}",
    tag = "outreach",
    summary = "A consular post's outreach plan: its catchment's hexagons and the associations near them",
    params(("post" = String, Path, description = "A consular post id (case-insensitive)"), super::params::OutreachQuery),
    responses(
        (status = 200, description = "The plan, GeoJSON or CSV", content(
            (ref("#/components/schemas/FeatureCollection") = "application/geo+json"),
            (String = "text/csv"),
        )),
        (status = 404, description = "No such post", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json"),
    ),
)]
pub(super) async fn plan(
    State(state): State<AppState>,
    Path(post_id): Path<String>,
    query: Query,
) -> Result<Response, Error> {
    let req = Request::parse(query)?;
    if req.get("post").is_some() {
        return Err(Error::invalid(
            "post",
            "the post is in the path: /api/v1/outreach/plan/{post}",
        ));
    }
    let top = req.count("top", 10, 100)?;
    let near = req.count("near", 3, 20)?;
    let csv = req.csv()?;
    let set = state.places.get();
    let post = Request::post(&set, &post_id, "path")?;
    let c = compute(&state, &req, set.clone()).await?;
    let (layer, set2, assignments, q) = (
        c.hexagons.clone(),
        set.clone(),
        c.assignments.clone(),
        req.gap,
    );
    let areas: Vec<PlanArea> = tokio::task::spawn_blocking(move || {
        outreach::plan(&layer, &set2, post, &assignments, &q, top, near)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?;
    let place = set.place(post);
    let file = req.file_name(
        &state,
        &c.hexagons,
        &format!("plan-{}", place.id),
        if csv { "csv" } else { "geojson" },
    );
    let names = place.names();
    if csv {
        let mut columns: Vec<String> = [
            "rank",
            "id",
            "name",
            "lon",
            "lat",
            "score",
            "value",
            "nearest_km",
            "count",
            "female",
            "female_share",
            "remitters",
            "dominant_sector",
            "post_id",
            "post_name",
            "post_name_fr",
            "post_name_ht",
        ]
        .map(String::from)
        .to_vec();
        let fixed = columns.len();
        for n in 1..=near {
            columns.extend([
                format!("association_{n}_id"),
                format!("association_{n}_name"),
                format!("association_{n}_km"),
            ]);
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(&columns);
        for area in &areas {
            let mut p = gap_properties(&c.hexagons, &set, &req, area.rank, &area.gap, Some(post));
            for (k, v) in [
                ("post_name", &names.name),
                ("post_name_fr", &names.name_fr),
                ("post_name_ht", &names.name_ht),
            ] {
                p.insert(k.into(), Value::from(v.as_str()));
            }
            let mut row: Vec<String> = columns[..fixed]
                .iter()
                .map(|c| csv_value(p.get(c.as_str())))
                .collect();
            for n in 0..near {
                match area.associations.get(n) {
                    Some(h) => {
                        let a = set.place(h.index);
                        row.extend([
                            csv_text(&a.id),
                            csv_text(&a.name),
                            format!("{:.3}", h.distance_km),
                        ]);
                    }
                    None => row.extend([String::new(), String::new(), String::new()]),
                }
            }
            let _ = w.write_record(&row);
        }
        return Ok(text_response(
            w,
            "text/csv; charset=utf-8",
            req.download().then_some(&file),
        ));
    }
    let mut features: Vec<Feature> = Vec::new();
    let mut listed: Vec<usize> = Vec::new();
    for area in &areas {
        let mut p = gap_properties(&c.hexagons, &set, &req, area.rank, &area.gap, Some(post));
        p.insert("feature_type".into(), Value::from("gap_area"));
        p.insert(
            "associations".into(),
            Value::from(
                area.associations
                    .iter()
                    .map(|h| place_ref(&set, h.index, h.distance_km))
                    .collect::<Vec<_>>(),
            ),
        );
        features.push(unit_feature(&c.hexagons, area.gap.unit, p));
        listed.extend(area.associations.iter().map(|h| h.index));
    }
    listed.sort_unstable();
    listed.dedup();
    let typed = |index: usize, feature_type: &str| {
        let mut f = set.place(index).feature(None);
        if let Some(p) = f.properties.as_mut() {
            p.insert("feature_type".into(), Value::from(feature_type));
        }
        f
    };
    features.extend(listed.into_iter().map(|i| typed(i, "association")));
    features.push(typed(post, "post"));
    let figures = outreach::post_figures(&set, req.mode, &c.hexagons, &c.assignments, &c.states)
        .into_iter()
        .find(|p| p["id"] == place.id.as_str())
        .unwrap_or(Value::Null);
    let body = Plan {
        r#type: "FeatureCollection",
        post: PlanPost {
            id: &place.id,
            names,
            city: &place.city,
            state: &place.state,
        },
        number_returned: features.len(),
        gap_areas: areas.len(),
        catchment: catchment_method(&req, &c),
        ranking: req.gap.describe(),
        post_figures: figures.get("figures").cloned().unwrap_or(Value::Null),
        data_version: c.hexagons.data_version,
        privacy: privacy(&c.hexagons),
        features,
    };
    Ok(with_download(
        json_body(&body, "application/geo+json"),
        req.download().then_some(&file),
    ))
}

/// A CSV cell, neutralised against formula injection in spreadsheets.
fn csv_text(s: &str) -> String {
    super::spreadsheet::formula_safe(s).into_owned()
}

fn csv_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => csv_text(s),
        Some(v) => v.to_string(),
    }
}

fn text_response(
    w: csv::Writer<Vec<u8>>,
    content_type: &'static str,
    download: Option<&str>,
) -> Response {
    let body = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
    with_download(
        ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        download,
    )
}

fn with_download(mut r: Response, file: Option<&str>) -> Response {
    if let Some(file) = file {
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    r
}
