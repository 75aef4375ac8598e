//! `GET /api/v1/codes`: every coded list with its labels in en, fr and ht.

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Map, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::codes::{CodeList, Codebook};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(codes))
}

#[utoipa::path(
    get,
    path = "/api/v1/codes",
    tag = "service",
    summary = "Every coded list with its labels in English, French and Haitian Creole",
    responses((status = 200, description = "The code lists", body = ref("#/components/schemas/Codes"))),
)]
pub(super) async fn codes(_: super::query::Params<super::query::NoParams>) -> impl IntoResponse {
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
