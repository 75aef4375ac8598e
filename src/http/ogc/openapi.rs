//! The OpenAPI 3.0 definition of the OGC endpoints (`/ogc/api`, the landing page's
//! `service-desc`) and its HTML rendering (`/ogc/api.html`, `service-doc`, no scripts).
//!
//! Both are built from the same tables the handlers use ([`Collection::all`],
//! [`items::accepted_params`], the codebook), so a parameter cannot be accepted without
//! being documented, nor documented without being accepted (a test checks it).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::items::accepted_params;
use super::{
    base_url, json_document, json_response, only_params, query_pairs, Collection, CRS84,
    DEFAULT_LIMIT, MAX_LIMIT,
};
use super::{GEOJSON, JSON, OPENAPI};
use crate::aggregate::filter::Field;
use crate::aggregate::group::{MAX_RES, MIN_RES};
use crate::aggregate::layer::CORE_PROPERTIES;
use crate::aggregate::MetricGroup;
use crate::codes::{CodeList, Codebook};
use crate::error::Error;
use crate::http::AppState;

#[utoipa::path(get, path = "/ogc/api", tag = "ogc", responses((status = 200, description = "See /ogc/api")))]
pub async fn document(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Error> {
    let base = match json_document(query, &headers, &state, &[OPENAPI, JSON])? {
        Ok(base) => base,
        Err(refused) => return Ok(refused),
    };
    Ok(json_response(
        &spec(&base, state.engine.min_count()),
        OPENAPI,
    ))
}

#[utoipa::path(get, path = "/ogc/api.html", tag = "ogc", responses((status = 200, description = "See /ogc/api")))]
pub async fn service_doc(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Error> {
    let pairs = query_pairs(query)?;
    only_params(&pairs, &[])?;
    let base = base_url(&headers, &state);
    let html = render_html(&spec(&base, state.engine.min_count()));
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(super::HTML))],
        html,
    )
        .into_response())
}

/// The OpenAPI 3.0 document; `base` is the absolute URL of `/ogc`.
pub fn spec(base: &str, k: u32) -> Value {
    let mut paths = Map::new();
    let json_only =
        |summary: &str, id: &str, description: &str, schema: &str, params: Vec<Value>| {
            json!({ "get": {
                "summary": summary,
                "operationId": id,
                "description": description,
                "parameters": params,
                "responses": responses(JSON, schema, false),
            }})
        };
    paths.insert(
        "/".into(),
        json_only(
            "Landing page",
            "getLandingPage",
            "Links to the API definition (service-desc, service-doc), the conformance classes and the collections.",
            "landingPage",
            vec![format_param(&["json"])],
        ),
    );
    paths.insert(
        "/conformance".into(),
        json_only(
            "Conformance classes",
            "getConformanceDeclaration",
            "OGC API – Features Part 1: Core, GeoJSON and OpenAPI 3.0.",
            "confClasses",
            vec![format_param(&["json"])],
        ),
    );
    paths.insert(
        "/api".into(),
        json!({ "get": {
            "summary": "This API definition",
            "operationId": "getAPIDefinition",
            "parameters": [format_param(&["json"])],
            "responses": {
                "200": { "description": "The OpenAPI 3.0 definition.", "content": { OPENAPI: { "schema": { "type": "object" } } } },
                "400": problem_response("A parameter is unknown or invalid."),
                "406": problem_response("The Accept header admits no JSON representation."),
            },
        }}),
    );
    paths.insert(
        "/api.html".into(),
        json!({ "get": {
            "summary": "API documentation (HTML)",
            "operationId": "getAPIDocumentation",
            "parameters": [],
            "responses": {
                "200": { "description": "This definition as an HTML page.", "content": { "text/html": { "schema": { "type": "string" } } } },
                "400": problem_response("A parameter was given (none is accepted)."),
            },
        }}),
    );
    paths.insert(
        "/collections".into(),
        json_only(
            "The feature collections",
            "getCollections",
            "Every collection with its spatial extent (CRS84).",
            "collections",
            vec![format_param(&["json"])],
        ),
    );
    for c in Collection::all() {
        let id = c.id();
        let op = id.replace('-', "_");
        paths.insert(
            format!("/collections/{id}"),
            json!({ "get": {
                "summary": c.title(),
                "operationId": format!("describeCollection_{op}"),
                "description": c.description(k),
                "parameters": [format_param(&["json"])],
                "responses": responses(JSON, "collection", false),
            }}),
        );
        let feature_schema = match c {
            Collection::Aggregate(_) => "aggregateFeature",
            Collection::Places => "placeFeature",
        };
        paths.insert(
            format!("/collections/{id}/items"),
            json!({ "get": {
                "summary": format!("{} (features)", c.title()),
                "operationId": format!("getFeatures_{op}"),
                "description": format!(
                    "{} Paged in ascending id: limit (default {DEFAULT_LIMIT}, maximum {MAX_LIMIT}; larger values are \
                     capped, not refused) and offset. numberMatched is exact; follow the next links to the end to get \
                     every matched feature once.",
                    c.description(k)
                ),
                "parameters": accepted_params(c, false).into_iter().map(|p| parameter(c, p)).collect::<Vec<_>>(),
                "responses": items_responses(feature_schema),
            }}),
        );
        let mut params = vec![json!({
            "name": "featureId", "in": "path", "required": true,
            "description": "The feature id (H3 index in hex, FIPS code or place id).",
            "schema": { "type": "string" },
        })];
        params.extend(
            accepted_params(c, true)
                .into_iter()
                .map(|p| parameter(c, p)),
        );
        paths.insert(
            format!("/collections/{id}/items/{{featureId}}"),
            json!({ "get": {
                "summary": format!("One feature of {id}"),
                "operationId": format!("getFeature_{op}"),
                "description": "404 when there is no such feature, or when the hexagon or county is not published (its count is suppressed).",
                "parameters": params,
                "responses": responses(GEOJSON, feature_schema, true),
            }}),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "dyaspora – OGC API Features",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "Privacy-checked aggregates of the Haitian diaspora in the US (states, counties, H3 resolutions \
                 {MIN_RES}–{MAX_RES}) and places (consular posts, associations), as OGC API – Features Part 1. \
                 Coordinates are CRS84 (longitude, latitude in WGS84 degrees). Counts from 1 to {} are never \
                 published. Items: limit defaults to {DEFAULT_LIMIT} and is capped at {MAX_LIMIT}. Errors are RFC 9457 \
                 problem details (application/problem+json); an unknown query parameter is an error (400).",
                k.saturating_sub(1)
            ),
            "license": { "name": "MIT" },
        },
        "servers": [{ "url": base, "description": "This service" }],
        "paths": paths,
        "components": { "schemas": schemas() },
    })
}

