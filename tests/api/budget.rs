//! The budget of distinct filtered layers per client (`src/http/budget.rs`): the attack of
//! #18 — filtered layers through `/tiles/states/0/0/0.mvt?…` after `/api/v1/aggregates`
//! answered 429 — and its reverse are refused on every route that computes figures, the
//! tiles' fast path and cache included; a map's burst of tiles of one layer is not.

use dyaspora::auth::{token, Role};
use dyaspora::store::SqliteStore;

use crate::helpers::{assert_problem, TestApp};

const BUDGET: u32 = 4;

async fn spawn(budget: u32) -> (TestApp, String) {
    let app = TestApp::spawn_with(3_000, |a| {
        a.layer_budget = budget;
        a.rate_limit = 0;
    })
    .await;
    let store = SqliteStore::open(&app.db_path()).unwrap();
    let (_, admin) = token::issue(&store, Role::Admin, "budget admin", "test").unwrap();
    (app, admin)
}

/// The `i`-th of 30 distinct filters.
fn filter(i: usize) -> String {
    const DEPARTMENTS: [&str; 10] = [
        "HT-AR", "HT-CE", "HT-GA", "HT-NI", "HT-ND", "HT-NE", "HT-NO", "HT-OU", "HT-SD", "HT-SE",
    ];
    format!(
        "department={}&gender={}",
        DEPARTMENTS[i % 10],
        ["f", "m", "x"][i / 10 % 3]
    )
}

/// The tile of zoom `z` holding a point (Web Mercator).
fn tile(lon: f64, lat: f64, z: u8) -> (u8, u32, u32) {
    let n = f64::from(1u32 << z);
    let r = lat.to_radians();
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    (z, x as u32, y as u32)
}

async fn status(app: &TestApp, path: &str) -> u16 {
    app.get(path).await.status().as_u16()
}

async fn as_admin(app: &TestApp, admin: &str, path: &str) -> u16 {
    let r = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

/// Asserts `path` is refused with the budget's 429; returns the detail without its wait.
async fn refused(app: &TestApp, path: &str) -> String {
    let r = app.get(path).await;
    assert_eq!(r.status(), 429, "{path}");
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=601).contains(&wait), "{path}: Retry-After {wait}");
    let body = assert_problem(r, 429).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("filtered layers"), "{path}: {detail}");
    detail.split("; retry").next().unwrap().to_string()
}

/// Every route that computes figures, each with a filter not asked for before (from `from`).
fn new_layers(from: usize) -> Vec<String> {
    let (z, x, y) = tile(-80.19, 25.83, 6);
    let f = |i: usize| filter(from + i);
    vec![
        format!("/api/v1/aggregates?unit=state&{}", f(0)),
        format!("/api/v1/aggregates?unit=county&format=csv&{}", f(1)),
        format!("/tiles/states/0/0/0.mvt?{}", f(2)),
        format!("/tiles/counties/{z}/{x}/{y}.mvt?{}", f(3)),
        format!("/tiles/hexagons/{z}/{x}/{y}.png?{}", f(4)),
        format!("/tiles/states.json?{}", f(5)),
        format!("/tiles/hexagons/legend.json?z=6&{}", f(6)),
        format!("/ogc/collections/states/items?{}", f(7)),
        format!("/ogc/collections/h3-res6/items/86754e64fffffff?{}", f(8)),
        "/ogc/collections/counties/items?datetime=2025-03-01/2025-04-30".to_string(),
        format!("/api/v1/outreach/catchments?{}", f(9)),
        format!("/api/v1/outreach/gaps?res=5&{}", f(10)),
    ]
}

/// Every route answers the same refusal.
async fn all_refused(app: &TestApp, paths: &[String]) {
    let mut details = Vec::new();
    for p in paths {
        details.push(refused(app, p).await);
    }
    details.dedup();
    assert_eq!(details.len(), 1, "{details:#?}");
}

