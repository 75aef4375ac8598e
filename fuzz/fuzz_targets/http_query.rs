//! Any bytes as the query string of a public read endpoint, answered by the real router over
//! a small demo data set: every answer is a success or a 4xx problem, never a 5xx or a
//! panic. The first byte picks the endpoint.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use dyaspora::config::ServeArgs;
use dyaspora::store::{SqliteStore, Store};
use dyaspora::App;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const ENDPOINTS: &[&str] = &[
    "/api/v1/aggregates",
    "/tiles/hexagons/5/9/12.mvt",
    "/tiles/states/3/2/3.png",
    "/tiles/hexagons.json",
    "/tiles/counties/legend.json",
    "/ogc/collections/states/items",
    "/ogc/collections/h3-6/items",
    "/api/v1/outreach/gaps",
    "/api/v1/outreach/posts",
    "/api/v1/places",
    "/api/v1/places/nearest",
    "/api/v1/places/within",
];

fn setup() -> (tokio::runtime::Runtime, Router) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    dyaspora::demo::load_into(store.as_ref(), 3_000, 1).unwrap();
    let config = ServeArgs {
        rate_limit: 0,
        tile_cache_mb: 0,
        ..ServeArgs::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let router = rt.block_on(App::router(store, config)).unwrap();
    (rt, router)
}

fuzz_target!(|data: &[u8]| {
    static APP: OnceLock<(tokio::runtime::Runtime, Router)> = OnceLock::new();
    let Some((&pick, query)) = data.split_first() else {
        return;
    };
    // A URI carries only some bytes; percent-encode the rest, as a client would.
    let mut q = String::with_capacity(query.len());
    for &b in query {
        if b.is_ascii_alphanumeric() || b"&=,.:-_~%+;/".contains(&b) {
            q.push(b as char);
        } else {
            q.push_str(&format!("%{b:02X}"));
        }
    }
    let path = ENDPOINTS[pick as usize % ENDPOINTS.len()];
    let (rt, router) = APP.get_or_init(setup);
    let Ok(req) = Request::get(format!("{path}?{q}")).body(Body::empty()) else {
        return;
    };
    let response = rt.block_on(router.clone().oneshot(req)).unwrap();
    let status = response.status();
    assert!(!status.is_server_error(), "{path}?{q} → {status}");
    if status.is_client_error() {
        let ct = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_string());
        assert_eq!(
            ct.as_deref(),
            Some("application/problem+json"),
            "{path}?{q} → {status}"
        );
    }
});