/// 200 with `schema`, plus the problems every endpoint may answer.
fn responses(media: &str, schema: &str, not_found: bool) -> Value {
    let mut r = json!({
        "200": { "description": "Success.", "content": { media: { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } },
        "400": problem_response("A parameter is unknown or invalid."),
        "406": problem_response("The Accept header admits no JSON representation."),
        "500": problem_response("Internal error (logged, details not sent)."),
    });
    if not_found {
        r["404"] =
            problem_response("No such collection or feature (suppressed units are not features).");
    }
    r
}

fn items_responses(feature_schema: &str) -> Value {
    let mut r = responses(GEOJSON, "featureCollection", true);
    r["200"]["content"][GEOJSON]["schema"] = json!({
        "allOf": [
            { "$ref": "#/components/schemas/featureCollection" },
            { "type": "object", "properties": { "features": { "type": "array", "items": { "$ref": format!("#/components/schemas/{feature_schema}") } } } },
        ]
    });
    r["404"] = problem_response("No such collection.");
    r
}

fn problem_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/problem" } } } })
}

fn format_param(values: &[&str]) -> Value {
    json!({
        "name": "f", "in": "query", "required": false,
        "description": "The representation (JSON is the only one; the Accept header works too).",
        "schema": { "type": "string", "enum": values, "default": "json" },
        "example": "json",
    })
}

/// A comma-separated list of codes from `list`.
fn code_list_param(name: &str, list: CodeList, description: &str) -> Value {
    let codes: Vec<String> = Codebook::get()
        .codes(list)
        .iter()
        .map(|c| c.code.clone())
        .collect();
    json!({
        "name": name, "in": "query", "required": false, "style": "form", "explode": false,
        "description": format!("{description} Comma-separated codes of the `{}` list; any of them matches.", list.name()),
        "schema": { "type": "array", "items": { "type": "string", "enum": codes }, "minItems": 1 },
        "example": [codes[0].clone()],
    })
}

