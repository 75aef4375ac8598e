//! The route × role matrix, held to PRIVACY.md ("Who sees what", the route-by-route table).
//!
//! `EXPECTED` is copied **by hand** from that table, not from the code: the routers decide who
//! may call a route (`src/http/access.rs`), and this file checks them against the written
//! promise. Opening a route (say, the record export) to more callers than PRIVACY.md allows,
//! or adding a route PRIVACY.md does not list, fails here.

use std::collections::BTreeSet;

use dyaspora::auth::{token, Role};
use dyaspora::store::{SqliteStore, Store};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::TestApp;

/// Who may call a route, the least role first: PRIVACY.md, "Who sees what".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Least {
    Public,
    Editor,
    Admin,
}
use Least::{Admin, Editor, Public};

/// PRIVACY.md's table, route by route (axum path patterns; `{file}` is `{layer}.json` or
/// `{y}.{format}` in PRIVACY.md's spelling).
const EXPECTED: &[(&str, &str, Least)] = &[
    ("GET", "/health", Public),
    ("GET", "/health/ready", Public),
    ("GET", "/api/v1/codes", Public),
    ("GET", "/api/v1/openapi.json", Public),
    ("GET", "/api/v1/methodology", Public),
    ("GET", "/api/v1/aggregates", Public),
    ("GET", "/api/v1/aggregates/csv-metadata.json", Public),
    ("GET", "/tiles", Public),
    ("GET", "/tiles/{file}", Public),
    ("GET", "/tiles/{layer}/legend.json", Public),
    ("GET", "/tiles/{layer}/{z}/{x}/{file}", Public),
    ("GET", "/api/v1/places", Public),
    ("GET", "/api/v1/places/nearest", Public),
    ("GET", "/api/v1/places/within", Public),
    ("GET", "/api/v1/places/{id}", Public),
    ("GET", "/api/v1/outreach/posts", Public),
    ("GET", "/api/v1/outreach/catchments", Public),
    ("GET", "/api/v1/outreach/gaps", Public),
    ("GET", "/api/v1/outreach/plan/{post}", Public),
    ("GET", "/ogc", Public),
    ("GET", "/ogc/", Public),
    ("GET", "/ogc/conformance", Public),
    ("GET", "/ogc/api", Public),
    ("GET", "/ogc/api.html", Public),
    ("GET", "/ogc/collections", Public),
    ("GET", "/ogc/collections/{collection}", Public),
    ("GET", "/ogc/collections/{collection}/items", Public),
    (
        "GET",
        "/ogc/collections/{collection}/items/{feature}",
        Public,
    ),
    ("GET", "/", Public),
    ("GET", "/index.html", Public),
    ("GET", "/favicon.svg", Public),
    ("GET", "/assets/{*path}", Public),
    ("POST", "/api/v1/places", Editor),
    ("PUT", "/api/v1/places/{id}", Editor),
    ("DELETE", "/api/v1/places/{id}", Editor),
    ("POST", "/api/v1/imports", Editor),
    ("GET", "/api/v1/records", Admin),
    ("DELETE", "/api/v1/records/{external_id}", Admin),
    ("GET", "/api/v1/audit", Admin),
    ("GET", "/api/v1/tokens", Admin),
    ("DELETE", "/api/v1/tokens/{id}", Admin),
    ("GET", "/api/v1/admin/aggregates", Admin),
];

/// A concrete path for a route pattern: ids that exist nowhere, so that no call changes data.
pub fn concrete(pattern: &str) -> String {
    let p = pattern
        .replace("/tiles/{file}", "/tiles/hexagons.json")
        .replace("{layer}/{z}/{x}/{file}", "hexagons/4/4/6.mvt")
        .replace("{layer}", "hexagons")
        .replace("{collection}", "states")
        .replace("{feature}", "no-such-feature")
        .replace("{id}", "999999")
        .replace("{post}", "no-such-post")
        .replace("{external_id}", "no-such-record")
        .replace("{*path}", "no-such-file.js");
    assert!(!p.contains('{'), "add a value for {p} in concrete()");
    p
}

