//! OGC API – Features (Part 1 Core, with the GeoJSON and OpenAPI 3.0 conformance classes)
//! under `/ogc`, so that QGIS, GDAL/ogr2ogr, R and Python read dyaspora directly.
//!
//! Collections: one per aggregate layer (`states`, `counties`, `h3-res2` … `h3-res9`), whose
//! items are the units the Engine's [`Layer`](crate::aggregate::Layer) publishes, and
//! `places` (consular posts and associations). Items are paged by `limit`/`offset` in a
//! stable order (by id), with exact `numberMatched` and typed `next`/`prev` links: paging to
//! the end always yields every matched feature exactly once. Coordinates are CRS84
//! (lon/lat WGS84 degrees).
//!
//! - [`items`]: the feature collections and single features;
//! - [`openapi`]: the OpenAPI 3.0 description (`/ogc/api`) and its HTML rendering.

mod items;
mod openapi;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::aggregate::group::{MAX_RES, MIN_RES};
use crate::aggregate::{Filter, Unit};
use crate::error::Error;
use crate::http::problem::Problem;
use crate::http::AppState;

/// Items per page when the client gives no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page; a larger `limit` is capped to it (not an error, as the standard asks).
pub const MAX_LIMIT: usize = 10_000;

pub const JSON: &str = "application/json";
pub const GEOJSON: &str = "application/geo+json";
pub const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.0";
pub const HTML: &str = "text/html; charset=utf-8";
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// The conformance classes implemented.
pub const CONFORMANCE: [&str; 3] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
];

/// The OGC API's own documents and metadata. Its operations are described by its own
/// OpenAPI document (`/ogc/api`), not the service's: the annotations here only declare the
/// routes (see `http::access`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(landing))
        .routes(routes!(landing_slash))
        .routes(routes!(conformance))
        .routes(routes!(openapi::document))
        .routes(routes!(openapi::service_doc))
        .routes(routes!(collections))
        .routes(routes!(collection))
}

/// The feature pages, which compute layers.
pub fn items_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(items::items))
        .routes(routes!(items::item))
}

/// The aggregate layer an items request at `path` (percent-decoded) computes, parsed as its
/// handler parses it; `None` for anything else or invalid.
pub(super) fn requested_layer(path: &str, pairs: &[(String, String)]) -> Option<(Unit, Filter)> {
    let rest = path.strip_prefix("/ogc/collections/")?;
    let (id, items) = rest.split_once('/')?;
    if items != "items" && !items.starts_with("items/") {
        return None;
    }
    let Collection::Aggregate(unit) = Collection::parse(id)? else {
        return None;
    };
    let req = items::layer_request(pairs, unit).ok()?;
    Some((unit, req.filter))
}

/// A feature collection of the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collection {
    /// An aggregate layer: states, counties or one H3 resolution.
    Aggregate(Unit),
    /// Consular posts and diaspora associations.
    Places,
}

impl Collection {
    /// Every collection, in the order listed by `/ogc/collections`.
    pub fn all() -> Vec<Collection> {
        let mut v = vec![
            Collection::Aggregate(Unit::State),
            Collection::Aggregate(Unit::County),
        ];
        v.extend((MIN_RES..=MAX_RES).map(|r| Collection::Aggregate(Unit::H3(r))));
        v.push(Collection::Places);
        v
    }

    /// The collection id used in paths: `states`, `counties`, `h3-res6`, `places`.
    pub fn id(self) -> String {
        match self {
            Collection::Aggregate(Unit::State) => "states".into(),
            Collection::Aggregate(Unit::County) => "counties".into(),
            Collection::Aggregate(Unit::H3(r)) => format!("h3-res{r}"),
            Collection::Places => "places".into(),
        }
    }

    pub fn parse(id: &str) -> Option<Collection> {
        Collection::all().into_iter().find(|c| c.id() == id)
    }

    pub fn title(self) -> String {
        match self {
            Collection::Aggregate(Unit::State) => "Haitian diaspora by state".into(),
            Collection::Aggregate(Unit::County) => "Haitian diaspora by county".into(),
            Collection::Aggregate(Unit::H3(r)) => {
                format!("Haitian diaspora by H3 hexagon, resolution {r}")
            }
            Collection::Places => "Consular posts and diaspora associations".into(),
        }
    }

