//! The web map: the built front-end (`web/dist/`, made by `npm run build` in `web/`) served
//! from the binary, and `GET /api/v1/methodology`, the figures of its methodology panel.
//!
//! Release builds embed `web/dist/`, so the one binary serves the map offline; debug builds
//! read the folder from disk at each request (rust-embed), so a rebuilt front-end shows up
//! without recompiling. When the front-end was never built the page answers 503 with the
//! command to run, and the API keeps working.
//!
//! Only `/`, `/index.html`, `/favicon.svg` and `/assets/*` are served here: every other
//! unknown path stays with the router's problem+json 404.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rust_embed::RustEmbed;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::conditional::{not_modified, AcceptEncoding};
use super::problem::Problem;
use crate::error::Error;
use crate::http::AppState;

/// The built front-end. `allow_missing` keeps the crate building before `npm run build`.
#[derive(RustEmbed)]
#[folder = "web/dist/"]
#[allow_missing = true]
struct Assets;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(index))
        .routes(routes!(index_html))
        .routes(routes!(favicon))
        .routes(routes!(asset))
}

/// `/api/v1/methodology`: data (ETag and Cache-Control from the data layer, see
/// [`super::access`]).
pub fn methodology_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(methodology))
}

/// Hashed file names under `assets/` never change content: cache them for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The page itself is revalidated on every load, so a new release is picked up at once.
const REVALIDATE: &str = "no-cache";

#[utoipa::path(get, path = "/", tag = "page", responses((status = 200, description = "The web map", content_type = "text/html")))]
pub(super) async fn index(headers: HeaderMap) -> Response {
    match Assets::get("index.html") {
        Some(_) => serve("index.html", REVALIDATE, &headers),
        None => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the web map was not built into this binary: run scripts/setup-web.sh (npm ci && npm run build in web/), then rebuild",
        )
        .into_response(),
    }
}

#[utoipa::path(get, path = "/favicon.svg", tag = "page", responses((status = 200, description = "The icon", content_type = "image/svg+xml")))]
pub(super) async fn favicon(headers: HeaderMap) -> Response {
    serve("favicon.svg", "public, max-age=86400", &headers)
}

#[utoipa::path(get, path = "/assets/{*path}", tag = "page", params(("path" = String, Path)), responses((status = 200, description = "A file of the web map")))]
pub(super) async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("assets/{path}"), IMMUTABLE, &headers)
}

/// One embedded file with its content type, a strong ETag (its SHA-256) and 304 support.
/// The Brotli or gzip copy written by the build (`web/compress.mjs`) is sent when the
/// client accepts it, so the compression layer has nothing left to do for these files.
fn serve(name: &str, cache: &'static str, headers: &HeaderMap) -> Response {
    let accepted = AcceptEncoding::of(headers);
    let encoded = [("br", "br"), ("gzip", "gz")]
        .into_iter()
        .filter(|(coding, _)| accepted.accepts(coding))
        .find_map(|(coding, ext)| Assets::get(&format!("{name}.{ext}")).map(|f| (Some(coding), f)));
    let Some((coding, file)) = encoded.or_else(|| Assets::get(name).map(|f| (None, f))) else {
        return Error::NotFound(format!("file {name:?}")).into_response();
    };
    let hash = hex::encode(&file.metadata.sha256_hash()[..16]);
    let tag = match coding {
        Some(c) => format!("\"{hash}-{c}\""),
        None => format!("\"{hash}\""),
    };
    if let Some(mut r) = not_modified(headers, &tag) {
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        return r;
    }
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(name)),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        file.data.into_owned(),
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&tag).expect("hex etag"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(c) = coding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(c));
    }
    response
}

/// Content type by file extension, for the kinds of file Vite emits.
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `GET /api/v1/methodology`: the figures of [`crate::publish::methodology::figures`],
/// computed once per data version.
#[utoipa::path(
    get,
    path = "/api/v1/methodology",
    tag = "service",
    summary = "The records, survey rounds and months behind the figures, and the privacy parameters",
    responses((status = 200, description = "The methodology", body = serde_json::Value)),
)]
pub(super) async fn methodology(
    State(state): State<AppState>,
    _: super::query::Params<super::query::NoParams>,
) -> Result<Response, Error> {
    let body = methodology_figures(&state).await?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=60, must-revalidate")],
        Json(body),
    )
        .into_response())
}

/// The methodology figures of the current data version, computed once per version
/// (concurrent first requests wait for the one computing); the cache lives in the state, one
/// per service. The downloads' metadata reads them too.
///
/// # Errors
/// A failed computation or worker, as internal.
pub(super) async fn methodology_figures(state: &AppState) -> Result<serde_json::Value, Error> {
    let snap = state.engine.snapshot();
    if let Some(body) = state.methodology.get(&snap.data_version) {
        return Ok(body);
    }
    let (cache, engine) = (state.methodology.clone(), state.engine.clone());
    tokio::task::spawn_blocking(move || {
        cache.get_or_insert_with(&snap.data_version, || {
            crate::publish::methodology::figures(&snap, &engine)
        })
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("assets/index-3f2a.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("assets/layers-2x.png"), "image/png");
        assert_eq!(content_type("noextension"), "application/octet-stream");
    }
}

/// `GET /index.html`: the page again, under its file name.
#[utoipa::path(get, path = "/index.html", tag = "page", responses((status = 200, description = "The web map", content_type = "text/html")))]
pub(super) async fn index_html(headers: HeaderMap) -> Response {
    index(headers).await
}