#[test]
fn the_routers_declare_exactly_the_routes_and_roles_privacy_md_lists() {
    let least = |role: Role| match role {
        Role::Public => Public,
        Role::Editor => Editor,
        Role::Admin => Admin,
    };
    let code: BTreeSet<(String, String, Least)> = dyaspora::routes::table()
        .routes()
        .map(|(m, p, role, _)| (m.to_string(), p.to_string(), least(role)))
        .collect();
    let promised: BTreeSet<(String, String, Least)> = EXPECTED
        .iter()
        .map(|(m, p, l)| (m.to_string(), p.to_string(), *l))
        .collect();
    assert_eq!(EXPECTED.len(), promised.len(), "a route is listed twice");
    let unlisted: Vec<_> = code.difference(&promised).collect();
    let missing: Vec<_> = promised.difference(&code).collect();
    assert!(
        unlisted.is_empty(),
        "routes (or roles) PRIVACY.md does not list (add them there, then here): {unlisted:?}"
    );
    assert!(
        missing.is_empty(),
        "routes PRIVACY.md lists that the routers lack: {missing:?}"
    );
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_privacy_md_says() {
    let app = TestApp::spawn_with(300, |a| a.rate_limit = 0).await;
    let store = SqliteStore::open(&app.db_path()).unwrap();
    let (_, editor) = token::issue(&store, Role::Editor, "roles editor", "test").unwrap();
    let (_, admin) = token::issue(&store, Role::Admin, "roles admin", "test").unwrap();
    let (info, revoked) = token::issue(&store, Role::Admin, "roles revoked", "test").unwrap();
    assert!(store.revoke_token(info.id, "test").unwrap());
    let malformed = format!("dya_admin_{}", "A".repeat(20));
    // (who, token, the caller's level; None: an invalid token)
    let callers: [(&str, Option<&str>, Option<Least>); 5] = [
        ("anonymous", None, Some(Public)),
        ("editor", Some(&editor), Some(Editor)),
        ("admin", Some(&admin), Some(Admin)),
        ("revoked admin", Some(&revoked), None),
        ("malformed token", Some(&malformed), None),
    ];
    let before = crate::helpers::health_with(&app.client, &app.base, &admin).await;
    for (method, pattern, least) in EXPECTED {
        let path = concrete(pattern);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        for (who, token, level) in &callers {
            let mut req = app
                .client
                .request(method.clone(), format!("{}{path}", app.base));
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            if method == Method::POST || method == Method::PUT {
                req = req.body(b"{}".to_vec());
            }
            let r = req.send().await.unwrap();
            let status = r.status();
            let case = format!("{method} {path} as {who} → {status}");
            assert!(r.headers().contains_key("x-request-id"), "{case}");
            let www = r.headers().get("www-authenticate").cloned();
            match level {
                None => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}");
                    assert!(
                        www.unwrap().to_str().unwrap().contains("invalid_token"),
                        "{case}"
                    );
                }
                Some(level) if level < least => {
                    if *level == Public {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: must be denied");
                        assert!(www.is_some(), "{case}");
                    } else {
                        assert_eq!(status, StatusCode::FORBIDDEN, "{case}: must be denied");
                    }
                }
                Some(_) => {
                    assert!(
                        status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                        "{case}: must be allowed"
                    );
                    // The page is a 503 problem when the front-end was not built.
                    let page = path == "/" || path == "/index.html";
                    assert!(!status.is_server_error() || page, "{case}");
                }
            }
            if status.is_client_error() || status.is_server_error() {
                assert_eq!(
                    r.headers()["content-type"],
                    "application/problem+json",
                    "{case}"
                );
                let body: Value = r.json().await.unwrap();
                assert_ne!(body["detail"], "no such endpoint", "{case}: not routed");
            }
        }
    }
    let after = crate::helpers::health_with(&app.client, &app.base, &admin).await;
    assert_eq!(
        (&after["records"], &after["data_version"]),
        (&before["records"], &before["data_version"]),
        "no call of the matrix changed the data"
    );
}
