//! The HTTP edge: one router per resource, merged in [`router`], with the cross-cutting
//! layers (compression, tracing, limits) applied once.

mod codes;
mod health;
pub mod layers;
mod ogc;
mod outreach;
mod places;
pub mod problem;
mod tiles;
mod web;

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use problem::Problem;

/// Largest request body accepted (imports stream up to this).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(codes::router())
        .merge(layers::router())
        .merge(ogc::router())
        .merge(tiles::router())
        .merge(places::router())
        .merge(places::write_router())
        .merge(outreach::router())
        .merge(web::router())
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(60)))
        .layer(TraceLayer::new_for_http())
}

/// Turns a rejected query string into a problem body naming what was wrong.
pub fn query_problem(rejection: QueryRejection) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, rejection.body_text())
}
