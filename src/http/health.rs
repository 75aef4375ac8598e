//! `GET /health`: liveness plus the numbers an operator checks first.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::Error;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> Result<Json<Value>, Error> {
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