    pub fn description(self, k: u32) -> String {
        let privacy = format!(
            "Figures obey dyaspora's disclosure rules: counts from 1 to {} are suppressed (null, listed in the \
             `suppressed` property), and so are values that could be derived from published ones (PRIVACY.md).",
            k.saturating_sub(1)
        );
        match self {
            Collection::Aggregate(Unit::State) => format!(
                "Every US state, DC and Puerto Rico with the survey figures of the query (filters as query \
                 parameters). Feature id: state FIPS code. {privacy}"
            ),
            Collection::Aggregate(Unit::County) => format!(
                "US counties whose respondent count can be published, with the figures of the query; \
                 counties with a suppressed count are omitted. Feature id: county FIPS code. {privacy}"
            ),
            Collection::Aggregate(Unit::H3(r)) => format!(
                "H3 cells of resolution {r} whose respondent count can be published; cells with a suppressed \
                 count are omitted. Feature id: H3 index (hex). {privacy}"
            ),
            Collection::Places => "Haitian consular posts (public addresses) and diaspora associations (those \
                                    marked is_demo are synthetic). Feature id: place id."
                .into(),
        }
    }
}

/// The absolute URL of the OGC root (`http://host:port/ogc`) as the client sees it
/// ([`crate::http::conditional::base_url`]: `Host`, or `X-Forwarded-Host` and
/// `X-Forwarded-Proto` behind a proxy), so that links work for the client.
pub fn base_url(headers: &HeaderMap, state: &AppState) -> String {
    format!(
        "{}/ogc",
        crate::http::conditional::base_url(headers, &state.config.addr)
    )
}

/// A link object.
pub fn link(href: impl Into<String>, rel: &str, media_type: &str, title: &str) -> Value {
    json!({ "href": href.into(), "rel": rel, "type": media_type, "title": title })
}

/// The query parameters as decoded pairs, or a 400 problem.
pub fn query_pairs(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Vec<(String, String)>, Error> {
    query
        .map(|Query(q)| q)
        .map_err(|e| Error::invalid("query", e.body_text()))
}

/// Rejects any parameter not in `allowed` (the standard asks for 400, not silence).
pub fn only_params(pairs: &[(String, String)], allowed: &[&str]) -> Result<(), Error> {
    match pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some((k, _)) => Err(Error::invalid(
            k,
            format!(
                "unknown parameter; this resource accepts: {}",
                allowed.join(", ")
            ),
        )),
    }
}

pub use super::param;

/// What every JSON-only OGC document checks first: `f` is its only parameter and the client
/// accepts one of `types`. `Ok(Ok(base))`: go on with the base URL; `Ok(Err(response))`:
/// answer that instead (the format is refused); `Err`: an unknown parameter.
pub fn json_document(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: &HeaderMap,
    state: &AppState,
    types: &[&str],
) -> Result<Result<String, Response>, Error> {
    let pairs = query_pairs(query)?;
    only_params(&pairs, &["f"])?;
    Ok(match refuse_format(&pairs, headers, &["json"], types) {
        Some(refused) => Err(refused),
        None => Ok(base_url(headers, state)),
    })
}

/// Checks `f` (one of `formats`) and the `Accept` header (one of `media`): the only
/// representations served are JSON ones, so anything else is refused with 400 (`f`) or
/// 406 (`Accept`); `None` when the request can be served.
pub fn refuse_format(
    pairs: &[(String, String)],
    headers: &HeaderMap,
    formats: &[&str],
    media: &[&str],
) -> Option<Response> {
    if let Some(f) = param(pairs, "f") {
        if formats.contains(&f) {
            return None;
        }
        let detail = format!(
            "{f:?} is not an available format; use f={}",
            formats.join(" or f=")
        );
        return Some(Error::invalid("f", detail).into_response());
    }
    if accepts(headers, media) {
        return None;
    }
    let detail = format!("this resource is available as {}", media.join(", "));
    Some(
        Problem::new(StatusCode::NOT_ACCEPTABLE, detail)
            .with("available", media)
            .into_response(),
    )
}

/// Whether the `Accept` header (absent = anything) admits one of `media` (parameters such
/// as `version=3.0` and `q` weights other than 0 are not compared).
fn accepts(headers: &HeaderMap, media: &[&str]) -> bool {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return true;
    }
    values.iter().flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let ty = parts.next().unwrap_or("").to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                == Some(0.0)
        });
        if refused || ty.is_empty() {
            return false;
        }
        ty == "*/*"
            || media.iter().any(|m| {
                let m = m.split(';').next().unwrap_or(m);
                ty == m
                    || ty
                        .strip_suffix("/*")
                        .is_some_and(|major| m.split('/').next() == Some(major))
            })
    })
}

