//! `/api/v1/places`: consular posts and associations as GeoJSON (filterable by kind,
//! category, sector, language, demo flag and box), the k nearest places and the places
//! within a radius (great-circle km), one place by id; and, in [`write_router`], the
//! editors' POST/PUT/DELETE.
//!
//! Places carry no record-derived figure, so the privacy rules have nothing to hide here.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::problem::Problem;
use crate::auth::Principal;
use crate::codes::{CodeList, Codebook};
use crate::error::Error;
use crate::http::AppState;
use crate::places::edit::{self, PlaceError, PlaceInput};
use crate::places::{Category, Hit, KindFilter, Place, PlaceSet};
use crate::publish::parse_bbox;

/// Most places a nearest query returns.
const MAX_K: usize = 100;
/// Largest radius accepted, km (half the Earth's circumference is about 20 015 km).
const MAX_RADIUS_KM: f64 = 20_100.0;

/// How distances and coordinates are expressed, stated in every collection.
fn units() -> Value {
    json!({
        "coordinates": "WGS84 longitude, latitude in degrees (RFC 7946)",
        "distance_km": "great-circle kilometres (haversine, mean Earth radius 6371.0088 km)",
    })
}

/// The read endpoints.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list))
        .routes(routes!(nearest))
        .routes(routes!(within))
        .routes(routes!(one))
}

/// The editors' endpoints: `POST /api/v1/places`, `PUT` and `DELETE /api/v1/places/{id}`.
/// Kept apart so that access control can wrap exactly these with the editor role.
pub fn write_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(create))
        .routes(routes!(replace, remove))
}

use super::params::{NearestQuery, PlacesQuery, WithinQuery};
use super::query::Params as Typed;

/// Query parameters, already checked against the names an endpoint accepts (by its typed
/// query struct).
struct Params(Vec<(String, String)>);

impl Params {
    fn new<T: serde::Serialize>(query: Typed<T>) -> Params {
        Params(query.pairs())
    }

    fn get(&self, name: &str) -> Option<&str> {
        super::param(&self.0, name)
    }

    fn number(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>, Error> {
        self.get(name)
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && (min..=max).contains(x))
                    .ok_or_else(|| {
                        Error::invalid(name, format!("{v:?} is not a number from {min} to {max}"))
                    })
            })
            .transpose()
    }

    fn required(&self, name: &str, min: f64, max: f64) -> Result<f64, Error> {
        self.number(name, min, max)?
            .ok_or_else(|| Error::invalid(name, "required"))
    }
}

/// Which places a query keeps.
struct PlaceFilter {
    kinds: KindFilter,
    sectors: Vec<String>,
    languages: Vec<String>,
    demo: Option<bool>,
}

impl PlaceFilter {
    fn parse(p: &Params) -> Result<PlaceFilter, Error> {
        let mut kinds = match p.get("kind") {
            None => KindFilter::all(),
            Some(list) => KindFilter::parse(list).map_err(|source| Error::UnknownCode {
                param: "kind".into(),
                source,
            })?,
        };
        if let Some(c) = p.get("category") {
            let c = Category::parse(c).ok_or_else(|| {
                Error::invalid("category", format!("{c:?}: use consular or association"))
            })?;
            kinds = kinds.and(KindFilter::category(c));
        }
        let demo = match p.get("demo") {
            None => None,
            Some("true" | "1" | "yes") => Some(true),
            Some("false" | "0" | "no") => Some(false),
            Some(other) => {
                return Err(Error::invalid(
                    "demo",
                    format!("{other:?}: use true or false"),
                ))
            }
        };
        Ok(PlaceFilter {
            kinds,
            sectors: codes(p, "sector", CodeList::Sector)?,
            languages: codes(p, "language", CodeList::Language)?,
            demo,
        })
    }

    fn keeps(&self, set: &PlaceSet, i: usize) -> bool {
        let place = set.place(i);
        self.kinds.contains(set.kind(i))
            && (self.sectors.is_empty() || place.sectors.iter().any(|s| self.sectors.contains(s)))
            && (self.languages.is_empty()
                || place.languages.iter().any(|l| self.languages.contains(l)))
            && self.demo.is_none_or(|d| place.is_demo == d)
    }
}

/// Canonical codes of a comma-separated parameter (any of them matches).
fn codes(p: &Params, name: &str, list: CodeList) -> Result<Vec<String>, Error> {
    let book = Codebook::get();
    let Some(value) = p.get(name) else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            book.index(list, c)
                .map(|i| book.code(list, i).to_string())
                .map_err(|source| Error::UnknownCode {
                    param: name.into(),
                    source,
                })
        })
        .collect()
}

