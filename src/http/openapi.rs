//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the API (`/api/v1`, `/tiles`,
//! `/health`), generated from the code: every operation from its handler's
//! `#[utoipa::path]`, its parameters from the typed query structs (`params.rs`), its
//! `security` and access errors from the router it is mounted on (`access.rs`). At run
//! time the code lists of the codebook become the filters' enums and patterns, and the
//! response bodies built as JSON get their schemas below. The OGC API keeps its own
//! document at `/ogc/api`; the web page is not an API.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{json, Map, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::aggregate::filter::Field;
use crate::aggregate::MetricGroup;
use crate::codes::{CodeList, Codebook};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(openapi))
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "service",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1", body = serde_json::Value, content_type = "application/vnd.oai.openapi+json;version=3.1")),
)]
pub(super) async fn openapi(_: super::query::Params<super::query::NoParams>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/vnd.oai.openapi+json;version=3.1",
        )],
        text(),
    )
}

/// The document as served, built once.
pub fn text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| document().to_string())
}

fn codes(list: CodeList) -> Vec<String> {
    Codebook::get()
        .codes(list)
        .iter()
        .map(|c| c.code.clone())
        .collect()
}

/// `^(a|b)(,(a|b))*$`: a comma-separated list of codes of `list`.
fn list_pattern(list: CodeList) -> String {
    let escape = |c: &String| -> String {
        c.chars()
            .flat_map(|ch| {
                let special = "\\.+*?()|[]{}^$".contains(ch);
                special.then_some('\\').into_iter().chain([ch])
            })
            .collect()
    };
    let alternatives = codes(list).iter().map(escape).collect::<Vec<_>>().join("|");
    format!("^({alternatives})(,({alternatives}))*$")
}

/// The schema and description a parameter gets from the codebook and the metric groups,
/// by name (`None`: as the code says).
fn enrich(name: &str, path: &str) -> Option<(Value, Option<String>)> {
    let places = path.starts_with("/api/v1/places")
        || (path.starts_with("/api/v1/outreach") && name == "kind")
        || (path.starts_with("/tiles") && name == "kind");
    if places {
        let list = match name {
            "kind" => CodeList::PlaceKind,
            "sector" => CodeList::Sector,
            "language" => CodeList::Language,
            _ => return None,
        };
        return Some((
            json!({"type": "string", "pattern": list_pattern(list)}),
            Some(format!(
                "Comma-separated {list} codes: {}",
                codes(list).join(", ")
            )),
        ));
    }
    if let Some((_, _, list)) = Field::CODED.iter().find(|(_, n, _)| *n == name) {
        return Some((
            json!({"type": "string", "pattern": list_pattern(*list)}),
            Some(format!(
                "Keep records with any of these {list} codes (comma-separated): {}",
                codes(*list).join(", ")
            )),
        ));
    }
    match name {
        "metrics" => {
            let groups: Vec<&str> = MetricGroup::ALL.iter().map(|g| g.prefix()).collect();
            let alt = groups.join("|");
            Some((
                json!({"type": "string", "pattern": format!("^(all|({alt})(,({alt}))*)$")}),
                None,
            ))
        }
        "skill" => {
            let mut skills: Vec<String> = codes(CodeList::Occupation)
                .iter()
                .map(|c| format!("occupation:{c}"))
                .collect();
            skills.extend(
                codes(CodeList::Sector)
                    .iter()
                    .map(|c| format!("sector:{c}")),
            );
            Some((json!({"type": "string", "enum": skills}), None))
        }
        "metric" => {
            let metrics: Vec<&str> = crate::aggregate::layer::CORE_PROPERTIES
                .iter()
                .copied()
                .filter(|p| !p.starts_with("dominant_"))
                .chain(["skill_count", "skill_share", "skill_lq"])
                .collect();
            Some((
                json!({"type": "string", "enum": metrics, "default": "count"}),
                None,
            ))
        }
        _ => None,
    }
}

/// A query parameter is absent or a string: drop the `null` utoipa gives `Option`s.
fn not_null(schema: &mut Value) {
    if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let t = types[0].clone();
            schema["type"] = t;
        }
    }
    if let Some(one_of) = schema.get_mut("oneOf").and_then(Value::as_array_mut) {
        one_of.retain(|s| s.get("type") != Some(&json!("null")));
        if one_of.len() == 1 {
            let only = one_of[0].clone();
            *schema = only;
        }
    }
}