/// A JSON body with an exact content type.
pub fn json_response(body: &Value, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60, must-revalidate"),
            ),
        ],
        body.to_string(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/ogc", tag = "ogc", responses((status = 200, description = "See /ogc/api")))]
async fn landing(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Error> {
    let base = match json_document(query, &headers, &state, &[JSON])? {
        Ok(base) => base,
        Err(refused) => return Ok(refused),
    };
    let body = json!({
        "title": "dyaspora – OGC API Features",
        "description": format!(
            "Where the Haitian diaspora in the United States lives, what it sends home and what skills it holds, \
             as privacy-checked aggregates (states, counties, H3 hexagons) and places. Coordinates are CRS84 \
             (longitude, latitude in WGS84 degrees). Items are paged with limit (default {DEFAULT_LIMIT}, maximum \
             {MAX_LIMIT}; a larger limit is capped) and offset, with exact numberMatched and next/prev links."
        ),
        "limits": { "defaultLimit": DEFAULT_LIMIT, "maximumLimit": MAX_LIMIT },
        "links": [
            link(format!("{base}/"), "self", JSON, "This document"),
            link(format!("{base}/api"), "service-desc", OPENAPI, "The API definition (OpenAPI 3.0)"),
            link(format!("{base}/api.html"), "service-doc", "text/html", "The API documentation"),
            link(format!("{base}/conformance"), "conformance", JSON, "Conformance classes implemented"),
            link(format!("{base}/collections"), "data", JSON, "The feature collections"),
        ],
    });
    Ok(json_response(&body, JSON))
}

/// `GET /ogc/`: the landing page again.
#[utoipa::path(get, path = "/ogc/", tag = "ogc", responses((status = 200, description = "See /ogc/api")))]
async fn landing_slash(
    state: State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Error> {
    landing(state, headers, query).await
}

#[utoipa::path(get, path = "/ogc/conformance", tag = "ogc", responses((status = 200, description = "See /ogc/api")))]
async fn conformance(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Error> {
    let base = match json_document(query, &headers, &state, &[JSON])? {
        Ok(base) => base,
        Err(refused) => return Ok(refused),
    };
    let body = json!({
        "conformsTo": CONFORMANCE,
        "links": [link(format!("{base}/conformance"), "self", JSON, "This document")],
    });
    Ok(json_response(&body, JSON))
}

#[utoipa::path(get, path = "/ogc/collections", tag = "ogc", responses((status = 200, description = "See /ogc/api")))]
async fn collections(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Error> {
    let base = match json_document(query, &headers, &state, &[JSON])? {
        Ok(base) => base,
        Err(refused) => return Ok(refused),
    };
    let mut list = Vec::new();
    for c in Collection::all() {
        list.push(collection_json(&state, &base, c).await?);
    }
    let body = json!({
        "links": [link(format!("{base}/collections"), "self", JSON, "This document")],
        "collections": list,
    });
    Ok(json_response(&body, JSON))
}

#[utoipa::path(get, path = "/ogc/collections/{collection}", tag = "ogc", params(("collection" = String, Path)), responses((status = 200, description = "See /ogc/api")))]
async fn collection(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Error> {
    let c = Collection::parse(&id).ok_or_else(|| Error::NotFound(format!("collection {id:?}")))?;
    let base = match json_document(query, &headers, &state, &[JSON])? {
        Ok(base) => base,
        Err(refused) => return Ok(refused),
    };
    let mut body = collection_json(&state, &base, c).await?;
    if let Some(links) = body["links"].as_array_mut() {
        links[0] = link(
            format!("{base}/collections/{id}"),
            "self",
            JSON,
            "This document",
        );
    }
    Ok(json_response(&body, JSON))
}

/// The description of one collection, with its spatial extent: the bounding box of what
/// the unfiltered collection publishes (never of suppressed units).
async fn collection_json(state: &AppState, base: &str, c: Collection) -> Result<Value, Error> {
    let id = c.id();
    let extent = match c {
        Collection::Aggregate(unit) => {
            let engine = state.engine.clone();
            tokio::task::spawn_blocking(move || -> Result<Option<[f64; 4]>, Error> {
                let layer = engine.layer(unit, &Filter::default())?;
                let units = items::published_units(&layer, None);
                Ok(items::union_bbox(
                    units.iter().map(|&i| items::unit_bbox(&layer, i)),
                ))
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
        }
        Collection::Places => {
            let set = state.places.get();
            items::union_bbox(
                set.places()
                    .iter()
                    .map(|p| Some([p.lon, p.lat, p.lon, p.lat])),
            )
        }
    };
    // An empty collection still states the extent of the service's domain (the US).
    let bbox = extent.unwrap_or([-180.0, -14.6, 180.0, 71.5]);
    Ok(json!({
        "id": id,
        "title": c.title(),
        "description": c.description(state.engine.min_count()),
        "links": [
            link(format!("{base}/collections/{id}"), "self", JSON, "This collection"),
            link(format!("{base}/collections/{id}/items"), "items", GEOJSON, "The features (GeoJSON)"),
        ],
        "extent": { "spatial": { "bbox": [bbox], "crs": CRS84 } },
        "itemType": "feature",
        "crs": [CRS84],
    }))
}
