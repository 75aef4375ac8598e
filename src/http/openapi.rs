//! `GET /api/v1/openapi.json`: the OpenAPI 3.0 description of the public API, generated from
//! the same tables the handlers use (filter parameters, code lists, metric groups), so that
//! it cannot drift from what the server accepts.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use crate::aggregate::filter::Field;
use crate::aggregate::MetricGroup;
use crate::app::AppState;
use crate::codes::{CodeList, Codebook};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(openapi))
}

async fn openapi() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/vnd.oai.openapi+json;version=3.0",
        )],
        document().to_string(),
    )
}

fn codes(list: CodeList) -> Vec<String> {
    Codebook::get()
        .codes(list)
        .iter()
        .map(|c| c.code.clone())
        .collect()
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

/// Filter parameters: comma-separated codes of one list.
fn filter_parameters() -> Vec<Value> {
    let mut params: Vec<Value> = Field::CODED
        .iter()
        .map(|(_, name, list)| {
            let alternatives = codes(*list).join("|");
            query(
                name,
                &format!("Keep records with any of these {list} codes (comma-separated): {}", codes(*list).join(", ")),
                json!({"type": "string", "pattern": format!("^({alternatives})(,({alternatives}))*$")}),
            )
        })
        .collect();
    params.push(query(
        "round",
        "Survey rounds (comma-separated names).",
        json!({"type": "string", "minLength": 1}),
    ));
    let month = json!({"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?$"});
    params.push(query(
        "from",
        "First collection month, YYYY-MM (a date's month is used).",
        month.clone(),
    ));
    params.push(query("to", "Last collection month, YYYY-MM.", month));
    params
}

fn problem_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

fn document() -> Value {
    let groups: Vec<&str> = MetricGroup::ALL.iter().map(|g| g.prefix()).collect();
    let group_alt = groups.join("|");
    let mut skill_alt: Vec<String> = codes(CodeList::Occupation)
        .iter()
        .map(|c| format!("occupation:{c}"))
        .collect();
    skill_alt.extend(
        codes(CodeList::Sector)
            .iter()
            .map(|c| format!("sector:{c}")),
    );
    let mut aggregate_params = vec![
        query("unit", "Grouping: H3 hexagons, US states or counties.", json!({"type": "string", "enum": ["h3", "state", "county"], "default": "h3"})),
        query("res", "H3 resolution (unit=h3).", json!({"type": "integer", "minimum": 2, "maximum": 9, "default": 6})),
        query("bbox", "minLon,minLat,maxLon,maxLat in degrees (CRS84): keep units whose extent meets the box.", json!({"type": "string", "pattern": "^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$"})),
        query("metric", "Property classified for the legend (breaks and colours).", json!({"type": "string", "default": "count", "enum": crate::aggregate::layer::CORE_PROPERTIES.iter().filter(|p| !p.starts_with("dominant_")).chain(["skill_count", "skill_share", "skill_lq"].iter()).collect::<Vec<_>>()})),
        query("metrics", "Extra per-code counts: `all` or a comma-separated list of groups.", json!({"type": "string", "pattern": format!("^(all|({group_alt})(,({group_alt}))*)$")})),
        query("skill", "A skill for skill_count, skill_share and skill_lq (location quotient against the national share).", json!({"type": "string", "enum": skill_alt})),
        query("format", "Response format.", json!({"type": "string", "enum": ["geojson", "json", "csv"], "default": "geojson"})),
        query("download", "Set Content-Disposition: attachment.", json!({"type": "string", "enum": ["0", "1", "true", "false", "yes", "no"]})),
    ];
    aggregate_params.extend(filter_parameters());
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
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "dyaspora API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Aggregates of the Haitian diaspora survey by H3 hexagon, US state and county. Every figure obeys the disclosure rules of PRIVACY.md: counts from 1 to k−1 (k = `privacy.min_count`, default 11) and values derivable from published ones are null and listed in `suppressed`. Coordinates are CRS84 longitude/latitude degrees; money is US dollars per year.",
        },
        "paths": {
            "/health": {"get": {"summary": "Liveness (answered without the database); with an editor or admin token, also the record count and data version", "responses": {
                "200": {"description": "OK; `records` and `data_version` only for a caller with a token", "content": {"application/json": {"schema": {"type": "object", "required": ["status"], "properties": {
                    "status": {"type": "string"}, "records": {"type": "integer"}, "data_version": {"type": "integer"}}}}}},
                "500": problem_response("Internal error"),
            }}},
            "/health/ready": {"get": {"summary": "Readiness: whether the data are loaded and every route answers", "responses": {
                "200": {"description": "Ready", "content": {"application/json": {"schema": {"type": "object", "required": ["status"], "properties": {
                    "status": {"type": "string"}, "release": {"type": "integer"}}}}}},
                "503": problem_response("Still loading the data"),
            }}},
            "/api/v1/codes": {"get": {"summary": "Every coded list with labels in English, French and Haitian Creole", "responses": {
                "200": {"description": "The code lists", "content": {"application/json": {"schema": {"type": "object", "properties": code_lists, "required": CodeList::ALL.iter().map(|l| l.name()).collect::<Vec<_>>()}}}},
            }}},
            "/api/v1/aggregates": {"get": {
                "summary": "An aggregate layer as GeoJSON or CSV (with an HXL hashtag row)",
                "parameters": aggregate_params,
                "responses": {
                    "200": {"description": "The layer", "headers": {"ETag": {"schema": {"type": "string"}}}, "content": {
                        "application/geo+json": {"schema": {"$ref": "#/components/schemas/Layer"}},
                        "text/csv": {"schema": {"type": "string"}},
                    }},
                    "304": {"description": "Not modified (If-None-Match matched the ETag)"},
                    "400": problem_response("A parameter is unknown or invalid; `parameter` names it and `valid` lists valid codes"),
                    "500": problem_response("Internal error"),
                },
            }},
        },
        "components": {"schemas": {
            "Problem": {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                "parameter": {"type": "string"}, "valid": {"type": "array", "items": {"type": "string"}}}},
            "Classification": {"type": "object", "required": ["metric", "method", "breaks", "colors", "suppressed_color"], "properties": {
                "metric": {"type": "string"}, "method": {"type": "string", "enum": ["quantile", "fixed"]},
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
                        "count": {"type": "integer", "nullable": true},
                        "class": {"type": "integer", "nullable": true},
                        "suppressed": {"type": "array", "items": {"type": "string"}}}},
                }}},
            }},
        }},
    })
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
