//! The OpenAPI document is generated from the routers (`src/http/access.rs`,
//! `src/http/openapi.rs`): it lists exactly the API routes the service answers, with the role
//! each needs, and the typed queries refuse what it does not list.

use std::collections::BTreeSet;

use dyaspora::auth::{token, Role};
use dyaspora::store::SqliteStore;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{assert_problem, TestApp};
use crate::roles::concrete;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// `(METHOD, path)` of every operation of the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_lists_exactly_the_api_routes_the_router_answers() {
    let app = TestApp::spawn_with(300, |a| a.rate_limit = 0).await;
    let store = SqliteStore::open(&app.db_path()).unwrap();
    let (_, admin) = token::issue(&store, Role::Admin, "openapi admin", "test").unwrap();
    let (status, doc) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let documented = operations(&doc);

    // Every route of the router under /api/v1, /tiles and /health has an operation, with
    // the role of the router it is mounted on; nothing else is documented.
    let table = dyaspora::routes::table();
    let mut api_routes = BTreeSet::new();
    for (method, path, role, _) in table.routes() {
        let is_api = dyaspora::routes::is_documented(path);
        let page_or_ogc = path.starts_with("/ogc")
            || ["/", "/index.html", "/favicon.svg", "/assets/{*path}"].contains(&path);
        assert!(
            is_api != page_or_ogc,
            "{method} {path}: neither API, page nor OGC"
        );
        if !is_api {
            continue;
        }
        api_routes.insert((method.to_string(), path.to_string()));
        let op = &doc["paths"][path][method.as_str().to_lowercase()];
        assert_eq!(op["x-role"], role.as_str(), "{method} {path}");
        let security = op["security"].to_string();
        match role {
            Role::Public => assert_eq!(security, r#"[{},{"bearer":[]}]"#, "{method} {path}"),
            _ => assert_eq!(
                security,
                format!(r#"[{{"bearer":["{role}"]}}]"#),
                "{method} {path}"
            ),
        }
        for status in ["400", "401", "500"] {
            assert_eq!(
                op["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path} {status}"
            );
        }
    }
    assert_eq!(documented, api_routes);
    // The CSVW metadata of a CSV (#20): its media type and the aggregates' parameters.
    let meta = &doc["paths"]["/api/v1/aggregates/csv-metadata.json"]["get"];
    assert!(
        meta["responses"]["200"]["content"]["application/csvm+json"].is_object(),
        "{meta}"
    );
    let names: Vec<&str> = meta["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        names.contains(&"hxl") && names.contains(&"gender"),
        "{names:?}"
    );
    assert!(documented.len() >= 27, "{}", documented.len());

    // Each documented operation is routed: with an admin token, never the router's own 404
    // or a 405. (Ids that exist nowhere: a handler's 404 is fine, and nothing is changed.)
    for (method, path) in &documented {
        let url = format!("{}{}", app.base, concrete(path));
        let mut req = app
            .client
            .request(Method::from_bytes(method.as_bytes()).unwrap(), url)
            .bearer_auth(&admin);
        if method == "POST" || method == "PUT" {
            req = req.body("{}");
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        if status == StatusCode::NOT_FOUND {
            let body: Value = r.json().await.unwrap();
            assert_ne!(body["detail"], "no such endpoint", "{method} {path}");
        }
    }
}

#[tokio::test]
async fn an_unknown_or_malformed_parameter_is_a_400_naming_it() {
    let app = TestApp::spawn_with(300, |a| a.rate_limit = 0).await;
    let store = SqliteStore::open(&app.db_path()).unwrap();
    let (_, admin) = token::issue(&store, Role::Admin, "params admin", "test").unwrap();
    let (_, editor) = token::issue(&store, Role::Editor, "params editor", "test").unwrap();
    let cases: [(&str, &str, Option<&str>, &str); 14] = [
        (
            "GET",
            "/api/v1/aggregates?unit=state&colour=red",
            None,
            "colour",
        ),
        ("GET", "/api/v1/aggregates?res=x", None, "res"),
        ("GET", "/api/v1/aggregates?gender=q", None, "gender"),
        ("GET", "/api/v1/outreach/gaps?zoom=3", None, "zoom"),
        (
            "GET",
            "/api/v1/outreach/posts?saturation_km=-1",
            None,
            "saturation_km",
        ),
        ("GET", "/api/v1/places?near=1", None, "near"),
        (
            "GET",
            "/api/v1/places/nearest?lon=1&lat=2&radius_km=3",
            None,
            "radius_km",
        ),
        (
            "GET",
            "/api/v1/places/within?lon=1&lat=2",
            None,
            "radius_km",
        ),
        (
            "GET",
            "/api/v1/admin/aggregates?secret=1",
            Some(&admin),
            "secret",
        ),
        ("GET", "/api/v1/audit?limit=1&page=2", Some(&admin), "page"),
        ("GET", "/api/v1/audit?limit=0", Some(&admin), "limit"),
        ("GET", "/api/v1/records?format=xlsx", Some(&admin), "format"),
        ("GET", "/api/v1/tokens?all=1", Some(&admin), "all"),
        ("POST", "/api/v1/imports?dryrun=1", Some(&editor), "dryrun"),
    ];
    for (method, url, token, parameter) in cases {
        let mut req = app.client.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{url}", app.base),
        );
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.body("").send().await.unwrap();
        let body = assert_problem(r, 400).await;
        assert_eq!(body["parameter"], parameter, "{url}: {body}");
    }
    // A repeated parameter: the last one wins, as it always has.
    let (status, layer) = app
        .get_json("/api/v1/aggregates?unit=county&unit=state")
        .await;
    assert_eq!(status, 200);
    assert_eq!(layer["unit"], "state");
}
