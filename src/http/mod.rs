//! The HTTP edge: one router per resource, merged in [`router`], with the cross-cutting
//! layers (compression, tracing, limits) applied once.

pub mod access;
mod admin;
mod budget;
mod codes;
pub mod conn;
mod edge;
pub mod guard;
mod health;
mod imports;
pub mod layers;
mod ogc;
pub mod openapi;
mod outreach;
pub mod params;
mod places;
pub mod problem;
pub mod query;
pub mod responses;
mod tiles;
mod web;

use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use problem::Problem;

/// The service `serve` runs: tile-cache hits answered up front (see [`edge`]), everything
/// else through [`router`].
pub async fn service(state: AppState) -> edge::Edge {
    edge::Edge::new(state.clone(), router(state)).await
}

pub fn router(state: AppState) -> Router {
    // The routers by role and meter class: see access.rs.
    access::compose()
        .router
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(state.clone())
        // Access, limits, timeouts, problem bodies, security headers: see guard.rs.
        .layer(CatchPanicLayer::custom(guard::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .layer(guard::cors(&state.config.cors_origins))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
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
