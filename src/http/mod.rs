//! The HTTP edge: one router per resource, merged in [`router`], with the cross-cutting
//! layers (compression, tracing, limits) applied once.

mod admin;
mod budget;
mod codes;
pub mod conditional;
pub mod conn;
mod edge;
pub mod guard;
mod health;
mod imports;
pub mod layers;
mod ogc;
mod openapi;
mod outreach;
mod places;
pub mod problem;
pub mod responses;
mod spreadsheet;
mod tiles;
mod web;

use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use problem::Problem;

/// The service `serve` runs: tile-cache hits answered up front (see [`edge`]), everything
/// else through [`router`].
pub async fn service(state: AppState) -> edge::Edge {
    edge::Edge::new(state.clone(), router(state)).await
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(codes::router())
        .merge(layers::router())
        .merge(openapi::router())
        .merge(ogc::router())
        .merge(tiles::router())
        .merge(places::router())
        .merge(places::write_router())
        .merge(outreach::router())
        .merge(web::router())
        .merge(imports::router())
        .merge(admin::router())
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(state.clone())
        // ETag, 304 and Cache-Control of the data routes: see conditional.rs.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            conditional::middleware,
        ))
        // Access, limits, timeouts, problem bodies, security headers: see guard.rs.
        .layer(CatchPanicLayer::custom(guard::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .layer(guard::cors(&state.config.cors_origins))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(guard::REQUEST_ID))
        .layer(SetRequestIdLayer::new(guard::REQUEST_ID, guard::MakeId))
}

/// The last value of query parameter `name` (a repeated parameter: the last one wins).
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Turns a rejected query string into a problem body naming what was wrong.
pub fn query_problem(rejection: QueryRejection) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, rejection.body_text())
}
