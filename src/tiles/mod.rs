//! Map tiles: Mapbox Vector Tiles and PNG choropleths of the aggregate layers and places,
//! an offline PNG basemap, TileJSON 3.0.0, and the cache in front of them.
//!
//! The path from request to bytes:
//! 1. [`TileLayer`] and the query (the filters and `metric` of `/api/v1/aggregates`) name a
//!    layer; for hexagons the zoom picks the H3 resolution ([`HEXAGON_RESOLUTIONS`]).
//! 2. [`source::Source`]: the Engine's privacy-checked layer, projected to Web Mercator once
//!    and indexed by an R-tree, kept in [`cache::TileCache`] per (layer, filter, metric, data
//!    version).
//! 3. [`mvt::encode`] or [`raster::render`] cuts one tile from it; [`basemap::render`] draws
//!    the basemap from geodata.
//! 4. The HTTP edge (`http::tiles`) caches the encoded, compressed bytes under a byte bound,
//!    with ETags per encoding.
//!
//! Coordinates: lon/lat WGS84 degrees in, Web Mercator (EPSG:3857) tiles out, XYZ scheme.

pub mod basemap;
pub mod cache;
pub(crate) mod clip;
pub mod mercator;
pub mod mvt;
pub mod raster;
pub mod source;
pub(crate) mod tilejson;

use std::sync::Arc;

use crate::aggregate::{Engine, Unit};
use crate::error::Error;
use crate::places::{Category, KindFilter, Place, PlaceIndex, PlaceSet};
use crate::publish::LayerRequest;
use serde_json::{Map, Value};

pub use cache::TileCache;
pub use mercator::TileId;
use source::Source;

/// What the tile code needs from the service: the engine the layers come from, the cache
/// of sources and tiles, and the places. Cheap to clone (shared handles).
#[derive(Clone)]
pub struct Tiles {
    pub engine: Arc<Engine>,
    pub cache: Arc<TileCache>,
    pub places: Arc<PlaceIndex>,
}

/// H3 resolution of the hexagon layer by zoom: `(first zoom, last zoom, resolution)`.
///
/// Chosen so a hexagon's edge is about 8–30 pixels at mid-US latitudes (≈ 35°N), i.e. a
/// hexagon 15–60 pixels wide: big enough to read, hover and tap on a phone (the map's
/// table since wave 1; the tiles used one resolution finer at most zooms until #19, 4–10 px
/// edges that a finger cannot hit). Edge lengths are H3's averages; pixel size is
/// 156 543 m × cos 35° / 2^z.
///
/// | zoom | res | mean edge | edge on screen |
/// |---|---|---|---|
/// | 0–3 | 2 | 158 km | 1–10 px (the coarsest the engine has) |
/// | 4–5 | 3 | 60 km | 7–15 px |
/// | 6 | 4 | 23 km | 11 px |
/// | 7–8 | 5 | 8.5 km | 8–17 px |
/// | 9 | 6 | 3.2 km | 13 px |
/// | 10–11 | 7 | 1.2 km | 10–19 px |
/// | 12–13 | 8 | 460 m | 15–29 px |
/// | 14+ | 9 | 174 m | 22 px and more |
///
/// Finer cells hold fewer people, so more of them fall under the disclosure threshold and
/// are left out: the privacy rules, not the renderer, decide what a zoom can show.
///
/// The one table of the service: the tiles are cut with it, the catalogue (`GET /tiles`,
/// `hexagon_resolutions`) and the hexagons' TileJSON (`dyaspora:resolutions`) serve it, and
/// the web map reads it from the catalogue for its GeoJSON layer (`web/src/layers.js`);
/// `tests/api/tiles.rs` checks that what is served is [`hexagon_res`] at every zoom.
pub const HEXAGON_RESOLUTIONS: [(u8, u8, u8); 8] = [
    (0, 3, 2),
    (4, 5, 3),
    (6, 6, 4),
    (7, 8, 5),
    (9, 9, 6),
    (10, 11, 7),
    (12, 13, 8),
    (14, mercator::MAX_ZOOM, 9),
];

