//! `GET /health`: liveness, answered without touching the database (so that it answers while
//! an import holds the store's writer). Only a caller with a token (editor or admin) also
//! sees the record count and the data version, read through the store's read-only
//! connections: watching them would tell anyone when a single record was imported or erased.
//!
//! `GET /health/ready`: readiness — 200 once the snapshot is loaded (the service answers
//! every route), 503 before.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::problem::Problem;
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::Error;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/ready", get(ready))
}

async fn health(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<Value>, Error> {
    if principal.is_none() {
        return Ok(Json(json!({ "status": "ok" })));
    }
    let store = state.store.clone();
    let (records, version) = tokio::task::spawn_blocking(move || {
        Ok::<_, Error>((store.record_count()?, store.data_version()?))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    Ok(Json(
        json!({ "status": "ok", "records": records, "data_version": version }),
    ))
}

async fn ready(State(state): State<AppState>) -> Response {
    let no_store = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    if state.is_ready() {
        let snapshot = state.engine.snapshot();
        (
            no_store,
            Json(json!({ "status": "ready", "release": snapshot.data_version })),
        )
            .into_response()
    } else {
        let mut r = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the snapshot is loading; retry in a few seconds",
        )
        .with("status", "loading")
        .into_response();
        let h = r.headers_mut();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}
