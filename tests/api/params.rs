//! Query parameters are refused everywhere an endpoint does not name them: the endpoints
//! without parameters, and the tiles, whose typed query structs are the parsers.

use crate::helpers::{assert_problem, TestApp};

/// Asserts that `method path?bogus=1` (with `token`, if any) answers 400 naming `bogus`.
async fn refuses_bogus(app: &TestApp, method: reqwest::Method, path: &str, token: Option<&str>) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut req = app
        .client
        .request(method.clone(), format!("{}{path}{sep}bogus=1", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 400, "{method} {path}?bogus=1");
    let body = assert_problem(r, 400).await;
    assert_eq!(body["parameter"], "bogus", "{method} {path}: {body}");
}

#[tokio::test]
async fn every_endpoint_without_parameters_refuses_an_unknown_one_naming_it() {
    let app = TestApp::spawn(500).await;
    let admin = app.admin_token();
    for path in [
        "/health",
        "/health/ready",
        "/api/v1/codes",
        "/api/v1/methodology",
        "/api/v1/openapi.json",
        "/tiles",
        "/api/v1/places/HT-CON-MIA",
    ] {
        refuses_bogus(&app, reqwest::Method::GET, path, None).await;
    }
    for path in ["/api/v1/tokens", "/api/v1/records"] {
        refuses_bogus(&app, reqwest::Method::GET, path, Some(&admin)).await;
    }
    // Writes: the query is refused before anything is changed.
    refuses_bogus(
        &app,
        reqwest::Method::DELETE,
        "/api/v1/tokens/1",
        Some(&admin),
    )
    .await;
    refuses_bogus(
        &app,
        reqwest::Method::DELETE,
        "/api/v1/records/nope",
        Some(&admin),
    )
    .await;
    refuses_bogus(
        &app,
        reqwest::Method::DELETE,
        "/api/v1/places/nope",
        Some(&admin),
    )
    .await;
}

#[tokio::test]
async fn the_tile_routes_parse_their_query_with_their_structs() {
    let app = TestApp::spawn(500).await;
    for path in [
        "/tiles/states/3/2/3.mvt",
        "/tiles/hexagons/3/2/3.png",
        "/tiles/places/3/2/3.mvt",
        "/tiles/states.json",
        "/tiles/states/legend.json?z=3",
    ] {
        refuses_bogus(&app, reqwest::Method::GET, path, None).await;
    }
    // A layer parameter a tile does not take (the layer name sets the unit).
    let body = assert_problem(app.get("/tiles/states/3/2/3.mvt?unit=county").await, 400).await;
    assert_eq!(body["parameter"], "unit");
    // What the structs name still works.
    let r = app.get("/tiles/states/3/2/3.mvt?gender=f&v=1").await;
    assert!(r.status().is_success(), "{}", r.status());
    let r = app.get("/tiles/places.json?kind=embassy").await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_place_is_the_same_feature_in_the_api_and_in_ogc_items() {
    let app = TestApp::spawn(500).await;
    let (_, api) = app.get_json("/api/v1/places/HT-CON-MIA").await;
    let (_, mut ogc) = app
        .get_json("/ogc/collections/places/items/HT-CON-MIA")
        .await;
    ogc.as_object_mut().unwrap().remove("links");
    assert_eq!(api, ogc);
    let p = api["properties"].as_object().unwrap();
    assert!(
        p.values().all(|v| !v.is_array() && !v.is_object()),
        "flat properties: {p:?}"
    );
    assert_eq!(p["name_ht"], "Konsila jeneral Ayiti nan Miami");
}
