//! The HTTP edge: one router per resource, merged in [`router`], with the cross-cutting
//! layers (compression, tracing, limits) applied once.

pub mod access;
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
pub mod openapi;
mod outreach;
pub mod params;
mod places;
pub mod problem;
pub mod query;
pub mod responses;
mod spreadsheet;
mod state;
mod tiles;
mod web;

use axum::http::StatusCode;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use problem::Problem;
pub use state::AppState;

/// The service `serve` runs: tile-cache hits answered up front (see [`edge`]), everything
/// else through [`router`].
pub async fn service(state: AppState) -> edge::Edge {
    edge::Edge::new(state.clone(), router(state)).await
}

pub fn router(state: AppState) -> Router {
    // The routers by role and meter class, the data routes in the data layer (ETag, 304,
    // Cache-Control: conditional.rs): see access.rs.
    access::compose(Some(&state))
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
        .layer(PropagateRequestIdLayer::new(guard::REQUEST_ID))
        .layer(SetRequestIdLayer::new(guard::REQUEST_ID, guard::MakeId))
}

pub use crate::publish::param;
