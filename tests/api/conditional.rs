//! Conditional requests: every GET that returns data carries an ETag and a Cache-Control,
//! and answers 304 to `If-None-Match` with that tag, strong or weak (RFC 9110's weak
//! comparison); private responses stay `private, no-store`.

use crate::helpers::TestApp;

/// The tag in the other form: `W/"x"` ↔ `"x"`.
fn other_form(tag: &str) -> String {
    match tag.strip_prefix("W/") {
        Some(strong) => strong.to_string(),
        None => format!("W/{tag}"),
    }
}

#[tokio::test]
async fn every_data_get_answers_304_to_its_own_etag_strong_or_weak() {
    let app = TestApp::spawn_with(3_000, |a| a.rate_limit = 0).await;
    let (_, places) = app.get_json("/api/v1/places?category=association").await;
    let place = places["features"][0]["id"].as_str().unwrap().to_string();
    let paths = [
        "/api/v1/aggregates?unit=state".to_string(),
        "/api/v1/aggregates?unit=county&format=csv&gender=f".into(),
        "/api/v1/aggregates/csv-metadata.json?unit=county&gender=f".into(),
        "/api/v1/codes".into(),
        "/api/v1/methodology".into(),
        "/api/v1/places".into(),
        "/api/v1/places?bbox=-74.3,40.5,-73.7,40.95".into(),
        format!("/api/v1/places/{place}"),
        "/api/v1/places/nearest?lon=-80.19&lat=25.83&k=3&category=consular".into(),
        "/api/v1/places/within?lon=-73.95&lat=40.65&radius_km=15".into(),
        "/api/v1/outreach/posts".into(),
        "/api/v1/outreach/catchments?res=6".into(),
        "/api/v1/outreach/gaps?limit=20".into(),
        "/api/v1/outreach/plan/HT-CON-NYC?top=5&res=6".into(),
        "/ogc".into(),
        "/ogc/conformance".into(),
        "/ogc/collections".into(),
        "/ogc/collections/states".into(),
        "/ogc/collections/states/items?limit=5".into(),
        "/ogc/collections/states/items/12".into(),
        "/ogc/collections/places/items?limit=3".into(),
        format!("/ogc/collections/places/items/{place}"),
        "/tiles".into(),
        "/tiles/states.json".into(),
        "/tiles/hexagons.json?format=png&gender=f".into(),
        "/tiles/states/legend.json?z=3".into(),
        "/tiles/states/0/0/0.mvt".into(),
        "/tiles/places/3/2/3.mvt".into(),
    ];
    for path in &paths {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        let tag = h
            .get("etag")
            .unwrap_or_else(|| panic!("{path}: no ETag"))
            .to_str()
            .unwrap()
            .to_string();
        let cache = h["cache-control"].to_str().unwrap();
        assert!(cache.starts_with("public"), "{path}: {cache}");
        for sent in [tag.clone(), other_form(&tag), format!("\"nope\", {tag}")] {
            let r = app
                .client
                .get(format!("{}{path}", app.base))
                .header("if-none-match", &sent)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 304, "{path} with If-None-Match: {sent}");
            assert_eq!(r.headers()["etag"], tag.as_str(), "{path}");
        }
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .header("if-none-match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}: another tag");
    }
}

#[tokio::test]
async fn tags_follow_the_request_and_private_figures_are_not_stored() {
    let app = TestApp::spawn_with(2_000, |a| a.rate_limit = 0).await;
    let tag = |r: &reqwest::Response| r.headers()["etag"].to_str().unwrap().to_string();
    let a = tag(&app.get("/api/v1/places?kind=hometown,faith_based").await);
    let b = tag(&app.get("/api/v1/places?kind=hometown").await);
    assert_ne!(a, b, "another query, another tag");
    // Links are absolute: another host behind a proxy is another representation.
    let proxied = app
        .client
        .get(format!("{}/ogc/collections", app.base))
        .header("x-forwarded-host", "maps.example.org")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let proxied_tag = tag(&proxied);
    let body: serde_json::Value = proxied.json().await.unwrap();
    assert!(
        body["links"][0]["href"]
            .as_str()
            .unwrap()
            .starts_with("https://maps.example.org/ogc/"),
        "{}",
        body["links"][0]
    );
    assert_ne!(proxied_tag, tag(&app.get("/ogc/collections").await));

    let admin = app.admin_token();
    let r = app
        .client
        .get(format!("{}/api/v1/admin/aggregates?unit=state", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
}
