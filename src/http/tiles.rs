//! `GET /tiles/…`: vector and raster tiles, the basemap, TileJSON and legends.
//!
//! | path | content |
//! |---|---|
//! | `/tiles` | catalogue of layers |
//! | `/tiles/{layer}.json` | TileJSON 3.0.0 (`?format=png` for the raster tiles) |
//! | `/tiles/{layer}/legend.json?z=` | the classification the tiles at zoom z are drawn with |
//! | `/tiles/{layer}/{z}/{x}/{y}.mvt` | Mapbox Vector Tile 2.1 |
//! | `/tiles/{layer}/{z}/{x}/{y}.png`, `…@2x.png` | PNG choropleth, 256 or 512 px |
//!
//! Layers: `hexagons`, `states`, `counties`, `places`, `basemap` (PNG only). The query takes
//! the filters and `metric`/`metrics`/`skill` of `/api/v1/aggregates` (`res` on hexagons
//! fixes the resolution at every zoom); `v` pins a data version (TileJSON adds it), which
//! makes the response cacheable for a day.
//!
//! The hit path reads only the path, the query string and two headers before answering
//! from the cache; the query is parsed and validated on a miss only (a bad query is never
//! cached, so it is always rejected).

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::params::{LegendQuery, TileJsonQuery, TileQuery};
use super::query::Params as Typed;
use crate::error::Error;
use crate::http::AppState;
use crate::tiles::cache::{Cached, Encoding, TileKey};
use crate::tiles::mercator::MAX_ZOOM;
use crate::tiles::{
    aggregate_request, aggregate_source, basemap, parse_index, place_set, places_request,
    places_source, ready_aggregate_source, render, tilejson, Format, TileId, TileLayer,
};

/// The tiles (each makes its own ETag and Cache-Control from its bytes).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(tile))
}

/// The catalogue, TileJSON and legends: data (ETag and Cache-Control from the data layer,
/// see [`super::access`]).
pub fn data_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(catalogue))
        .routes(routes!(tile_json))
        .routes(routes!(legend))
}

const MVT_CACHE: &str = "public, max-age=60, stale-while-revalidate=60";
const PINNED_CACHE: &str = "public, max-age=86400, immutable";
const BASEMAP_CACHE: &str = "public, max-age=86400, stale-while-revalidate=604800";

