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
use geojson::Feature;
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::params::{NearestQuery, PlacesQuery, WithinQuery};
use super::problem::{Conflict, EditRefused, NotFound, Problem};
use super::query::{NoParams, Params as Typed};
use crate::auth::Principal;
use crate::error::Error;
use crate::http::AppState;
use crate::places::edit::{self, PlaceError, PlaceInput};
use crate::places::{FilterParams, Hit, PlaceFilter, PlaceSet};
use crate::publish::parse_bbox;

/// Most places a nearest query returns.
const MAX_K: usize = 100;
/// Largest radius accepted, km (half the Earth's circumference is about 20 015 km).
const MAX_RADIUS_KM: f64 = 20_100.0;

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

/// How distances and coordinates are expressed, stated in every collection.
#[derive(Serialize)]
struct Units {
    coordinates: &'static str,
    distance_km: &'static str,
}

const UNITS: Units = Units {
    coordinates: "WGS84 longitude, latitude in degrees (RFC 7946)",
    distance_km: "great-circle kilometres (haversine, mean Earth radius 6371.0088 km)",
};

/// The point (and `k` or radius) of a nearest or radius query, echoed in its answer.
#[derive(Serialize)]
struct PointQuery {
    lon: f64,
    lat: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    radius_km: Option<f64>,
}

/// A places answer: a GeoJSON FeatureCollection of [`Place::feature`]s with the units and,
/// for a point query, the query.
#[derive(Serialize)]
struct PlaceCollection {
    r#type: &'static str,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    units: Units,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<PointQuery>,
    features: Vec<Feature>,
}

impl PlaceCollection {
    fn new(features: Vec<Feature>, query: Option<PointQuery>) -> PlaceCollection {
        PlaceCollection {
            r#type: "FeatureCollection",
            number_returned: features.len(),
            units: UNITS,
            query,
            features,
        }
    }
}

/// A body as `application/geo+json`.
fn geojson<T: Serialize>(body: &T) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/geo+json"),
        )],
        serde_json::to_string(body).unwrap_or_default(),
    )
        .into_response()
}

/// A number parameter within `min..=max`.
fn number(name: &str, value: Option<&str>, min: f64, max: f64) -> Result<Option<f64>, Error> {
    value
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

fn required(name: &str, value: Option<&str>, min: f64, max: f64) -> Result<f64, Error> {
    number(name, value, min, max)?.ok_or_else(|| Error::invalid(name, "required"))
}

/// The filters of a places query struct.
macro_rules! filter_of {
    ($q:expr) => {
        PlaceFilter::parse(&FilterParams {
            kind: $q.kind.as_deref(),
            category: $q.category.as_deref(),
            sector: $q.sector.as_deref(),
            language: $q.language.as_deref(),
            state: None,
            demo: $q.demo.as_deref(),
        })
    };
}

#[utoipa::path(
    get,
    path = "/api/v1/places",
    tag = "places",
    summary = "Consular posts and associations as GeoJSON points",
    params(PlacesQuery),
    responses((status = 200, description = "The places", body = ref("#/components/schemas/PlaceCollection"), content_type = "application/geo+json")),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Typed(q): Typed<PlacesQuery>,
) -> Result<Response, Error> {
    let filter = filter_of!(q)?;
    let set = state.places.get();
    let candidates: Vec<usize> = match q.bbox.as_deref().map(parse_bbox).transpose()? {
        Some(b) => set.in_bbox(b, filter.kinds),
        None => (0..set.len()).collect(),
    };
    let features = candidates
        .into_iter()
        .filter(|&i| filter.keeps(&set, i))
        .map(|i| set.place(i).feature(None))
        .collect();
    Ok(geojson(&PlaceCollection::new(features, None)))
}

/// A nearest or radius query: the point (WGS84 degrees) and the filters.
fn point_of(lon: Option<&str>, lat: Option<&str>) -> Result<(f64, f64), Error> {
    Ok((
        required("lon", lon, -180.0, 180.0)?,
        required("lat", lat, -90.0, 90.0)?,
    ))
}

/// Answers a nearest or radius query: `search` gives the hits of the kinds the filter keeps
/// (the tree answers that part), nearest first; the other filters thin that stream, of which
/// at most `take` are kept.
fn point_answer(
    state: &AppState,
    filter: &PlaceFilter,
    query: PointQuery,
    take: usize,
    search: impl FnOnce(&PlaceSet) -> Vec<Hit>,
) -> Response {
    let set = state.places.get();
    let features = search(&set)
        .into_iter()
        .filter(|h| filter.keeps(&set, h.index))
        .take(take)
        .map(|h| set.place(h.index).feature(Some(h.distance_km)))
        .collect();
    geojson(&PlaceCollection::new(features, Some(query)))
}