/// The definition of query parameter `name` of `collection`'s items.
fn parameter(collection: Collection, name: &str) -> Value {
    let places = collection == Collection::Places;
    match name {
        "f" => format_param(&["json", "geojson"]),
        "limit" => json!({
            "name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
            "description": format!("Features per page: default {DEFAULT_LIMIT}, maximum {MAX_LIMIT}; a larger value is capped to {MAX_LIMIT} (not an error)."),
            "schema": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT },
            "example": 50,
        }),
        "offset" => json!({
            "name": "offset", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "Features skipped before the page (in ascending id). Past the end, the page is empty.",
            "schema": { "type": "integer", "minimum": 0, "default": 0 },
            "example": 0,
        }),
        "bbox" => json!({
            "name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "Only features whose geometry intersects this box: minLon,minLat,maxLon,maxLat in CRS84 degrees \
                            (4 numbers; boxes crossing the antimeridian are not supported).",
            "schema": { "type": "array", "minItems": 4, "maxItems": 4, "items": { "type": "number" } },
            "example": [-80.5, 25.5, -80.0, 26.0],
        }),
        "datetime" if places => json!({
            "name": "datetime", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "Accepted and validated (RFC 3339 date, date-time or interval), but places have no time: it filters nothing.",
            "schema": { "type": "string" },
            "example": "2024-01-01/..",
        }),
        "datetime" => json!({
            "name": "datetime", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "Aggregate only the records collected in the months this RFC 3339 date, date-time or interval \
                            (start/end, `..` or empty for an open end) touches. Not combinable with from/to.",
            "schema": { "type": "string" },
            "example": "2024-01-01/..",
        }),
        "metrics" => json!({
            "name": "metrics", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "Extra per-code count properties: `all` or a comma-separated list of groups.",
            "schema": { "type": "array", "items": { "type": "string", "enum": metric_names() } },
            "example": ["sector"],
        }),
        "skill" => json!({
            "name": "skill", "in": "query", "required": false,
            "description": "Adds skill_count, skill_share and skill_lq (location quotient) for one occupation or sector code.",
            "schema": { "type": "string", "pattern": "^(occupation|sector):[A-Za-z0-9]+$" },
            "example": "sector:Q",
        }),
        "round" => json!({
            "name": "round", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "Only records of these survey rounds (comma-separated names; an unknown round is a 400 naming the valid ones).",
            "schema": { "type": "array", "items": { "type": "string" }, "minItems": 1 },
            "example": ["2025-R1"],
        }),
        "from" | "to" => json!({
            "name": name, "in": "query", "required": false,
            "description": format!("Only records collected {} this month (YYYY-MM, or a date YYYY-MM-DD meaning its month).", if name == "from" { "in or after" } else { "in or before" }),
            "schema": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}(-[0-9]{2})?$" },
            "example": "2024-01",
        }),
        "kind" => code_list_param("kind", CodeList::PlaceKind, "Only places of these kinds."),
        "language" => code_list_param(
            "language",
            CodeList::Language,
            "Only places working in these languages.",
        ),
        "state" => json!({
            "name": "state", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "Only places in these states (USPS codes).",
            "schema": { "type": "array", "items": { "type": "string", "pattern": "^[A-Za-z]{2}$" }, "minItems": 1 },
            "example": ["FL"],
        }),
        "sector" if places => code_list_param(
            "sector",
            CodeList::Sector,
            "Only places focused on these ISIC sections.",
        ),
        other => match Field::CODED.iter().find(|(_, n, _)| *n == other) {
            Some((_, _, list)) => code_list_param(other, *list, "Only records with these codes."),
            None => unreachable!("parameter {other} of {collection:?} is not documented"),
        },
    }
}

fn metric_names() -> Vec<&'static str> {
    std::iter::once("all")
        .chain(MetricGroup::ALL.iter().map(|g| g.prefix()))
        .collect()
}