#[utoipa::path(
    get,
    path = "/tiles/{layer}/{z}/{x}/{file}",
    tag = "tiles",
    summary = "A tile: Mapbox Vector Tile (`{y}.mvt`, `.pbf`) or PNG choropleth (`{y}.png`)",
    description = "Web Mercator (EPSG:3857) XYZ tiles. Hexagons and counties with a hidden count are left out (PRIVACY.md, rule 2).",
    params(
        ("layer" = String, Path, description = "`hexagons`, `states`, `counties`, `places` or `basemap`"),
        ("z" = u8, Path, maximum = 22, description = "Zoom"),
        ("x" = u32, Path, description = "Column"),
        ("file" = String, Path, pattern = r"^[0-9]+\.(mvt|pbf|png)$", description = "`{y}.{format}`: the row and the format"),
        TileQuery,
    ),
    responses(
        (status = 200, description = "The tile", headers(("ETag" = String)), content(
            (Vec<u8> = "application/vnd.mapbox-vector-tile"),
            (Vec<u8> = "image/png"),
        )),
        (status = 204, description = "An empty vector tile"),
        (status = 304, description = "Not modified"),
        (status = 404, description = "No such layer", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json"),
    ),
)]
pub(super) async fn tile(State(state): State<AppState>, req: Request) -> Response {
    match serve_tile(&state, req.uri(), req.headers()).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// A tile address parsed from the path.
struct Address {
    layer: TileLayer,
    tile: TileId,
    format: Format,
}

fn parse_path(path: &str) -> Result<Address, Error> {
    let rest = path.strip_prefix("/tiles/").unwrap_or(path);
    let mut seg = rest.split('/');
    let (Some(layer), Some(z), Some(x), Some(file), None) =
        (seg.next(), seg.next(), seg.next(), seg.next(), seg.next())
    else {
        return Err(Error::NotFound("tile path".into()));
    };
    let layer =
        TileLayer::parse(layer).ok_or_else(|| Error::NotFound(format!("tile layer {layer:?}")))?;
    let bad_z = || Error::invalid("z", format!("{z:?} is not a zoom from 0 to {MAX_ZOOM}"));
    let z = parse_index(z)
        .and_then(|z| u8::try_from(z).ok())
        .filter(|z| *z <= MAX_ZOOM)
        .ok_or_else(bad_z)?;
    let x =
        parse_index(x).ok_or_else(|| Error::invalid("x", format!("{x:?} is not a tile column")))?;
    let (y, format) = Format::parse_file(file).ok_or_else(|| {
        Error::invalid(
            "y",
            format!("{file:?}: use {{y}}.mvt, {{y}}.png or {{y}}@2x.png"),
        )
    })?;
    let last = (1u64 << z) - 1;
    let tile = TileId::new(z, x, y).ok_or_else(|| {
        Error::invalid(
            if u64::from(x) > last { "x" } else { "y" },
            format!("tile {z}/{x}/{y} does not exist: x and y run from 0 to {last} at zoom {z}"),
        )
    })?;
    let (lo, hi) = layer.zooms();
    if z < lo || z > hi {
        return Err(Error::invalid(
            "z",
            format!(
                "the {} layer is served from zoom {lo} to {hi}; clients overzoom beyond",
                layer.name()
            ),
        ));
    }
    if layer == TileLayer::Basemap && format == Format::Mvt {
        return Err(Error::invalid(
            "format",
            "the basemap is raster only: ask for .png",
        ));
    }
    Ok(Address {
        layer,
        tile,
        format,
    })
}

/// The encoding of a cached tile for this request ([`super::conditional::negotiate`]).
pub use super::conditional::negotiate;

/// Whether the query pins the data version the tile was cut from (`v=`).
fn pinned(query: &str, version: u64) -> bool {
    query
        .split('&')
        .filter_map(|p| p.strip_prefix("v="))
        .any(|v| v.parse::<u64>() == Ok(version))
}

fn content_tag(raw: &[u8], encoding: Encoding) -> String {
    format!("\"{:016x}{}\"", content_hash(raw), encoding.etag_suffix())
}

/// A 64-bit hash of a tile's bytes for its ETag: eight bytes per step (multiply–rotate, as
/// FxHash, then a final avalanche), several times faster than SipHash on large tiles. Not
/// keyed: tile contents are not chosen by clients, and ETags must agree across replicas.
fn content_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut h: u64 = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("eight bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
    }
    // fmix64 (MurmurHash3): every input bit affects every output bit.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// What a tile request asks for, resolved against the current data version.
struct Lookup<'a> {
    layer: TileLayer,
    tile: TileId,
    format: Format,
    encoding: Encoding,
    key: TileKey<'a>,
}

fn lookup<'a>(state: &AppState, uri: &'a Uri, headers: &HeaderMap) -> Result<Lookup<'a>, Error> {
    let path = uri.path();
    let query = uri.query().unwrap_or("");
    let Address {
        layer,
        tile,
        format,
    } = parse_path(path)?;
    let encoding = if format == Format::Mvt {
        negotiate(headers)
    } else {
        Encoding::Identity
    };
    let version = match layer {
        TileLayer::Basemap => basemap::STYLE_VERSION,
        TileLayer::Places => place_set(&state.tiles).1,
        _ => {
            let v = state.engine.snapshot().data_version;
            state.tiles.cache.observe_version(v);
            v
        }
    };
    Ok(Lookup {
        layer,
        tile,
        format,
        encoding,
        key: TileKey {
            version,
            encoding,
            path,
            query,
        },
    })
}

/// The answer to a tile request that needs no waiting: a cache hit, or a vector tile of
/// an aggregate layer whose source is already prepared (cut inline, as [`serve_tile`]
/// would). `None` otherwise, and for anything invalid: the full handler answers those.
/// Called before routing by [`super::edge`], so it must answer exactly as [`serve_tile`].
pub fn fast_tile(state: &AppState, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    let l = lookup(state, uri, headers).ok()?;
    if let Some(hit) = state.tiles.cache.get(&l.key) {
        return Some(respond_to(&l, &hit, headers));
    }
    if l.format != Format::Mvt || matches!(l.layer, TileLayer::Basemap | TileLayer::Places) {
        return None;
    }
    let pairs = parse_query(uri).ok()?;
    let (unit, req) = aggregate_request(l.layer, l.tile.z, &pairs, &[]).ok()?;
    let source = ready_aggregate_source(&state.tiles, unit, &req)?;
    let raw = render(&source, l.tile, l.format).ok()?;
    Some(store_and_respond(state, l, raw, source.version, headers))
}

