//! `/api/v1/places`: the places layer, nearest and within-radius queries, and the editors'
//! writes, over HTTP on the demo data.

use dyaspora::auth::{token, Role};
use dyaspora::store::SqliteStore;
use geo::{Distance, Haversine, Point};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, TestApp};

/// An editor's bearer token, issued the way the CLI issues it, in the app's database.
fn editor(app: &TestApp) -> String {
    let store = SqliteStore::open(&app.db_path()).unwrap();
    let (_, secret) = token::issue(&store, Role::Editor, "places editor", "test").unwrap();
    format!("Bearer {secret}")
}

fn features(body: &Value) -> &Vec<Value> {
    body["features"].as_array().expect("a FeatureCollection")
}

fn ids(body: &Value) -> Vec<String> {
    features(body)
        .iter()
        .map(|f| f["properties"]["id"].as_str().unwrap().to_string())
        .collect()
}

/// Reference great-circle distance in km (geo's haversine, mean radius 6371.0088 km).
fn reference_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    Haversine.distance(Point::new(a.0, a.1), Point::new(b.0, b.1)) / 1000.0
}

fn lon_lat(f: &Value) -> (f64, f64) {
    let c = &f["geometry"]["coordinates"];
    (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
}

#[tokio::test]
async fn the_places_layer_lists_the_posts_and_the_demo_associations_with_filters() {
    let app = TestApp::spawn(1_000).await;
    let r = app.get("/api/v1/places").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/geo+json");
    let all: Value = r.json().await.unwrap();
    assert!(
        features(&all).len() > 250,
        "{} places",
        features(&all).len()
    );
    assert!(all["units"]["distance_km"]
        .as_str()
        .unwrap()
        .contains("6371.0088"));

    let (_, posts) = app.get_json("/api/v1/places?category=consular").await;
    assert_eq!(features(&posts).len(), 7);
    let miami = features(&posts)
        .iter()
        .find(|f| f["id"] == "HT-CON-MIA")
        .unwrap();
    assert_eq!(miami["properties"]["served_states"], "FL");
    assert_eq!(
        miami["properties"]["name_fr"],
        "Consulat général d’Haïti à Miami"
    );
    assert_eq!(
        miami["properties"]["name_ht"],
        "Konsila jeneral Ayiti nan Miami"
    );
    assert_eq!(miami["geometry"]["type"], "Point");

    let (_, demo) = app.get_json("/api/v1/places?category=association").await;
    assert!(features(&demo).iter().all(
        |f| f["properties"]["is_demo"] == true && f["properties"]["category"] == "association"
    ));

    let (_, women) = app.get_json("/api/v1/places?kind=womens&sector=Q").await;
    assert!(!features(&women).is_empty());
    for f in features(&women) {
        assert_eq!(f["properties"]["kind"], "womens");
        assert!(f["properties"]["sectors"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "Q"));
    }

    let (_, boxed) = app
        .get_json("/api/v1/places?bbox=-74.3,40.5,-73.7,40.95")
        .await;
    assert!(ids(&boxed).contains(&"HT-CON-NYC".to_string()));
    for f in features(&boxed) {
        let (lon, lat) = lon_lat(f);
        assert!((-74.3..=-73.7).contains(&lon) && (40.5..=40.95).contains(&lat));
    }

    let (_, one) = app.get_json("/api/v1/places/HT-CON-BOS").await;
    assert_eq!(one["properties"]["city"], "Boston");
}

#[tokio::test]
async fn nearest_and_within_return_great_circle_kilometres_nearest_first() {
    let app = TestApp::spawn(1_000).await;
    let here = (-80.19, 25.83);
    let (status, body) = app
        .get_json("/api/v1/places/nearest?lon=-80.19&lat=25.83&k=3&category=consular")
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), ["HT-CON-MIA", "HT-CON-ORL", "HT-CON-ATL"]);
    for f in features(&body) {
        let d = f["properties"]["distance_km"].as_f64().unwrap();
        assert!((d - reference_km(here, lon_lat(f))).abs() <= 0.001, "{d}");
    }

    let (_, near) = app
        .get_json(
            "/api/v1/places/within?lon=-73.95&lat=40.65&radius_km=15&kind=hometown,faith_based",
        )
        .await;
    let ds: Vec<f64> = features(&near)
        .iter()
        .map(|f| f["properties"]["distance_km"].as_f64().unwrap())
        .collect();
    assert!(!ds.is_empty(), "demo associations in Brooklyn");
    assert!(ds.windows(2).all(|w| w[0] <= w[1]) && ds.iter().all(|&d| d <= 15.0));
    for f in features(&near) {
        assert!(["hometown", "faith_based"].contains(&f["properties"]["kind"].as_str().unwrap()));
    }

    for bad in [
        "/api/v1/places/nearest?lon=-80&lat=95",
        "/api/v1/places/nearest?lat=25",
        "/api/v1/places/nearest?lon=-80&lat=25&k=0",
        "/api/v1/places/within?lon=-80&lat=25&radius_km=-1",
        "/api/v1/places?kind=club",
        "/api/v1/places?category=shop",
        "/api/v1/places?colour=red",
    ] {
        let body = assert_problem(app.get(bad).await, 400).await;
        assert!(body["parameter"].is_string(), "{bad}: {body}");
    }
    assert_problem(app.get("/api/v1/places/nope").await, 404).await;
}

