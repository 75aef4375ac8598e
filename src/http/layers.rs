//! `GET /api/v1/aggregates`: the aggregate layers as GeoJSON (`application/geo+json`) or CSV
//! with an HXL hashtag row, with the legend's classification, ETag and 304; and
//! `GET /api/v1/aggregates/csv-metadata.json`, the CSVW metadata a CSV links to
//! (`Link: …; rel="describedby"`). The figures and the formats are [`crate::publish`]'s;
//! this file parses, caches and answers.

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
use crate::publish::{self, LayerRequest, Provenance};

/// The public, perturbed layers (they make their own ETag).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(public_aggregates))
}

/// The CSVW metadata of the layers' CSV (a data route: ETag by the data layer).
pub fn csv_metadata_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(csv_metadata))
}

/// The path of a CSV's CSVW metadata document (the same query as the CSV).
pub const CSV_METADATA: &str = "/api/v1/aggregates/csv-metadata.json";

/// Whether the service shows the synthetic demo set (`PlaceSet::is_demo`).
pub fn is_demo(state: &AppState) -> bool {
    state.places.get().is_demo()
}

/// The survey behind the figures (the methodology's published figures) and the demo flag.
pub(in crate::http) async fn provenance(state: &AppState) -> Result<Provenance, Error> {
    let m = super::web::methodology_figures(state).await?;
    Ok(Provenance::from_methodology(&m, is_demo(state)))
}

/// `hxl`: the CSV's hashtag row, there unless `0`, `false` or `no`.
fn with_hxl(pairs: &[(String, String)]) -> bool {
    !matches!(super::param(pairs, "hxl"), Some("0" | "false" | "no"))
}

fn is_download(pairs: &[(String, String)]) -> bool {
    matches!(super::param(pairs, "download"), Some("1" | "true" | "yes"))
}

/// `attachment; filename="…"`.
fn attachment(name: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).ok()
}

/// The exact figures: mounted with the admin role (see `http::access`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(exact_aggregates))
}

fn etag(state: &AppState, raw_query: &str, figures: Figures) -> String {
    let mut h = DefaultHasher::new();
    raw_query.hash(&mut h);
    // The demo flag is in the body and the file name; it follows the places.
    is_demo(state).hash(&mut h);
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
        let link = HeaderBuilder::new()
            .schema(Some(text()))
            .description(Some(
                "CSV only: its CSVW metadata, `rel=\"describedby\"; type=\"application/csvm+json\"`",
            ))
            .build();
        let layer = ResponseBuilder::new()
            .description("The layer; `Content-Disposition: attachment` with `download`")
            .header("ETag", etag)
            .header("Link", link)
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
    summary = "An aggregate layer as GeoJSON or CSV (with an HXL hashtag row unless hxl=0)",
    description = "Perturbed and suppressed figures (PRIVACY.md): counts from 1 to k−1 and values derivable from published ones are null and listed in `suppressed`. Coordinates are CRS84 longitude/latitude degrees; money is US dollars per year. The GeoJSON's `dyaspora:map` member says what the layer shows (measure, filters, extent, source, survey rounds and period, sample size, demo flag, data version); a CSV links to the same in its CSVW metadata (`Link: </api/v1/aggregates/csv-metadata.json?…>; rel=\"describedby\"; type=\"application/csvm+json\"`). With `download`, the file name states the unit, filters, release, date and `-demo` for demo data.",
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
    let req = LayerRequest::from_pairs(&pairs, &["hxl"])?;
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
    let format = publish::Format::parse(super::param(&pairs, "format"))?;
    let download = is_download(&pairs);
    let hxl = with_hxl(&pairs);
    let prov = provenance(&state).await?;
    let demo = prov.demo;
    let req_filters = req.filter_params.clone();
    // Built and compressed off the async workers: a whole-US layer is megabytes of text.
    let built = tokio::task::spawn_blocking(move || {
        let body = format.write(&layer, &units, &req, &classification, &prov, hxl);
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
        let variant = (format == publish::Format::Csv && !hxl).then_some("plain");
        let name = publish::download_name(&layer, &req_filters, &publish::today(), variant, demo);
        if let Some(v) = attachment(&format!("{name}.{ext}")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    if format == publish::Format::Csv && figures == Figures::Public {
        // RFC 8288 and CSVW's "locating metadata": the same query at the metadata route.
        let link = format!(
            "<{CSV_METADATA}?{}>; rel=\"describedby\"; type=\"application/csvm+json\"",
            raw.as_deref().unwrap_or("")
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            h.insert(header::LINK, v);
        }
    }
    Ok(state
        .responses
        .insert(layer.data_version, key, response)
        .await)
}

/// `GET /api/v1/aggregates/csv-metadata.json`: the CSVW metadata of the CSV the same query
/// makes at `/api/v1/aggregates` (the CSV's `Link` header points here).
#[utoipa::path(
    get,
    path = "/api/v1/aggregates/csv-metadata.json",
    tag = "aggregates",
    summary = "The CSVW metadata of an aggregate layer's CSV (W3C Metadata Vocabulary for Tabular Data)",
    description = "The same query as `/api/v1/aggregates` (its `format` is ignored: this describes the CSV). Title, filters, extent (`dc:spatial`), source, survey rounds and period, sample size, demo flag (`dyaspora:demo`), data version, and every column with its datatype: identifiers (FIPS codes, H3 indexes) are strings, so a reader that follows the datatypes keeps the leading zero of `01001`. `dialect.headerRowCount` is 2 when the CSV has its HXL row. `url` is the CSV's: its file name with `download` (the metadata is then saved as `{file}-metadata.json` beside it, where CSVW processors look), else the route that makes it.",
    params(super::params::AggregateQuery),
    responses(
        (status = 200, description = "The metadata document", body = serde_json::Value, content_type = "application/csvm+json"),
        (status = 304, description = "Not modified (`If-None-Match` matched the ETag)"),
    ),
)]
pub(super) async fn csv_metadata(
    State(state): State<AppState>,
    query: PairsQuery,
) -> Result<Response, Error> {
    let pairs = query.pairs();
    let req = LayerRequest::from_pairs(&pairs, &["hxl"])?;
    // Checked as the CSV route checks it, though this document ignores the format.
    publish::Format::parse(super::param(&pairs, "format"))?;
    let (hxl, download) = (with_hxl(&pairs), is_download(&pairs));
    let layer = publish::layer(&state.engine, &req, Figures::Public).await?;
    let prov = provenance(&state).await?;
    let name = format!(
        "{}.csv",
        publish::download_name(
            &layer,
            &req.filter_params,
            &publish::today(),
            (!hxl).then_some("plain"),
            prov.demo
        )
    );
    let url = if download {
        name.clone()
    } else {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "format") {
            q.append_pair(k, v);
        }
        q.append_pair("format", "csv");
        format!("/api/v1/aggregates?{}", q.finish())
    };
    let doc = tokio::task::spawn_blocking(move || {
        let units = publish::selected_units(&layer, req.bbox);
        publish::csvw::metadata(&layer, &units, &req, &prov, &url, hxl)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?;
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/csvm+json"),
        )],
        serde_json::to_string(&doc).unwrap_or_default(),
    )
        .into_response();
    if download {
        if let Some(v) = attachment(&format!("{name}-metadata.json")) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}
