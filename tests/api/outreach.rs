//! `/api/v1/outreach/…` over HTTP on the demo data: catchments, per-post figures, gap
//! rankings and a consulate's outreach plan.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::helpers::{assert_problem, TestApp};

/// Enough demo records for a few hundred published res-6 hexagons.
const RECORDS: usize = 30_000;
const K: u64 = 11;

fn features(body: &Value) -> &Vec<Value> {
    body["features"].as_array().expect("a FeatureCollection")
}

/// Published hexagon id → published count, from the aggregates endpoint.
async fn published(app: &TestApp, res: u8) -> HashMap<String, u64> {
    let (status, body) = app
        .get_json(&format!("/api/v1/aggregates?unit=h3&res={res}"))
        .await;
    assert_eq!(status, 200);
    features(&body)
        .iter()
        .map(|f| {
            (
                f["properties"]["id"].as_str().unwrap().to_string(),
                f["properties"]["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Every number a response publishes about people is null, 0 or at least k.
fn assert_counts_safe(v: &Value, name: &str) {
    if let Some(n) = v.as_u64() {
        assert!(n == 0 || n >= K, "{name} = {n}");
    } else {
        assert!(v.is_null(), "{name} = {v}");
    }
}

#[tokio::test]
async fn catchments_cover_every_published_hexagon_exactly_once_in_both_modes() {
    let app = TestApp::spawn(RECORDS).await;
    let hexagons = published(&app, 6).await;
    assert!(hexagons.len() > 50, "{} published hexagons", hexagons.len());
    for mode in ["nearest", "jurisdiction"] {
        let (status, body) = app
            .get_json(&format!("/api/v1/outreach/catchments?res=6&mode={mode}"))
            .await;
        assert_eq!(status, 200, "{body}");
        let ids: Vec<&str> = features(&body)
            .iter()
            .map(|f| f["properties"]["id"].as_str().unwrap())
            .collect();
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "{mode}: a hexagon in two catchments"
        );
        assert_eq!(
            unique,
            hexagons.keys().map(String::as_str).collect::<HashSet<_>>(),
            "{mode}"
        );
        for f in features(&body) {
            let p = &f["properties"];
            assert_eq!(
                p["count"].as_u64(),
                hexagons.get(p["id"].as_str().unwrap()).copied()
            );
            assert!(p["post_id"].as_str().unwrap().starts_with("HT-"));
        }
        // Each post's nearest-mode count is the sum of its published hexagons.
        for post in body["posts"].as_array().unwrap() {
            for name in ["count", "female", "remitters", "female_remitters"] {
                assert_counts_safe(&post["figures"][name], name);
            }
            if mode == "nearest" {
                let sum: u64 = features(&body)
                    .iter()
                    .filter(|f| f["properties"]["post_id"] == post["id"])
                    .map(|f| f["properties"]["count"].as_u64().unwrap())
                    .sum();
                assert_eq!(
                    post["figures"]["count"].as_u64(),
                    Some(sum),
                    "{}",
                    post["id"]
                );
            }
        }
        assert!(body["method"]["rule"].as_str().is_some());
    }
}

#[tokio::test]
async fn jurisdiction_figures_come_from_the_state_layer_and_orlando_serves_no_state() {
    let app = TestApp::spawn(RECORDS).await;
    let (status, body) = app
        .get_json("/api/v1/outreach/posts?mode=jurisdiction")
        .await;
    assert_eq!(status, 200, "{body}");
    let posts = body["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 7);
    let (_, states) = app.get_json("/api/v1/aggregates?unit=state").await;
    let state_total: u64 = features(&states)
        .iter()
        .filter_map(|f| f["properties"]["count"].as_u64())
        .sum();
    let post_total: u64 = posts
        .iter()
        .filter_map(|p| p["figures"]["count"].as_u64())
        .sum();
    assert_eq!(
        post_total, state_total,
        "every state is in exactly one jurisdiction"
    );
    let orlando = posts.iter().find(|p| p["id"] == "HT-CON-ORL").unwrap();
    assert_eq!(orlando["jurisdiction_states"].as_array().unwrap().len(), 0);
    assert_eq!(orlando["figures"]["count"], 0);
    let miami = posts.iter().find(|p| p["id"] == "HT-CON-MIA").unwrap();
    assert!(miami["figures"]["count"].as_u64().unwrap() > 1_000);
    assert!(miami["figures"]["top_sectors"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
}

#[tokio::test]
async fn a_consulates_plan_lists_real_gap_areas_ranked_by_the_stated_formula() {
    let app = TestApp::spawn(RECORDS).await;
    let hexagons = published(&app, 6).await;
    let (_, catchments) = app.get_json("/api/v1/outreach/catchments?res=6").await;
    let nyc_hexagons: HashSet<&str> = features(&catchments)
        .iter()
        .filter(|f| f["properties"]["post_id"] == "HT-CON-NYC")
        .map(|f| f["properties"]["id"].as_str().unwrap())
        .collect();

    let (status, plan) = app
        .get_json("/api/v1/outreach/plan/HT-CON-NYC?top=5&res=6")
        .await;
    assert_eq!(status, 200, "{plan}");
    assert!(plan["ranking"]["formula"]
        .as_str()
        .unwrap()
        .starts_with("score = count × min(d_km, 50) / 50"));
    let areas: Vec<&Value> = features(&plan)
        .iter()
        .filter(|f| f["properties"]["feature_type"] == "gap_area")
        .collect();
    assert_eq!(areas.len(), 5);
    let mut last = f64::INFINITY;
    for (i, f) in areas.iter().enumerate() {
        let p = &f["properties"];
        let id = p["id"].as_str().unwrap();
        assert_eq!(p["rank"], i + 1);
        assert!(nyc_hexagons.contains(id), "{id} is in New York's catchment");
        assert_eq!(
            p["count"].as_u64(),
            hexagons.get(id).copied(),
            "{id} is a published hexagon with its published count"
        );
        assert!(p["count"].as_u64().unwrap() >= K);
        let d = p["nearest_km"].as_f64().unwrap();
        let score = p["score"].as_f64().unwrap();
        let count = p["count"].as_f64().unwrap();
        let expected = count * d.min(50.0) / 50.0;
        // `nearest_km` is rounded to the metre and `score` to 3 decimals.
        let tolerance = count * 0.0005 / 50.0 + 0.0005;
        assert!(
            (score - expected).abs() <= tolerance,
            "{score} vs {expected}"
        );
        assert!(score <= last);
        last = score;
        let near = p["associations"].as_array().unwrap();
        assert_eq!(near.len(), 3);
        assert_eq!(near[0]["distance_km"].as_f64(), Some(d));
        assert_eq!(f["geometry"]["type"], "Polygon");
    }
    assert!(features(&plan)
        .iter()
        .any(|f| f["properties"]["feature_type"] == "association"));
    assert!(features(&plan)
        .iter()
        .any(|f| f["properties"]["feature_type"] == "post" && f["id"] == "HT-CON-NYC"));
    assert_counts_safe(&plan["post_figures"]["count"], "post count");

    // The same plan as CSV, one row per gap area, ready for a spreadsheet.
    let r = app
        .get("/api/v1/outreach/plan/HT-CON-NYC?top=5&res=6&format=csv&download=1")
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    // The post, the layer, the release, the date and the demo flag (#20).
    let name = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        name.contains("filename=\"dyaspora-plan-HT-CON-NYC-h3-res6-r1-20")
            && name.ends_with("-demo.csv\""),
        "{name}"
    );
    let text = r.text().await.unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().unwrap().clone();
    assert_eq!(&header[0], "rank");
    assert!(header.iter().any(|h| h == "association_3_name"));
    let rows: Vec<_> = rows.records().collect::<Result<_, _>>().unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(&rows[0][1], areas[0]["properties"]["id"].as_str().unwrap());
    // The post's names in the three languages, on every row.
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("post_id")], "HT-CON-NYC");
    assert_eq!(
        &rows[0][col("post_name_fr")],
        "Consulat général d’Haïti à New York"
    );
    assert_eq!(
        &rows[0][col("post_name_ht")],
        "Konsila jeneral Ayiti nan New York"
    );
}

#[tokio::test]
async fn gap_rankings_state_their_formula_and_womens_reach_weighs_the_female_count() {
    let app = TestApp::spawn(RECORDS).await;
    let (status, gaps) = app.get_json("/api/v1/outreach/gaps?limit=20").await;
    assert_eq!(status, 200, "{gaps}");
    assert!(gaps["ranking"]["formula"]
        .as_str()
        .unwrap()
        .contains("haversine"));
    assert_eq!(features(&gaps).len(), 20);

    let (_, women) = app
        .get_json("/api/v1/outreach/gaps?target=female&limit=20")
        .await;
    assert_eq!(women["ranking"]["value"], "female");
    assert_eq!(
        women["ranking"]["kinds"],
        serde_json::json!(["community_centre", "womens"])
    );
    for f in features(&women) {
        let p = &f["properties"];
        assert_eq!(p["value"], p["female"], "the female count is weighed");
        assert_counts_safe(&p["female"], "female");
        assert!(["womens", "community_centre"]
            .contains(&p["nearest_association"]["kind"].as_str().unwrap()));
    }

    let (_, far) = app
        .get_json("/api/v1/outreach/gaps?kind=professional&beyond_km=25&limit=100")
        .await;
    assert!(far["ranking"]["formula"]
        .as_str()
        .unwrap()
        .contains("within 25 km"));
    for f in features(&far) {
        assert!(f["properties"]["nearest_km"]
            .as_f64()
            .is_none_or(|d| d > 25.0));
    }

    let (_, miami) = app
        .get_json("/api/v1/outreach/gaps?post=HT-CON-MIA&mode=jurisdiction&limit=50")
        .await;
    assert!(features(&miami)
        .iter()
        .all(|f| f["properties"]["post_id"] == "HT-CON-MIA"));
}

#[tokio::test]
async fn outreach_parameters_are_checked() {
    let app = TestApp::spawn(0).await;
    assert_problem(app.get("/api/v1/outreach/plan/HT-CON-XYZ").await, 404).await;
    for bad in [
        "/api/v1/outreach/gaps?mode=closest",
        "/api/v1/outreach/gaps?kind=embassy",
        "/api/v1/outreach/gaps?target=men",
        "/api/v1/outreach/gaps?saturation_km=0",
        "/api/v1/outreach/gaps?unit=state",
        "/api/v1/outreach/gaps?post=nowhere",
        "/api/v1/outreach/plan/HT-CON-MIA?top=0",
        "/api/v1/outreach/catchments?res=12",
    ] {
        let body = assert_problem(app.get(bad).await, 400).await;
        assert!(body["parameter"].is_string(), "{bad}: {body}");
    }
}
