//! `GET /api/v1/aggregates`: the aggregate layers as GeoJSON (`application/geo+json`) or CSV
//! with an HXL hashtag row, with the legend's classification, ETag and 304. The figures and
//! the formats are [`crate::publish`]'s; this file parses, caches and answers.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::aggregate::Figures;
use crate::error::Error;
use crate::http::AppState;
use crate::publish::{self, LayerRequest};

/// The public, perturbed layers.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(public_aggregates))
}

/// The exact figures: mounted with the admin role (see `http::access`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(exact_aggregates))
}

fn etag(state: &AppState, raw_query: &str, figures: Figures) -> String {
    let mut h = DefaultHasher::new();
    raw_query.hash(&mut h);
    let exact = if figures == Figures::Exact { "x" } else { "" };
    format!(
        "W/\"{exact}v{}-{:x}\"",
        state.engine.snapshot().data_version,
        h.finish()
    )
}

/// The answers of both aggregate endpoints, in the OpenAPI document: the layer (GeoJSON or
/// CSV) with its ETag, or 304.
struct LayerResponses;

impl utoipa::IntoResponses for LayerResponses {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let text = || ObjectBuilder::new().schema_type(Type::String).build();
        let etag = HeaderBuilder::new()
            .schema(Some(text()))
            .description(Some("Weak tag of the data version and query"))
            .build();
        let layer = ResponseBuilder::new()
            .description("The layer; `Content-Disposition: attachment` with `download`")
            .header("ETag", etag)
            .content(
                "application/geo+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Layer")))
                    .build(),
            )
            .content(
                "text/csv",
                ContentBuilder::new().schema(Some(text())).build(),
            )
            .build();
        let not_modified = ResponseBuilder::new()
            .description("Not modified (`If-None-Match` matched the ETag)")
            .build();
        BTreeMap::from([
            ("200".to_string(), layer.into()),
            ("304".to_string(), not_modified.into()),
        ])
    }
}

/// Answers 304 when the client's `If-None-Match` matches (weak comparison).
pub use super::conditional::not_modified;

/// The query of an aggregates request.
type PairsQuery = super::query::Params<super::params::AggregateQuery>;

/// `GET /api/v1/aggregates`: the public, perturbed figures.
#[utoipa::path(
    get,
    path = "/api/v1/aggregates",
    tag = "aggregates",
    summary = "An aggregate layer as GeoJSON or CSV (with an HXL hashtag row)",
    description = "Perturbed and suppressed figures (PRIVACY.md): counts from 1 to k−1 and values derivable from published ones are null and listed in `suppressed`. Coordinates are CRS84 longitude/latitude degrees; money is US dollars per year.",
    params(super::params::AggregateQuery),
    responses(LayerResponses)
)]
pub(super) async fn public_aggregates(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    query: PairsQuery,
) -> Result<Response, Error> {
    aggregates(state, headers, raw, query, Figures::Public).await
}

/// `GET /api/v1/admin/aggregates`: the same layers with exact (unperturbed, still
/// suppressed) figures, for admins only (the route table says so).
#[utoipa::path(
    get,
    path = "/api/v1/admin/aggregates",
    tag = "admin",
    summary = "The same layers with exact (unperturbed, still suppressed) figures",
    description = "`Cache-Control: private, no-store`.",
    params(super::params::AggregateQuery),
    responses(LayerResponses)
)]
pub(super) async fn exact_aggregates(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    query: PairsQuery,
) -> Result<Response, Error> {
    aggregates(state, headers, raw, query, Figures::Exact).await
}

async fn aggregates(
    state: AppState,
    headers: HeaderMap,
    raw: Option<String>,
    query: PairsQuery,
    figures: Figures,
) -> Result<Response, Error> {
    let pairs = query.pairs();
    let req = LayerRequest::from_pairs(&pairs, &[])?;
    let tag = etag(&state, raw.as_deref().unwrap_or(""), figures);
    if let Some(r) = not_modified(&headers, &tag) {
        return Ok(r);
    }
    let encoding = super::conditional::negotiate(&headers);
    let key = (tag.clone(), encoding);
    if let Some(hit) = state.responses.get(&key) {
        return Ok(hit);
    }
    let layer = publish::layer(&state.engine, &req, figures).await?;
    let units = publish::selected_units(&layer, req.bbox);
    // Classes of the whole published layer, whatever the box: an area keeps its colour when
    // the map pans, and the classes are those of the tiles (the layer is published anyway).
    let classification = publish::classify(&layer, &publish::selected_units(&layer, None), &req)?;
    let get = |name: &str| super::param(&pairs, name);
    let format = publish::Format::parse(get("format"))?;
    let download = matches!(get("download"), Some("1" | "true" | "yes"));
    let req_filters = req.filter_params.clone();
    // Built and compressed off the async workers: a whole-US layer is megabytes of text.
    let built = tokio::task::spawn_blocking(move || {
        let body = format.write(&layer, &units, &req, &classification);
        (encoding.compress(body.as_bytes()), layer)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?;
    let (body, layer) = built;
    let (content_type, ext) = (format.content_type(), format.extension());
    let mut response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(match figures {
                    Figures::Public => "public, max-age=60, must-revalidate",
                    Figures::Exact => "private, no-store",
                }),
            ),
        ],
        axum::body::Bytes::from(body),
    )
        .into_response();
    let h = response.headers_mut();
    if let Some(coding) = encoding.header() {
        // Already compressed: the compression layer leaves encoded responses alone.
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&tag).expect("ASCII etag"),
    );
    if download {
        let name = format!(
            "attachment; filename=\"{}.{ext}\"",
            publish::download_name(&layer, &req_filters, &publish::today())
        );
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&name).expect("ASCII file name"),
        );
    }
    Ok(state
        .responses
        .insert(layer.data_version, key, response)
        .await)
}