#[tokio::test]
async fn editors_add_update_and_remove_an_association_and_queries_see_it_at_once() {
    let app = TestApp::spawn(0).await;
    let auth = editor(&app);
    let url = format!("{}/api/v1/places", app.base);
    let new = json!({"kind": "womens", "name": "Fanm Test", "city": "Miami", "lat": 25.83, "lon": -80.19, "sectors": ["q"], "languages": ["ht"]});
    let r = app.client.post(&url).json(&new).send().await.unwrap();
    assert_problem(r, 401).await;
    let r = app
        .client
        .post(&url)
        .header("authorization", &auth)
        .json(&new)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/v1/places/{id}"));
    assert_eq!(created["properties"]["state"], "FL");
    assert_eq!(created["properties"]["sectors"], "Q");

    let (_, near) = app
        .get_json("/api/v1/places/nearest?lon=-80.19&lat=25.83&k=1&category=association")
        .await;
    assert_eq!(ids(&near), vec![id.clone()]);
    assert_eq!(features(&near)[0]["properties"]["distance_km"], 0.0);

    let changed =
        json!({"kind": "community_centre", "name": "Sant Test", "lat": 25.84, "lon": -80.2});
    let r = app
        .client
        .put(format!("{url}/{id}"))
        .header("authorization", &auth)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, got) = app.get_json(&format!("/api/v1/places/{id}")).await;
    assert_eq!(got["properties"]["name"], "Sant Test");
    assert_eq!(got["properties"]["kind"], "community_centre");

    let r = app
        .client
        .delete(format!("{url}/{id}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_problem(app.get(&format!("/api/v1/places/{id}")).await, 404).await;
    let r = app
        .client
        .delete(format!("{url}/{id}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_problem(r, 404).await;
}

#[tokio::test]
async fn invalid_edits_are_refused_with_a_problem_naming_the_field() {
    let app = TestApp::spawn(0).await;
    let auth = editor(&app);
    let url = format!("{}/api/v1/places", app.base);
    let valid = json!({"kind": "hometown", "name": "Test", "lat": 40.65, "lon": -73.95});
    let with = |key: &str, value: Value| {
        let mut v = valid.clone();
        v[key] = value;
        v
    };
    let cases = [
        (
            "a consular kind",
            with("kind", json!("consulate_general")),
            "kind",
        ),
        ("an unknown kind", with("kind", json!("club")), "kind"),
        ("a blank name", with("name", json!("  ")), "name"),
        (
            "a name over 200 characters",
            with("name", json!("x".repeat(201))),
            "name",
        ),
        ("a latitude out of range", with("lat", json!(95.0)), "lat"),
        (
            "a longitude out of range",
            with("lon", json!(-200.0)),
            "lon",
        ),
        ("a point at sea", with("lon", json!(-60.0)), "lat"),
        (
            "a state that is not the point's",
            with("state", json!("FL")),
            "state",
        ),
        (
            "an unknown sector",
            with("sectors", json!(["ZZ"])),
            "sectors",
        ),
        ("a bad id", with("id", json!("no spaces please")), "id"),
    ];
    for (what, body, field) in cases {
        let r = app
            .client
            .post(&url)
            .header("authorization", &auth)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(r, 422).await;
        assert_eq!(problem["field"], field, "{what}: {problem}");
    }
    let r = app
        .client
        .post(&url)
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400).await;
    let r = app
        .client
        .post(&url)
        .header("authorization", &auth)
        .json(&with("lat", json!("north")))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(r, 422).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("lat"),
        "{problem}"
    );

    let r = app
        .client
        .put(format!("{url}/HT-CON-MIA"))
        .header("authorization", &auth)
        .json(&valid)
        .send()
        .await
        .unwrap();
    assert_problem(r, 409).await;
    let r = app
        .client
        .delete(format!("{url}/HT-EMB-WAS"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_problem(r, 409).await;
    let r = app
        .client
        .post(&url)
        .header("authorization", &auth)
        .json(&with("id", json!("HT-CON-NYC")))
        .send()
        .await
        .unwrap();
    assert_problem(r, 409).await;
    let r = app
        .client
        .put(format!("{url}/unknown"))
        .header("authorization", &auth)
        .json(&valid)
        .send()
        .await
        .unwrap();
    assert_problem(r, 404).await;
}