/// A place as a GeoJSON Feature; consular posts add their address and jurisdiction.
pub fn place_feature(place: &Place, distance_km: Option<f64>) -> Value {
    let mut p = Map::new();
    p.insert("id".into(), json!(place.id));
    p.insert("kind".into(), json!(place.kind));
    p.insert("category".into(), json!(place.category()));
    p.insert("name".into(), json!(place.name));
    p.insert("city".into(), json!(place.city));
    p.insert("state".into(), json!(place.state));
    p.insert("sectors".into(), json!(place.sectors));
    p.insert("languages".into(), json!(place.languages));
    p.insert("is_demo".into(), json!(place.is_demo));
    if let Some(post) = place.post() {
        p.insert("address".into(), json!(post.address));
        p.insert("zip".into(), json!(post.zip));
        p.insert("address_confidence".into(), json!(post.confidence));
        p.insert("jurisdiction_states".into(), json!(post.states));
        p.insert("jurisdiction_note".into(), json!(post.jurisdiction_note));
    }
    if let Some(d) = distance_km {
        p.insert("distance_km".into(), json!(round_km(d)));
    }
    json!({
        "type": "Feature",
        "id": place.id,
        "geometry": {"type": "Point", "coordinates": [place.lon, place.lat]},
        "properties": p,
    })
}

/// Kilometres rounded to the metre.
pub fn round_km(d: f64) -> f64 {
    (d * 1000.0).round() / 1000.0
}

fn collection(features: Vec<Value>, extra: Map<String, Value>) -> Response {
    let mut body = Map::new();
    body.insert("type".into(), json!("FeatureCollection"));
    body.insert("numberReturned".into(), json!(features.len()));
    body.insert("units".into(), units());
    body.extend(extra);
    body.insert("features".into(), Value::Array(features));
    geojson(&Value::Object(body))
}

fn geojson(body: &Value) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/geo+json"),
        )],
        body.to_string(),
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/api/v1/places",
    tag = "places",
    summary = "Consular posts and associations as GeoJSON points",
    params(PlacesQuery),
    responses((status = 200, description = "The places", body = ref("#/components/schemas/FeatureCollection"), content_type = "application/geo+json")),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    query: Typed<PlacesQuery>,
) -> Result<Response, Error> {
    let p = Params::new(query);
    let filter = PlaceFilter::parse(&p)?;
    let set = state.places.get();
    let candidates: Vec<usize> = match p.get("bbox").map(parse_bbox).transpose()? {
        Some(b) => set.in_bbox(b, filter.kinds),
        None => (0..set.len()).collect(),
    };
    let features = candidates
        .into_iter()
        .filter(|&i| filter.keeps(&set, i))
        .map(|i| place_feature(set.place(i), None))
        .collect();
    Ok(collection(features, Map::new()))
}

fn hits_collection(set: &PlaceSet, hits: Vec<Hit>, query: Value) -> Response {
    let features = hits
        .into_iter()
        .map(|h| place_feature(set.place(h.index), Some(h.distance_km)))
        .collect();
    let mut extra = Map::new();
    extra.insert("query".into(), query);
    collection(features, extra)
}

