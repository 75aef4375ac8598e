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
use axum::{Extension, Json};
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::problem::Problem;
use crate::auth::Principal;
use crate::error::Error;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(health))
        .routes(routes!(ready))
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    summary = "Liveness (answered without the database)",
    description = "With an editor or admin token, also the record count and the data version: watching them would tell anyone when a single record was imported or erased.",
    responses((status = 200, description = "Up; `records` and `data_version` only for a caller with a token", body = ref("#/components/schemas/Health"))),
)]
pub(super) async fn health(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    _: super::query::Params<super::query::NoParams>,
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

#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "service",
    summary = "Readiness: the snapshot is loaded",
    responses(
        (status = 200, description = "Ready; the public release served", body = serde_json::Value),
        (status = 503, description = "The snapshot is loading", content_type = "application/problem+json", body = ref("#/components/schemas/Problem")),
    ),
)]
pub(super) async fn ready(
    State(state): State<AppState>,
    _: super::query::Params<super::query::NoParams>,
) -> Response {
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