/// The aggregate layer a tile, TileJSON or legend request at `path` (percent-decoded)
/// computes, parsed as its handler parses it; `None` for anything else or invalid.
pub(super) fn requested_layer(
    path: &str,
    pairs: &[(String, String)],
) -> Option<(crate::aggregate::Unit, crate::aggregate::Filter)> {
    let rest = path.strip_prefix("/tiles/")?;
    let (layer, z, extra): (_, _, &[&str]) = match rest.split('/').collect::<Vec<_>>()[..] {
        [file] => (
            TileLayer::parse(file.strip_suffix(".json")?)?,
            5,
            &["format"],
        ),
        [layer, "legend.json"] => {
            let z = super::param(pairs, "z").and_then(parse_index)?;
            (TileLayer::parse(layer)?, u8::try_from(z).ok()?, &["z"])
        }
        [_, _, _, _] => {
            let a = parse_path(path).ok()?;
            (a.layer, a.tile.z, &[])
        }
        _ => return None,
    };
    if !layer.is_aggregate() {
        return None;
    }
    let (unit, req) = aggregate_request(layer, z, pairs, extra).ok()?;
    Some((unit, req.filter))
}

fn respond_to(l: &Lookup<'_>, c: &Cached, headers: &HeaderMap) -> Response {
    let pinned = pinned(l.key.query, l.key.version);
    respond(c, l.layer, l.format, l.encoding, pinned, headers)
}

async fn serve_tile(state: &AppState, uri: &Uri, headers: &HeaderMap) -> Result<Response, Error> {
    let l = lookup(state, uri, headers)?;
    if let Some(hit) = state.tiles.cache.get(&l.key) {
        return Ok(respond_to(&l, &hit, headers));
    }
    let (tile, format, version) = (l.tile, l.format, l.key.version);
    let pairs = parse_query(uri)?;
    let (raw, version) = match l.layer {
        TileLayer::Basemap => {
            if let Some((k, _)) = pairs.first() {
                return Err(Error::invalid(k, "the basemap takes no parameters"));
            }
            let Format::Png(scale) = format else {
                unreachable!("checked in parse_path")
            };
            let png = tokio::task::spawn_blocking(move || basemap::render(tile, scale))
                .await
                .map_err(|e| Error::Internal(e.to_string()))??;
            (Some(png), version)
        }
        TileLayer::Places => {
            let kinds = places_request(&pairs, &[])?;
            let source = places_source(&state.tiles, kinds, place_properties).await;
            (render(&source, tile, format)?, source.version)
        }
        _ => {
            let (unit, req) = aggregate_request(l.layer, tile.z, &pairs, &[])?;
            let source = aggregate_source(&state.tiles, unit, &req).await?;
            let raw = match format {
                // Vector tiles are cut inline: a few hundred microseconds, less than a hop
                // to the blocking pool and back.
                Format::Mvt => render(&source, tile, format)?,
                Format::Png(_) => {
                    let s = source.clone();
                    tokio::task::spawn_blocking(move || render(&s, tile, format))
                        .await
                        .map_err(|e| Error::Internal(e.to_string()))??
                }
            };
            (raw, source.version)
        }
    };
    Ok(store_and_respond(state, l, raw, version, headers))
}

/// Makes the cache entry of a cut tile (ETag, body compressed for the client), stores it
/// under the version of the data it was cut from, and answers.
fn store_and_respond(
    state: &AppState,
    l: Lookup<'_>,
    raw: Option<Vec<u8>>,
    version: u64,
    headers: &HeaderMap,
) -> Response {
    let cached = match raw {
        None => Cached {
            body: None,
            etag: HeaderValue::from_static("\"empty\""),
        },
        Some(raw) => {
            let etag = content_tag(&raw, l.encoding);
            let body = if l.encoding == Encoding::Identity {
                raw
            } else {
                l.encoding.compress(&raw)
            };
            Cached {
                body: Some(Bytes::from(body)),
                etag: HeaderValue::from_str(&etag).expect("ETags are ASCII"),
            }
        }
    };
    let l = Lookup {
        key: TileKey { version, ..l.key },
        ..l
    };
    state.tiles.cache.insert(&l.key, cached.clone());
    respond_to(&l, &cached, headers)
}