#[utoipa::path(
    get,
    path = "/api/v1/places/nearest",
    tag = "places",
    summary = "The k places nearest a point (great-circle km)",
    params(NearestQuery),
    responses((status = 200, description = "The places, nearest first, each with `distance_km`", body = ref("#/components/schemas/FeatureCollection"), content_type = "application/geo+json")),
)]
pub(super) async fn nearest(
    State(state): State<AppState>,
    query: Typed<NearestQuery>,
) -> Result<Response, Error> {
    let p = Params::new(query);
    let filter = PlaceFilter::parse(&p)?;
    let lon = p.required("lon", -180.0, 180.0)?;
    let lat = p.required("lat", -90.0, 90.0)?;
    let k = match p.get("k") {
        None => 5,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|k| (1..=MAX_K).contains(k))
            .ok_or_else(|| Error::invalid("k", format!("{v:?}: give 1 to {MAX_K}")))?,
    };
    let set = state.places.get();
    // The tree answers the kind filter; the other filters thin the nearest-first stream.
    let hits: Vec<Hit> = set
        .nearest(lon, lat, set.len(), filter.kinds)
        .into_iter()
        .filter(|h| filter.keeps(&set, h.index))
        .take(k)
        .collect();
    Ok(hits_collection(
        &set,
        hits,
        json!({"lon": lon, "lat": lat, "k": k}),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/places/within",
    tag = "places",
    summary = "The places within a radius of a point (great-circle km)",
    params(WithinQuery),
    responses((status = 200, description = "The places, nearest first, each with `distance_km`", body = ref("#/components/schemas/FeatureCollection"), content_type = "application/geo+json")),
)]
pub(super) async fn within(
    State(state): State<AppState>,
    query: Typed<WithinQuery>,
) -> Result<Response, Error> {
    let p = Params::new(query);
    let filter = PlaceFilter::parse(&p)?;
    let lon = p.required("lon", -180.0, 180.0)?;
    let lat = p.required("lat", -90.0, 90.0)?;
    let radius = p.required("radius_km", 0.0, MAX_RADIUS_KM)?;
    let set = state.places.get();
    let hits: Vec<Hit> = set
        .within(lon, lat, radius, filter.kinds)
        .into_iter()
        .filter(|h| filter.keeps(&set, h.index))
        .collect();
    Ok(hits_collection(
        &set,
        hits,
        json!({"lon": lon, "lat": lat, "radius_km": radius}),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/places/{id}",
    tag = "places",
    summary = "One place",
    params(("id" = String, Path, description = "The place id")),
    responses((status = 200, description = "The place", body = ref("#/components/schemas/Feature"), content_type = "application/geo+json"), (status = 404, description = "No such place", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json")),
)]
pub(super) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let set = state.places.get();
    let place = set
        .get(&id)
        .ok_or_else(|| Error::NotFound(format!("place {id:?}")))?;
    Ok(geojson(&place_feature(place, None)))
}

/// A refused edit as a problem: 422 naming the field, 409, 404, or the store's 500/503.
fn place_problem(e: PlaceError) -> Response {
    match e {
        PlaceError::Invalid {
            field,
            reason,
            valid,
        } => {
            let mut p = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid {field}: {reason}"),
            )
            .with("field", field);
            if let Some(valid) = valid {
                p = p.with("valid", valid);
            }
            p.into_response()
        }
        PlaceError::ReadOnly(_) | PlaceError::Exists(_) => {
            Problem::new(StatusCode::CONFLICT, e.to_string()).into_response()
        }
        PlaceError::NotFound(id) => Error::NotFound(format!("place {id:?}")).into_response(),
        PlaceError::Store(s) => Error::Store(s).into_response(),
    }
}

fn json_problem(rejection: JsonRejection) -> Response {
    Problem::new(rejection.status(), rejection.body_text()).into_response()
}

/// Runs an edit on a worker thread, then swaps in a new place index.
async fn apply<T: Send + 'static>(
    state: &AppState,
    who: Option<Extension<Principal>>,
    what: String,
    edit: impl FnOnce(&dyn crate::store::Store) -> Result<T, PlaceError> + Send + 'static,
) -> Result<T, Response> {
    let (store, index) = (state.store.clone(), state.places.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        let out = edit(store.as_ref())?;
        if let Err(e) = index.reload(store.as_ref()) {
            // The edit is stored; the periodic reload will pick it up.
            tracing::warn!(error = %e, "place index reload failed after an edit");
        }
        Ok(out)
    })
    .await;
    let actor = who.map_or_else(|| "anonymous".to_string(), |Extension(p)| p.actor());
    match outcome {
        Ok(Ok(out)) => {
            tracing::info!(%actor, edit = %what, "place edited");
            Ok(out)
        }
        Ok(Err(e)) => Err(place_problem(e)),
        Err(e) => Err(Error::Internal(e.to_string()).into_response()),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/places",
    tag = "places",
    summary = "Add an association",
    request_body = PlaceInput,
    responses((status = 201, description = "Created; `Location` names it", body = ref("#/components/schemas/Feature"), content_type = "application/geo+json"), (status = 409, description = "A consular post (read-only), or the id exists", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json"), (status = 422, description = "A field is missing or invalid; `field` names it", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json")),
)]
pub(super) async fn create(
    State(state): State<AppState>,
    who: Option<Extension<Principal>>,
    body: Result<Json<PlaceInput>, JsonRejection>,
) -> Response {
    let Json(input) = match body {
        Ok(b) => b,
        Err(r) => return json_problem(r),
    };
    match apply(&state, who, "create".into(), move |store| {
        edit::create(store, &input)
    })
    .await
    {
        Ok(place) => {
            let location = HeaderValue::from_str(&format!("/api/v1/places/{}", place.id))
                .expect("ids are ASCII");
            let mut r =
                (StatusCode::CREATED, geojson(&place_feature(&place, None))).into_response();
            r.headers_mut().insert(header::LOCATION, location);
            r
        }
        Err(r) => r,
    }
}

#[utoipa::path(
    put,
    path = "/api/v1/places/{id}",
    tag = "places",
    summary = "Replace an association",
    params(("id" = String, Path, description = "The place id")),
    request_body = PlaceInput,
    responses((status = 200, description = "Replaced", body = ref("#/components/schemas/Feature"), content_type = "application/geo+json"), (status = 404, description = "No such place", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json"), (status = 409, description = "A consular post (read-only), or the id exists", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json"), (status = 422, description = "A field is missing or invalid; `field` names it", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json")),
)]
pub(super) async fn replace(
    State(state): State<AppState>,
    who: Option<Extension<Principal>>,
    Path(id): Path<String>,
    body: Result<Json<PlaceInput>, JsonRejection>,
) -> Response {
    let Json(input) = match body {
        Ok(b) => b,
        Err(r) => return json_problem(r),
    };
    match apply(&state, who, format!("replace {id}"), move |store| {
        edit::replace(store, &id, &input)
    })
    .await
    {
        Ok(place) => geojson(&place_feature(&place, None)),
        Err(r) => r,
    }
}

#[utoipa::path(
    delete,
    path = "/api/v1/places/{id}",
    tag = "places",
    summary = "Delete an association",
    params(("id" = String, Path, description = "The place id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such place", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json"), (status = 409, description = "A consular post (read-only), or the id exists", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json")),
)]
pub(super) async fn remove(
    State(state): State<AppState>,
    who: Option<Extension<Principal>>,
    Path(id): Path<String>,
) -> Response {
    match apply(&state, who, format!("remove {id}"), move |store| {
        edit::remove(store, &id)
    })
    .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}