fn schemas() -> Value {
    // A place's properties, from the type every route publishes them with (OGC items have
    // no query point, hence no distance).
    let mut place_properties =
        serde_json::to_value(<crate::places::PlaceProperties as utoipa::PartialSchema>::schema())
            .unwrap_or_default();
    if let Some(p) = place_properties
        .get_mut("properties")
        .and_then(Value::as_object_mut)
    {
        p.remove("distance_km");
    }
    let link = json!({ "$ref": "#/components/schemas/link" });
    let links = json!({ "type": "array", "items": link });
    let nullable_number = json!({ "type": "number", "nullable": true });
    let mut aggregate_props = Map::new();
    aggregate_props.insert(
        "id".into(),
        json!({ "type": "string", "description": "H3 index (hex) or FIPS code." }),
    );
    aggregate_props.insert("name".into(), json!({ "type": "string" }));
    for p in CORE_PROPERTIES {
        let schema = if p.starts_with("dominant_") {
            json!({ "type": "string", "nullable": true })
        } else {
            nullable_number.clone()
        };
        aggregate_props.insert((*p).into(), schema);
    }
    aggregate_props.insert(
        "suppressed".into(),
        json!({ "type": "array", "items": { "type": "string" }, "description": "Properties withheld (null) by the disclosure rules." }),
    );
    json!({
        "link": {
            "type": "object", "required": ["href", "rel"],
            "properties": {
                "href": { "type": "string" }, "rel": { "type": "string" },
                "type": { "type": "string" }, "title": { "type": "string" },
            },
        },
        "landingPage": {
            "type": "object", "required": ["links"],
            "properties": {
                "title": { "type": "string" }, "description": { "type": "string" },
                "limits": { "type": "object", "properties": {
                    "defaultLimit": { "type": "integer", "example": DEFAULT_LIMIT },
                    "maximumLimit": { "type": "integer", "example": MAX_LIMIT },
                } },
                "links": links,
            },
        },
        "confClasses": {
            "type": "object", "required": ["conformsTo"],
            "properties": { "conformsTo": { "type": "array", "items": { "type": "string" } }, "links": links },
        },
        "extent": {
            "type": "object",
            "properties": { "spatial": { "type": "object", "properties": {
                "bbox": { "type": "array", "minItems": 1, "items": { "type": "array", "minItems": 4, "maxItems": 4, "items": { "type": "number" } } },
                "crs": { "type": "string", "enum": [CRS84] },
            } } },
        },
        "collection": {
            "type": "object", "required": ["id", "links"],
            "properties": {
                "id": { "type": "string", "enum": Collection::all().into_iter().map(Collection::id).collect::<Vec<_>>() },
                "title": { "type": "string" }, "description": { "type": "string" },
                "links": links,
                "extent": { "$ref": "#/components/schemas/extent" },
                "itemType": { "type": "string", "enum": ["feature"] },
                "crs": { "type": "array", "items": { "type": "string" } },
            },
        },
        "collections": {
            "type": "object", "required": ["links", "collections"],
            "properties": { "links": links, "collections": { "type": "array", "items": { "$ref": "#/components/schemas/collection" } } },
        },
        "geometry": {
            "type": "object", "required": ["type", "coordinates"],
            "properties": { "type": { "type": "string", "enum": ["Point", "Polygon", "MultiPolygon"] }, "coordinates": { "type": "array", "items": {} } },
        },
        "aggregateFeature": {
            "type": "object", "required": ["type", "id", "geometry", "properties"],
            "properties": {
                "type": { "type": "string", "enum": ["Feature"] },
                "id": { "type": "string" },
                "geometry": { "$ref": "#/components/schemas/geometry" },
                "properties": { "type": "object", "properties": aggregate_props, "additionalProperties": true,
                    "description": "With metrics=…: one count per code, e.g. sector_Q; with skill=…: skill_count, skill_share, skill_lq." },
                "links": links,
            },
        },
        "placeFeature": {
            "type": "object", "required": ["type", "id", "geometry", "properties"],
            "properties": {
                "type": { "type": "string", "enum": ["Feature"] },
                "id": { "type": "string" },
                "geometry": { "$ref": "#/components/schemas/geometry" },
                "properties": place_properties,
                "links": links,
            },
        },
        "featureCollection": {
            "type": "object", "required": ["type", "features", "numberMatched", "numberReturned", "timeStamp", "links"],
            "properties": {
                "type": { "type": "string", "enum": ["FeatureCollection"] },
                "features": { "type": "array", "items": { "type": "object" } },
                "links": links,
                "numberMatched": { "type": "integer", "minimum": 0, "description": "Exact number of features matching the query." },
                "numberReturned": { "type": "integer", "minimum": 0 },
                "timeStamp": { "type": "string", "format": "date-time" },
            },
        },
        "problem": {
            "type": "object", "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
                "detail": { "type": "string" }, "parameter": { "type": "string" },
                "valid": { "type": "array", "items": { "type": "string" } },
            },
        },
    })
}