/// The schemas of the response bodies the handlers build as JSON.
fn schemas() -> Value {
    let code_item = json!({"type": "object", "required": ["code", "en", "fr", "ht"], "properties": {
        "code": {"type": "string"}, "en": {"type": "string"}, "fr": {"type": "string"}, "ht": {"type": "string"}}});
    let code_lists: Map<String, Value> = CodeList::ALL
        .iter()
        .map(|l| {
            (
                l.name().to_string(),
                json!({"type": "array", "items": code_item}),
            )
        })
        .collect();
    let geometry = json!({"type": "object", "required": ["type", "coordinates"], "properties": {
        "type": {"type": "string", "enum": ["Point", "Polygon", "MultiPolygon"]}, "coordinates": {"type": "array"}}});
    json!({
        "Problem": {
            "description": "RFC 9457 problem details; every 4xx and 5xx is one.",
            "type": "object", "required": ["type", "title", "status", "detail"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
            "parameter": {"type": "string", "description": "The query parameter at fault"},
            "valid": {"type": "array", "items": {"type": "string"}, "description": "The valid codes"},
            "field": {"type": "string", "description": "The body field at fault"},
            "request_id": {"type": "string", "description": "On a 5xx: the id it was logged with"}}},
        "Health": {"type": "object", "required": ["status"], "properties": {
            "status": {"type": "string"}, "records": {"type": "integer"}, "data_version": {"type": "integer"}}},
        "Codes": {"type": "object", "properties": code_lists, "required": CodeList::ALL.iter().map(|l| l.name()).collect::<Vec<_>>()},
        "Feature": {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": ["string", "integer"]},
            "geometry": {"oneOf": [geometry, {"type": "null"}]},
            "properties": {"type": ["object", "null"]}}},
        "FeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/Feature"}}}},
        "PlaceProperties": serde_json::to_value(<crate::places::PlaceProperties as utoipa::PartialSchema>::schema()).unwrap_or_default(),
        "PlaceFeature": {"type": "object", "required": ["type", "id", "geometry", "properties"], "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": {"type": "object", "required": ["type", "coordinates"], "properties": {
                "type": {"type": "string", "enum": ["Point"]}, "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}},
            "properties": {"$ref": "#/components/schemas/PlaceProperties"}}},
        "PlaceCollection": {"type": "object", "required": ["type", "numberReturned", "units", "features"], "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "numberReturned": {"type": "integer", "minimum": 0},
            "units": {"type": "object"},
            "query": {"type": "object", "description": "Nearest and radius queries: the point, and k or the radius"},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/PlaceFeature"}}}},
        "Classification": {"type": "object", "required": ["metric", "method", "breaks", "colors", "suppressed_color"], "properties": {
            "metric": {"type": "string"}, "method": {"type": "string", "enum": ["quantile", "diverging", "fixed"]},
            "breaks": {"type": "array", "items": {"type": "number"}}, "colors": {"type": "array", "items": {"type": "string"}},
            "suppressed_color": {"type": "string"}}},
        "Layer": {"type": "object", "required": ["type", "features", "classification", "privacy", "totals", "data_version", "unit"], "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "unit": {"type": "string"},
            "data_version": {"type": "integer"},
            "numberReturned": {"type": "integer"},
            "privacy": {"type": "object", "required": ["min_count"], "properties": {"min_count": {"type": "integer"}, "note": {"type": "string"}}},
            "classification": {"$ref": "#/components/schemas/Classification"},
            "totals": {"type": "object"},
            "features": {"type": "array", "items": {"type": "object", "required": ["type", "id", "geometry", "properties"], "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"type": "string"},
                "geometry": {"type": "object", "required": ["type", "coordinates"], "properties": {"type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]}, "coordinates": {"type": "array"}}},
                "properties": {"type": "object", "required": ["id", "name", "count", "suppressed"], "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"},
                    "count": {"type": ["integer", "null"]},
                    "class": {"type": ["integer", "null"]},
                    "suppressed": {"type": "array", "items": {"type": "string"}}}},
            }}},
        }},
    })
}

/// Whether `path` is in the published document.
pub fn is_documented(path: &str) -> bool {
    path == "/health"
        || path == "/health/ready"
        || path == "/tiles"
        || path.starts_with("/tiles/")
        || path.starts_with("/api/v1/")
}

/// The published document: the API's part of the routers' description, completed.
pub fn document() -> Value {
    let mut doc = super::access::compose(None).api;
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        paths.retain(|p, _| is_documented(p));
        for (path, item) in paths.iter_mut() {
            let Some(ops) = item.as_object_mut() else {
                continue;
            };
            for op in ops.values_mut() {
                let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                    continue;
                };
                for p in params.iter_mut() {
                    if let Some(schema) = p.get_mut("schema") {
                        not_null(schema);
                    }
                    if p["in"] != "query" {
                        continue;
                    }
                    let name = p["name"].as_str().unwrap_or("").to_string();
                    if let Some((schema, description)) = enrich(&name, path) {
                        p["schema"] = schema;
                        if let Some(d) = description {
                            p["description"] = json!(d);
                        }
                    }
                }
            }
        }
    }
    doc["openapi"] = json!("3.1.0");
    doc["info"] = json!({
        "title": "dyaspora API",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Aggregates of the Haitian diaspora survey by H3 hexagon, US state and county, tiles, places and outreach, and the editors' and admins' endpoints. Every public figure obeys PRIVACY.md: perturbed, counts from 1 to k−1 (k = `privacy.min_count`, default 11) and values derivable from published ones are null and listed in `suppressed`. Coordinates are CRS84 longitude/latitude degrees; money is US dollars per year.\n\nAccess: each operation's `security` names the role it needs (`x-role`: public, editor or admin; a token of a higher role also passes). Errors are `application/problem+json`. A query parameter the operation does not list is refused (400, `parameter` names it); a repeated parameter takes its last value. Expensive operations (`x-meter`: heavy, upload) count against a per-client rate limit.",
        "license": {"name": "MIT", "identifier": "MIT"},
    });
    let components = doc
        .as_object_mut()
        .map(|o| o.entry("components").or_insert_with(|| json!({})));
    if let Some(Value::Object(c)) = components {
        c.insert(
            "securitySchemes".into(),
            json!({"bearer": {"type": "http", "scheme": "bearer", "description": "A token made by `dyaspora token create --role editor|admin` (`dya_<role>_…`)."}}),
        );
        let into = c.entry("schemas").or_insert_with(|| json!({}));
        if let (Some(into), Value::Object(from)) = (into.as_object_mut(), schemas()) {
            into.extend(from);
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_filter_parameter_is_documented() {
        let doc = super::document();
        let params = doc["paths"]["/api/v1/aggregates"]["get"]["parameters"]
            .as_array()
            .unwrap();
        for name in crate::aggregate::filter::Field::PARAMS {
            assert!(
                params.iter().any(|p| p["name"] == name),
                "{name} is missing from the OpenAPI document"
            );
        }
    }
}