#[tokio::test]
async fn after_the_aggregates_every_route_refuses_a_new_filtered_layer() {
    let (app, admin) = spawn(BUDGET).await;
    for i in 0..BUDGET as usize {
        let p = format!("/api/v1/aggregates?unit=state&{}", filter(i));
        assert_eq!(status(&app, &p).await, 200, "{p}");
    }
    // Free: a layer asked for before (in another format, with other metrics), an unfiltered
    // layer, and the same layer on the other routes of its unit.
    for p in [
        format!(
            "/api/v1/aggregates?unit=state&format=csv&metrics=all&{}",
            filter(0)
        ),
        "/api/v1/aggregates?unit=county".to_string(),
        "/tiles/states/0/0/0.mvt".to_string(),
        format!("/tiles/states/0/0/0.mvt?{}", filter(1)),
        format!("/tiles/states/1/0/0.png?{}", filter(1)),
        format!("/ogc/collections/states/items?{}", filter(2)),
    ] {
        assert!(matches!(status(&app, &p).await, 200 | 204), "{p}");
    }

    // A token holder is not counted; what it prepares (a source, a cached tile) is not a
    // way around the budget for others: the tiles' fast path refuses too.
    let cached = format!("/tiles/states/0/0/0.mvt?{}", filter(20));
    let prepared = format!("/tiles/states/1/0/0.mvt?{}", filter(20));
    assert!(matches!(as_admin(&app, &admin, &cached).await, 200 | 204));
    let mut paths = new_layers(BUDGET as usize);
    paths.push(cached.clone());
    paths.push(prepared);
    all_refused(&app, &paths).await;
    assert!(matches!(as_admin(&app, &admin, &cached).await, 200 | 204));
    let (status, _) = app.get_json("/health").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn after_the_tiles_every_route_refuses_a_new_filtered_layer() {
    let (app, admin) = spawn(BUDGET).await;
    // Sources prepared by a token holder: the client's tiles are cut on the fast path, which
    // counts them.
    for i in 0..BUDGET as usize {
        let p = format!("/tiles/states/1/0/0.mvt?{}", filter(i));
        assert!(matches!(as_admin(&app, &admin, &p).await, 200 | 204), "{p}");
    }
    for i in 0..BUDGET as usize {
        let p = format!("/tiles/states/1/0/1.mvt?{}", filter(i));
        assert!(matches!(status(&app, &p).await, 200 | 204), "{p}");
    }
    all_refused(&app, &new_layers(BUDGET as usize)).await;
    // What it asked for stays open to it, on every route of that unit.
    let p = format!("/api/v1/aggregates?unit=state&{}", filter(0));
    assert_eq!(status(&app, &p).await, 200);
}

#[tokio::test]
async fn a_map_view_of_one_filtered_layer_is_not_limited() {
    let (app, _) = spawn(2).await;
    let f = filter(3);
    let (z, x0, y0) = tile(-84.0, 30.5, 7);
    let mut asked = 0;
    for dx in 0..8 {
        for dy in 0..8 {
            let p = format!("/tiles/hexagons/{z}/{}/{}.mvt?{f}&v=1", x0 + dx, y0 + dy);
            let s = status(&app, &p).await;
            assert!(matches!(s, 200 | 204), "{p}: {s}");
            asked += 1;
        }
    }
    assert_eq!(asked, 64);
    // Its legend and the same layer again, then the states: two layers, within the budget.
    let legend = format!("/tiles/hexagons/legend.json?z={z}&{f}");
    assert_eq!(status(&app, &legend).await, 200);
    let states = format!("/tiles/states/0/0/0.mvt?{f}");
    assert!(matches!(status(&app, &states).await, 200 | 204));
    let p = format!("/tiles/hexagons/{z}/{x0}/{y0}.png?{f}");
    assert!(matches!(status(&app, &p).await, 200 | 204));
    // A third layer is over.
    refused(&app, &format!("/tiles/counties/{z}/{x0}/{y0}.mvt?{f}")).await;
}