/// The service-doc page: every path with its parameters, from the definition itself.
fn render_html(spec: &Value) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let server = spec["servers"][0]["url"].as_str().unwrap_or("");
    let mut out = String::new();
    out.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    out.push_str(&esc(spec["info"]["title"].as_str().unwrap_or("")));
    out.push_str("</title><style>body{font:15px/1.45 system-ui,sans-serif;max-width:70em;margin:1em auto;padding:0 1em}\
                  code{background:#f3f3f3;padding:0 .2em}table{border-collapse:collapse;margin:.5em 0 1.5em}\
                  td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}</style></head><body>");
    out.push_str(&format!(
        "<h1>{}</h1>",
        esc(spec["info"]["title"].as_str().unwrap_or(""))
    ));
    out.push_str(&format!(
        "<p>{}</p>",
        esc(spec["info"]["description"].as_str().unwrap_or(""))
    ));
    out.push_str(&format!(
        "<p>Machine-readable definition: <a href=\"{0}/api\"><code>{0}/api</code></a> (OpenAPI 3.0). \
         With GDAL: <code>ogrinfo OAPIF:{0}</code>, <code>ogr2ogr -f GPKG out.gpkg OAPIF:{0} counties -oo PAGE_SIZE=10000</code> \
         (GDAL pages by 10 by default: a larger page needs far fewer requests); in QGIS: Layer → Add WFS / OGC API – \
         Features layer, URL <code>{0}</code>.</p>",
        esc(server)
    ));
    if let Some(paths) = spec["paths"].as_object() {
        for (path, item) in paths {
            let op = &item["get"];
            out.push_str(&format!(
                "<h2 id=\"{}\"><code>GET {}</code></h2><p>{}</p>",
                esc(op["operationId"].as_str().unwrap_or("")),
                esc(path),
                esc(op["summary"].as_str().unwrap_or(""))
            ));
            if let Some(d) = op["description"].as_str() {
                out.push_str(&format!("<p>{}</p>", esc(d)));
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            if !params.is_empty() {
                out.push_str("<table><tr><th>parameter</th><th>in</th><th>schema</th><th>description</th></tr>");
                for p in params {
                    out.push_str(&format!(
                        "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                        esc(p["name"].as_str().unwrap_or("")),
                        esc(p["in"].as_str().unwrap_or("")),
                        esc(&p["schema"].to_string()),
                        esc(p["description"].as_str().unwrap_or(""))
                    ));
                }
                out.push_str("</table>");
            }
            let codes: Vec<&String> = op["responses"]
                .as_object()
                .map(|r| r.keys().collect())
                .unwrap_or_default();
            out.push_str(&format!(
                "<p>Responses: {}</p>",
                codes.iter().map(|c| esc(c)).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_parameter_is_documented_once_per_path() {
        let spec = spec("http://x/ogc", 11);
        for c in Collection::all() {
            for (path, single) in [
                (format!("/collections/{}/items", c.id()), false),
                (format!("/collections/{}/items/{{featureId}}", c.id()), true),
            ] {
                let params = spec["paths"][&path]["get"]["parameters"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{path} documented"));
                let names: Vec<&str> = params
                    .iter()
                    .filter(|p| p["in"] == "query")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                let mut accepted = accepted_params(c, single);
                let mut sorted = names.clone();
                accepted.sort_unstable();
                sorted.sort_unstable();
                sorted.dedup();
                assert_eq!(
                    sorted.len(),
                    names.len(),
                    "{path}: a parameter documented twice"
                );
                assert_eq!(sorted, accepted, "{path}");
            }
        }
    }

    #[test]
    fn the_limit_is_documented_with_its_default_and_maximum() {
        let spec = spec("http://x/ogc", 11);
        let params = spec["paths"]["/collections/states/items"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
        assert_eq!(limit["schema"]["default"], DEFAULT_LIMIT);
        assert_eq!(limit["schema"]["maximum"], MAX_LIMIT);
        assert_eq!(spec["openapi"], "3.0.3");
        assert_eq!(spec["servers"][0]["url"], "http://x/ogc");
    }

    #[test]
    fn the_html_page_has_no_scripts_and_lists_every_path() {
        let spec = spec("http://x/ogc", 11);
        let html = render_html(&spec);
        assert!(!html.to_lowercase().contains("<script"));
        for path in spec["paths"].as_object().unwrap().keys() {
            assert!(
                html.contains(&format!("GET {}", path.replace('&', "&amp;"))),
                "{path}"
            );
        }
    }
}
