//! The HTTP edge: one router per resource, merged in [`router`], with the cross-cutting
//! layers (compression, tracing, limits) applied once.

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
mod openapi;
mod outreach;
mod places;
pub mod problem;
pub mod responses;
mod state;
mod tiles;
mod web;

use axum::http::StatusCode;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use problem::Problem;
pub use state::AppState;

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

pub use crate::publish::param;