/// The hexagon resolution drawn at zoom `z`.
pub fn hexagon_res(z: u8) -> u8 {
    HEXAGON_RESOLUTIONS
        .iter()
        .find(|(a, b, _)| (*a..=*b).contains(&z))
        .map_or(9, |r| r.2)
}

/// The layers served as tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TileLayer {
    Hexagons,
    States,
    Counties,
    Places,
    Basemap,
}

impl TileLayer {
    pub const ALL: [TileLayer; 5] = [
        TileLayer::Hexagons,
        TileLayer::States,
        TileLayer::Counties,
        TileLayer::Places,
        TileLayer::Basemap,
    ];

    pub fn parse(s: &str) -> Option<TileLayer> {
        TileLayer::ALL.into_iter().find(|l| l.name() == s)
    }

    /// The URL segment and the MVT layer name.
    pub fn name(self) -> &'static str {
        match self {
            TileLayer::Hexagons => "hexagons",
            TileLayer::States => "states",
            TileLayer::Counties => "counties",
            TileLayer::Places => "places",
            TileLayer::Basemap => "basemap",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            TileLayer::Hexagons => "Survey respondents aggregated to H3 hexagons (resolution by zoom); hexagons below the disclosure threshold are left out",
            TileLayer::States => "Survey respondents aggregated to US states, DC and Puerto Rico",
            TileLayer::Counties => "Survey respondents aggregated to US counties (where there are respondents)",
            TileLayer::Places => "Haiti's consular posts and diaspora associations",
            TileLayer::Basemap => "Offline basemap: land, water, state and county borders, Haiti",
        }
    }

    /// Zooms served, inclusive. Clients overzoom beyond the maximum (TileJSON says so).
    pub fn zooms(self) -> (u8, u8) {
        match self {
            TileLayer::Hexagons => (0, 14),
            TileLayer::States => (0, 12),
            TileLayer::Counties => (3, 12),
            TileLayer::Places => (0, 16),
            TileLayer::Basemap => (0, basemap::MAX_ZOOM),
        }
    }

    /// Whether the layer aggregates survey records (and so follows the data version).
    pub fn is_aggregate(self) -> bool {
        matches!(
            self,
            TileLayer::Hexagons | TileLayer::States | TileLayer::Counties
        )
    }
}

/// What a tile is encoded as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Mvt,
    /// PNG at a scale of 1 (256 px) or 2 (512 px, `@2x`).
    Png(u32),
}

impl Format {
    /// Parses the last path segment, `{y}.mvt`, `{y}.png` or `{y}@2x.png`, into y and format.
    pub fn parse_file(file: &str) -> Option<(u32, Format)> {
        let (y, format) = if let Some(y) = file
            .strip_suffix(".mvt")
            .or_else(|| file.strip_suffix(".pbf"))
        {
            (y, Format::Mvt)
        } else if let Some(y) = file.strip_suffix("@2x.png") {
            (y, Format::Png(2))
        } else if let Some(y) = file.strip_suffix(".png") {
            (y, Format::Png(1))
        } else {
            return None;
        };
        Some((parse_index(y)?, format))
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Mvt => "application/vnd.mapbox-vector-tile",
            Format::Png(_) => "image/png",
        }
    }
}

