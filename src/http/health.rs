//! `GET /health`: liveness and readiness (the database answers). Only a caller with a token
//! (editor or admin) also sees the record count and the data version: watching them would
//! tell anyone when a single record was imported or erased.

use axum::extract::State;
use axum::{Extension, Json};
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Principal;
use crate::error::Error;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(health))
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    summary = "Liveness and readiness (the database answers)",
    description = "With an editor or admin token, also the record count and the data version: watching them would tell anyone when a single record was imported or erased.",
    responses((status = 200, description = "Up; `records` and `data_version` only for a caller with a token", body = ref("#/components/schemas/Health"))),
)]
pub(super) async fn health(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<Value>, Error> {
    let store = state.store.clone();
    let with_counts = principal.is_some();
    // The store is read in both cases: an answer means the database is readable.
    let (records, version) = tokio::task::spawn_blocking(move || {
        let version = store.data_version()?;
        let records = if with_counts {
            Some(store.record_count()?)
        } else {
            None
        };
        Ok::<_, Error>((records, version))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    Ok(Json(match records {
        Some(records) => json!({ "status": "ok", "records": records, "data_version": version }),
        None => json!({ "status": "ok" }),
    }))
}