/// A place's properties in tiles: those of its feature everywhere else ([`Place::properties`]).
///
/// [`Place::properties`]: crate::places::Place::properties
fn place_properties(place: &crate::places::Place) -> serde_json::Map<String, serde_json::Value> {
    crate::places::feature::to_object(&place.properties(None))
}

/// The query of a tile, parsed by its typed struct ([`TileQuery`]: a name it does not know
/// is refused), as the pairs the tile parsers check per layer.
fn parse_query(uri: &Uri) -> Result<Vec<(String, String)>, Error> {
    let query: TileQuery = super::query::parse(uri.query().unwrap_or(""))?;
    Ok(super::query::pairs(&query))
}

fn respond(
    c: &Cached,
    layer: TileLayer,
    format: Format,
    encoding: Encoding,
    pinned: bool,
    headers: &HeaderMap,
) -> Response {
    let cache_control = match layer {
        TileLayer::Basemap => BASEMAP_CACHE,
        _ if pinned => PINNED_CACHE,
        _ => MVT_CACHE,
    };
    let mut builder = Response::builder().header(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    if format == Format::Mvt {
        builder = builder.header(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    let Some(body) = &c.body else {
        return builder
            .status(StatusCode::NO_CONTENT)
            .body(Body::empty())
            .unwrap_or_default();
    };
    builder = builder.header(header::ETAG, c.etag.clone());
    if super::conditional::etag_matches(headers, c.etag.to_str().unwrap_or_default()) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    builder = builder.header(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Some(ce) = encoding.header() {
        builder = builder.header(header::CONTENT_ENCODING, HeaderValue::from_static(ce));
    }
    builder
        .status(StatusCode::OK)
        .body(Body::from(body.clone()))
        .unwrap_or_default()
}

/// The service's own address as the client sees it, for absolute URLs in TileJSON.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    super::conditional::base_url(headers, &state.config.addr)
}

#[utoipa::path(
    get,
    path = "/tiles",
    tag = "tiles",
    summary = "The tile layers, with links to their TileJSON",
    responses((status = 200, description = "The catalogue", body = serde_json::Value)),
)]
pub(super) async fn catalogue(
    State(state): State<AppState>,
    headers: HeaderMap,
    _: super::query::Params<super::query::NoParams>,
) -> Response {
    let base = base_url(&state, &headers);
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(tilejson::catalogue(&base)),
    )
        .into_response()
}

/// The raw query without some parameters, keeping the client's own encoding.
fn query_without(uri: &Uri, drop: &[&str]) -> String {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !drop.contains(&p.split('=').next().unwrap_or("")))
        .collect::<Vec<_>>()
        .join("&")
}

#[utoipa::path(
    get,
    path = "/tiles/{file}",
    tag = "tiles",
    summary = "TileJSON 3.0.0 of a layer (`/tiles/{layer}.json`)",
    params(
        ("file" = String, Path, pattern = r"^(hexagons|states|counties|places|basemap)\.json$", description = "`{layer}.json`"),
        TileJsonQuery,
    ),
    responses(
        (status = 200, description = "The TileJSON", body = serde_json::Value),
        (status = 404, description = "No such layer", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json"),
    ),
)]
pub(super) async fn tile_json(
    State(state): State<AppState>,
    axum::extract::Path(file): axum::extract::Path<String>,
    headers: HeaderMap,
    uri: Uri,
    query: Typed<TileJsonQuery>,
) -> Result<Response, Error> {
    let name = file.strip_suffix(".json").ok_or_else(|| {
        Error::NotFound(format!("{file:?} (TileJSON is at /tiles/{{layer}}.json)"))
    })?;
    let layer =
        TileLayer::parse(name).ok_or_else(|| Error::NotFound(format!("tile layer {name:?}")))?;
    let pairs = query.pairs();
    let png = match query.0.format.as_deref() {
        None | Some("mvt" | "pbf") => false,
        Some("png") => true,
        Some(other) => {
            return Err(Error::invalid(
                "format",
                format!("{other:?}: use mvt or png"),
            ))
        }
    };
    let base = base_url(&state, &headers);
    let mut query = query_without(&uri, &["format", "v"]);
    let (source, version) = match layer {
        TileLayer::Basemap => {
            if let Some((k, _)) = pairs.iter().find(|(k, _)| k != "format") {
                return Err(Error::invalid(k, "the basemap takes no parameters"));
            }
            (None, basemap::STYLE_VERSION)
        }
        TileLayer::Places => {
            let kinds = places_request(&pairs, &["format"])?;
            let s = places_source(&state.tiles, kinds, place_properties).await;
            let v = s.version;
            (Some(s), v)
        }
        _ => {
            // The fields are those of the layer at its most typical zoom (5); the same at all.
            let (unit, req) = aggregate_request(layer, 5, &pairs, &["format"])?;
            let s = aggregate_source(&state.tiles, unit, &req).await?;
            let v = s.version;
            (Some(s), v)
        }
    };
    if layer != TileLayer::Basemap {
        query = if query.is_empty() {
            format!("v={version}")
        } else {
            format!("{query}&v={version}")
        };
    }
    let doc = tilejson::document(
        layer,
        &base,
        &query,
        png,
        source.as_deref(),
        version,
        state.tiles.cache.basemap_url.as_deref(),
    );
    Ok(([(header::CACHE_CONTROL, "public, max-age=60")], Json(doc)).into_response())
}