/// A tile coordinate: plain decimal digits only (no sign, no spaces), at most 9 of them.
pub fn parse_index(s: &str) -> Option<u32> {
    (!s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Parameters of `/api/v1/aggregates` that make no sense on a tile URL.
const NOT_FOR_TILES: [&str; 4] = ["unit", "bbox", "download", "lang"];

/// The query of an aggregate tile layer, validated: the unit at zoom `z` and the layer
/// request (filters, metric, metric groups, skill).
///
/// # Errors
/// Unknown parameters or codes, `res` outside 2–9 or on a non-hexagon layer, parameters of
/// `/api/v1/aggregates` that do not apply to tiles.
pub fn aggregate_request(
    layer: TileLayer,
    z: u8,
    pairs: &[(String, String)],
    extra: &[&str],
) -> Result<(Unit, LayerRequest), Error> {
    for (k, _) in pairs {
        if NOT_FOR_TILES.contains(&k.as_str()) || (k == "format" && !extra.contains(&"format")) {
            return Err(Error::invalid(k, "not a tile parameter: the layer name sets the unit and the tile sets the area and format"));
        }
    }
    let mut allowed = vec!["v"];
    allowed.extend_from_slice(extra);
    let mut req = LayerRequest::from_pairs(pairs, &allowed)?;
    let res = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "res")
        .map(|_| match req.unit {
            Unit::H3(r) => r,
            _ => unreachable!("unit is not a tile parameter"),
        });
    let unit = match layer {
        TileLayer::Hexagons => Unit::H3(res.unwrap_or_else(|| hexagon_res(z))),
        TileLayer::States | TileLayer::Counties if res.is_some() => {
            return Err(Error::invalid(
                "res",
                "only the hexagons layer has a resolution",
            ))
        }
        TileLayer::States => Unit::State,
        TileLayer::Counties => Unit::County,
        TileLayer::Places | TileLayer::Basemap => unreachable!("not an aggregate layer"),
    };
    req.unit = unit;
    Ok((unit, req))
}

/// The place kinds a places query keeps: `kind=` (place_kind codes) and `category=`
/// (consular or association), as on `/api/v1/places`.
///
/// # Errors
/// Unknown parameters, place kinds or categories.
pub fn places_request(pairs: &[(String, String)], extra: &[&str]) -> Result<KindFilter, Error> {
    let mut kinds = KindFilter::all();
    for (k, v) in pairs {
        match k.as_str() {
            "kind" => {
                let f = KindFilter::parse(v).map_err(|source| Error::UnknownCode {
                    param: "kind".into(),
                    source,
                })?;
                kinds = kinds.and(f);
            }
            "category" => {
                let c = Category::parse(v).ok_or_else(|| {
                    Error::invalid("category", format!("{v:?}: use consular or association"))
                })?;
                kinds = kinds.and(KindFilter::category(c));
            }
            "v" => {}
            other if extra.contains(&other) => {}
            other => {
                return Err(Error::invalid(
                    other,
                    "unknown parameter (places tiles take kind and category)",
                ))
            }
        }
    }
    Ok(kinds)
}

/// The cache key of an aggregate source: everything but the tile that shapes its content.
pub fn source_key(unit: Unit, req: &LayerRequest) -> String {
    format!(
        "{unit:?}|{}|{:?}|{:?}|{}",
        req.filter.canonical(),
        req.groups,
        req.skill,
        req.metric
    )
}

/// The prepared source of an aggregate layer: built on a worker thread by the first request
/// that needs it, then shared.
///
/// # Errors
/// As [`source::build_aggregate`].
pub async fn aggregate_source(
    tiles: &Tiles,
    unit: Unit,
    req: &LayerRequest,
) -> Result<Arc<Source>, Error> {
    let slot = aggregate_slot(tiles, unit, req);
    let (engine, req) = (tiles.engine.clone(), req.clone());
    slot.get_or_try_init(|| async move {
        let started = std::time::Instant::now();
        let built =
            tokio::task::spawn_blocking(move || source::build_aggregate(&engine, unit, &req))
                .await
                .map_err(|e| Error::Internal(e.to_string()))??;
        tracing::info!(
            layer = built.name,
            ?unit,
            features = built.features.len(),
            heap_kb = built.heap_bytes() / 1024,
            ms = started.elapsed().as_millis() as u64,
            "tile source prepared"
        );
        Ok::<_, Error>(Arc::new(built))
    })
    .await
    .cloned()
}

/// The prepared source of an aggregate layer if it is ready now; never builds one (the
/// fast path of the HTTP edge must not wait).
pub fn ready_aggregate_source(
    tiles: &Tiles,
    unit: Unit,
    req: &LayerRequest,
) -> Option<Arc<Source>> {
    aggregate_slot(tiles, unit, req).get().cloned()
}

/// The slot of an aggregate layer's source at the current data version.
fn aggregate_slot(tiles: &Tiles, unit: Unit, req: &LayerRequest) -> cache::SourceSlot {
    let version = tiles.engine.snapshot().data_version;
    tiles.cache.observe_version(version);
    tiles.cache.source_slot(&source_key(unit, req), version)
}

/// The current place set and its content version.
pub fn place_set(tiles: &Tiles) -> (Arc<PlaceSet>, u64) {
    let set = tiles.places.get();
    let version = tiles.cache.places_version(&set);
    (set, version)
}

/// The prepared places source for the kinds kept; `props` gives a place's properties (the
/// HTTP layer passes those of the `/api/v1/places` GeoJSON).
pub async fn places_source(
    tiles: &Tiles,
    kinds: KindFilter,
    props: fn(&Place) -> Map<String, Value>,
) -> Arc<Source> {
    let (set, version) = place_set(tiles);
    let slot = tiles
        .cache
        .source_slot(&format!("places|{kinds:?}"), version);
    slot.get_or_init(|| async move { Arc::new(source::build_places(&set, kinds, version, props)) })
        .await
        .clone()
}

/// Cuts one tile from a source in a format; `None` for an empty tile.
///
/// # Errors
/// Only encoder failures (bugs).
pub fn render(source: &Source, tile: TileId, format: Format) -> Result<Option<Vec<u8>>, Error> {
    match format {
        Format::Mvt => mvt::encode(source, tile),
        Format::Png(scale) => raster::render(source, tile, scale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_zoom_has_one_hexagon_resolution_and_it_never_gets_coarser() {
        let mut last = 0;
        for z in 0..=mercator::MAX_ZOOM {
            let n = HEXAGON_RESOLUTIONS
                .iter()
                .filter(|(a, b, _)| (*a..=*b).contains(&z))
                .count();
            assert_eq!(n, 1, "zoom {z}");
            assert!(hexagon_res(z) >= last);
            last = hexagon_res(z);
        }
        assert_eq!(hexagon_res(3), 2);
        assert_eq!(hexagon_res(10), 7);
    }

    #[test]
    fn tile_file_names_parse_into_y_and_format() {
        assert_eq!(Format::parse_file("12.mvt"), Some((12, Format::Mvt)));
        assert_eq!(Format::parse_file("12.png"), Some((12, Format::Png(1))));
        assert_eq!(Format::parse_file("12@2x.png"), Some((12, Format::Png(2))));
        assert_eq!(Format::parse_file("-1.mvt"), None);
        assert_eq!(Format::parse_file("1e3.mvt"), None);
        assert_eq!(Format::parse_file("12.jpg"), None);
    }

    #[test]
    fn tile_queries_reject_what_only_geojson_understands() {
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(aggregate_request(TileLayer::Hexagons, 5, &p("bbox", "0,0,1,1"), &[]).is_err());
        assert!(aggregate_request(TileLayer::States, 5, &p("res", "5"), &[]).is_err());
        let (unit, _) = aggregate_request(TileLayer::Hexagons, 5, &p("res", "7"), &[]).unwrap();
        assert_eq!(unit, Unit::H3(7));
        let (unit, req) =
            aggregate_request(TileLayer::Hexagons, 10, &p("gender", "f"), &[]).unwrap();
        assert_eq!(unit, Unit::H3(7));
        assert!(!req.filter.is_empty());
        assert!(places_request(&p("kind", "embassy,consulate_general"), &[]).is_ok());
        assert!(places_request(&p("kind", "castle"), &[]).is_err());
        assert!(places_request(&p("gender", "f"), &[]).is_err());
    }
}