#[utoipa::path(
    get,
    path = "/api/v1/places/nearest",
    tag = "places",
    summary = "The k places nearest a point (great-circle km)",
    params(NearestQuery),
    responses((status = 200, description = "The places, nearest first, each with `distance_km`", body = ref("#/components/schemas/PlaceCollection"), content_type = "application/geo+json")),
)]
pub(super) async fn nearest(
    State(state): State<AppState>,
    Typed(q): Typed<NearestQuery>,
) -> Result<Response, Error> {
    let filter = filter_of!(q)?;
    let (lon, lat) = point_of(q.lon.as_deref(), q.lat.as_deref())?;
    let k = match q.k.as_deref() {
        None => 5,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|k| (1..=MAX_K).contains(k))
            .ok_or_else(|| Error::invalid("k", format!("{v:?}: give 1 to {MAX_K}")))?,
    };
    let query = PointQuery {
        lon,
        lat,
        k: Some(k),
        radius_km: None,
    };
    Ok(point_answer(&state, &filter, query, k, |set| {
        set.nearest(lon, lat, set.len(), filter.kinds)
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/places/within",
    tag = "places",
    summary = "The places within a radius of a point (great-circle km)",
    params(WithinQuery),
    responses((status = 200, description = "The places, nearest first, each with `distance_km`", body = ref("#/components/schemas/PlaceCollection"), content_type = "application/geo+json")),
)]
pub(super) async fn within(
    State(state): State<AppState>,
    Typed(q): Typed<WithinQuery>,
) -> Result<Response, Error> {
    let filter = filter_of!(q)?;
    let (lon, lat) = point_of(q.lon.as_deref(), q.lat.as_deref())?;
    let radius = required("radius_km", q.radius_km.as_deref(), 0.0, MAX_RADIUS_KM)?;
    let query = PointQuery {
        lon,
        lat,
        k: None,
        radius_km: Some(radius),
    };
    Ok(point_answer(&state, &filter, query, usize::MAX, |set| {
        set.within(lon, lat, radius, filter.kinds)
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/places/{id}",
    tag = "places",
    summary = "One place",
    params(("id" = String, Path, description = "The place id"), NoParams),
    responses((status = 200, description = "The place", body = ref("#/components/schemas/PlaceFeature"), content_type = "application/geo+json"), NotFound),
)]
pub(super) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: Typed<NoParams>,
) -> Result<Response, Error> {
    let set = state.places.get();
    let place = set
        .get(&id)
        .ok_or_else(|| Error::NotFound(format!("place {id:?}")))?;
    Ok(geojson(&place.feature(None)))
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
    params(NoParams),
    request_body = PlaceInput,
    responses((status = 201, description = "Created; `Location` names it", body = ref("#/components/schemas/PlaceFeature"), content_type = "application/geo+json"), EditRefused),
)]
pub(super) async fn create(
    State(state): State<AppState>,
    who: Option<Extension<Principal>>,
    _: Typed<NoParams>,
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
            let mut r = (StatusCode::CREATED, geojson(&place.feature(None))).into_response();
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
    params(("id" = String, Path, description = "The place id"), NoParams),
    request_body = PlaceInput,
    responses((status = 200, description = "Replaced", body = ref("#/components/schemas/PlaceFeature"), content_type = "application/geo+json"), NotFound, EditRefused),
)]
pub(super) async fn replace(
    State(state): State<AppState>,
    who: Option<Extension<Principal>>,
    Path(id): Path<String>,
    _: Typed<NoParams>,
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
        Ok(place) => geojson(&place.feature(None)),
        Err(r) => r,
    }
}

#[utoipa::path(
    delete,
    path = "/api/v1/places/{id}",
    tag = "places",
    summary = "Delete an association",
    params(("id" = String, Path, description = "The place id"), NoParams),
    responses((status = 204, description = "Deleted"), NotFound, Conflict),
)]
pub(super) async fn remove(
    State(state): State<AppState>,
    who: Option<Extension<Principal>>,
    Path(id): Path<String>,
    _: Typed<NoParams>,
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