#[utoipa::path(
    get,
    path = "/tiles/{layer}/legend.json",
    tag = "tiles",
    summary = "The classes (breaks and colours) of an aggregate layer at a zoom",
    params(("layer" = String, Path, description = "`hexagons`, `states`, `counties`, `places` or `basemap`"), LegendQuery),
    responses(
        (status = 200, description = "The legend", body = serde_json::Value),
        (status = 404, description = "No such layer", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json"),
    ),
)]
pub(super) async fn legend(
    State(state): State<AppState>,
    axum::extract::Path(name): axum::extract::Path<String>,
    query: Typed<LegendQuery>,
) -> Result<Response, Error> {
    let layer =
        TileLayer::parse(&name).ok_or_else(|| Error::NotFound(format!("tile layer {name:?}")))?;
    if !layer.is_aggregate() {
        return Err(Error::invalid(
            "layer",
            format!("the {name} layer has no legend classes"),
        ));
    }
    let pairs = query.pairs();
    let (lo, hi) = layer.zooms();
    let z = match query.0.z.as_deref() {
        None => {
            return Err(Error::invalid(
                "z",
                "give the zoom the legend is for (the hexagon resolution depends on it)",
            ))
        }
        Some(z) => parse_index(z)
            .and_then(|z| u8::try_from(z).ok())
            .filter(|z| (lo..=hi).contains(z))
            .ok_or_else(|| {
                Error::invalid(
                    "z",
                    format!("{z:?}: the {name} layer has zooms {lo} to {hi}"),
                )
            })?,
    };
    let (unit, req) = aggregate_request(layer, z, &pairs, &["z"])?;
    let source = aggregate_source(&state.tiles, unit, &req).await?;
    let body = json!({
        "layer": name,
        "zoom": z,
        "unit": unit.name(),
        "res": match unit { crate::aggregate::Unit::H3(r) => Some(r), _ => None },
        "data_version": source.version,
        "min_count": state.engine.min_count(),
        "classification": source.classification,
    });
    Ok(([(header::CACHE_CONTROL, "public, max-age=60")], Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_are_checked_before_anything_is_computed() {
        assert!(parse_path("/tiles/hexagons/3/2/3.mvt").is_ok());
        assert!(matches!(
            parse_path("/tiles/nope/3/2/3.mvt"),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            parse_path("/tiles/hexagons/3/8/3.mvt"),
            Err(Error::InvalidParam { .. })
        ));
        assert!(matches!(
            parse_path("/tiles/hexagons/23/0/0.mvt"),
            Err(Error::InvalidParam { .. })
        ));
        assert!(matches!(
            parse_path("/tiles/basemap/3/2/3.mvt"),
            Err(Error::InvalidParam { .. })
        ));
        assert!(matches!(
            parse_path("/tiles/counties/1/0/0.mvt"),
            Err(Error::InvalidParam { .. })
        ));
    }

    #[test]
    fn content_hashes_differ_when_one_byte_does() {
        let a: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut b = a.clone();
        b[5_000] ^= 1;
        assert_ne!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a[..9_999]), content_hash(&a));
        assert_eq!(content_hash(&a), content_hash(&a.clone()));
    }

    #[test]
    fn a_version_in_the_query_pins_the_tile() {
        assert!(pinned("metric=count&v=12", 12));
        assert!(!pinned("metric=count&v=11", 12));
        assert!(!pinned("metric=count", 12));
    }
}
