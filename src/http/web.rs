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
use axum::routing::get;
use axum::{Json, Router};
use rust_embed::RustEmbed;
use serde_json::{json, Value};

use super::conditional::{not_modified, AcceptEncoding};
use super::problem::Problem;
use crate::aggregate::{compute, publish, Engine, Filter, Snapshot, Unit};
use crate::app::AppState;
use crate::error::Error;

/// The built front-end. `allow_missing` keeps the crate building before `npm run build`.
#[derive(RustEmbed)]
#[folder = "web/dist/"]
#[allow_missing = true]
struct Assets;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/favicon.svg", get(favicon))
        .route("/assets/{*path}", get(asset))
        .route("/api/v1/methodology", get(methodology))
}

/// Hashed file names under `assets/` never change content: cache them for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The page itself is revalidated on every load, so a new release is picked up at once.
const REVALIDATE: &str = "no-cache";

async fn index(headers: HeaderMap) -> Response {
    match Assets::get("index.html") {
        Some(_) => serve("index.html", REVALIDATE, &headers),
        None => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the web map was not built into this binary: run scripts/setup-web.sh (npm ci && npm run build in web/), then rebuild",
        )
        .into_response(),
    }
}

async fn favicon(headers: HeaderMap) -> Response {
    serve("favicon.svg", "public, max-age=86400", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
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

/// `GET /api/v1/methodology`: how many records, in which survey rounds and months, and the
/// minimum published count. Every count is a national figure of a privacy-checked layer;
/// a round's first and last months are the months whose published count is not zero.
async fn methodology(State(state): State<AppState>) -> Result<Response, Error> {
    let snap = state.engine.snapshot();
    // Computed once per data version (concurrent first requests wait for the one
    // computing); the cache lives in the state, one per service.
    let body = match state.methodology.get(&snap.data_version) {
        Some(body) => body,
        None => {
            let (cache, engine) = (state.methodology.clone(), state.engine.clone());
            tokio::task::spawn_blocking(move || {
                cache
                    .try_get_with(snap.data_version, || methodology_body(&snap, &engine))
                    .map_err(Error::from_shared)
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
        }
    };
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=60, must-revalidate")],
        Json(body),
    )
        .into_response())
}

/// The published national count of `filter` (`None` when suppressed), perturbed as every
/// public figure is.
fn national_count(snap: &Snapshot, filter: &Filter, engine: &Engine) -> Result<Option<u64>, Error> {
    let layer = publish(
        compute(snap, Unit::State, filter, engine.min_count())?,
        engine.noise(),
    );
    Ok(layer
        .national_properties(&[], None)
        .get("count")
        .and_then(Value::as_u64))
}

fn month_name(m: u32) -> String {
    format!("{:04}-{:02}", m / 12, m % 12 + 1)
}

fn methodology_body(snap: &Snapshot, engine: &Engine) -> Result<Value, Error> {
    let k = engine.min_count();
    let records = national_count(snap, &Filter::default(), engine)?;
    let mut rounds = Vec::new();
    for (r, name) in snap.rounds.iter().enumerate() {
        // Round names are codes since imports check them; a database written before may
        // hold others (free text, commas): those are not published, and nothing stored
        // may make this public page fail.
        if !crate::ingest::validate::is_round_code(name) {
            tracing::warn!(
                round = r,
                "a stored survey round name is not a code: left out of the methodology"
            );
            continue;
        }
        match round_summary(snap, r, name, engine) {
            Ok(round) => rounds.push(round),
            Err(e) => {
                tracing::warn!(round = name, error = %e, "survey round left out of the methodology")
            }
        }
    }
    let noise = engine.noise();
    let p = noise.params;
    Ok(json!({
        "data_version": snap.data_version,
        "release": snap.data_version,
        "min_count": k,
        "records": records,
        "rounds": rounds,
        "perturbation": {
            "method": "cell-key",
            "max": p.max,
            "variance": p.variance,
            "never": (1..=p.small).collect::<Vec<u32>>(),
            "total_share": p.magnitude,
            "median_share": p.median,
            "release_interval_hours": engine.release_interval().as_secs() / 3600,
        },
    }))
}

/// A survey round's published count and its first and last months with a published count.
fn round_summary(snap: &Snapshot, r: usize, name: &str, engine: &Engine) -> Result<Value, Error> {
    let filter = |extra: &[(&str, &str)]| {
        Filter::from_params([("round", name)].into_iter().chain(extra.iter().copied()))
    };
    let count = national_count(snap, &filter(&[])?, engine)?;
    // Candidate months come from the snapshot; only those with a published count show.
    let mut months: Vec<u32> = (0..snap.len())
        .filter(|&i| usize::from(snap.round[i]) == r)
        .map(|i| snap.month[i])
        .collect();
    months.sort_unstable();
    months.dedup();
    let mut published = Vec::new();
    for m in months {
        let ym = month_name(m);
        if national_count(snap, &filter(&[("from", &ym), ("to", &ym)])?, engine)?
            .is_some_and(|n| n > 0)
        {
            published.push(ym);
        }
    }
    Ok(json!({
        "name": name,
        "count": count,
        "first_month": published.first(),
        "last_month": published.last(),
    }))
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

    #[test]
    fn months_print_as_year_and_month() {
        assert_eq!(month_name(2025 * 12), "2025-01");
        assert_eq!(month_name(2026 * 12 + 11), "2026-12");
    }
}
