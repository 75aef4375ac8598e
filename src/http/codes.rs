//! `GET /api/v1/codes`: every coded list with its labels in en, fr and ht.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};

use crate::codes::{CodeList, Codebook};
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/codes", get(codes))
}

async fn codes() -> impl IntoResponse {
    let book = Codebook::get();
    let lists: Map<String, Value> = CodeList::ALL
        .into_iter()
        .map(|l| {
            (
                l.name().to_string(),
                serde_json::to_value(book.codes(l)).unwrap_or_default(),
            )
        })
        .collect();
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        axum::Json(Value::Object(lists)),
    )
}
