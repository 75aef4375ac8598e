//! The publishing core: from a request for a layer to what the public sees of it, whatever
//! the route (GeoJSON/CSV, tiles, OGC API – Features, outreach) or the format.
//!
//! - [`request`]: the query model, [`LayerRequest`], validated once from typed parameters;
//! - [`layer`]: the engine's privacy-checked layer for a request (on a worker thread);
//! - [`selected_units`], [`classify`], [`unit_properties`]: which units are published, the
//!   legend's classification, and each unit's published properties;
//! - [`geojson`], [`csv`]: the format writers of a layer (GeoJSON with its metadata, CSV
//!   with an HXL hashtag row) and a download's name;
//! - [`meta`], [`csvw`]: what a download says about itself (title, filters, extent, source,
//!   rounds, period, sample, demo flag: the GeoJSON's `dyaspora:map` member) and a CSV's
//!   CSVW metadata document;
//! - [`methodology`]: the figures of the methodology panel (`/api/v1/methodology`).
//!
//! Nothing here knows HTTP: the handlers in `http` parse, call this, and wrap the response.

pub(crate) mod csv;
pub(crate) mod csvw;
pub mod geojson;
pub(crate) mod meta;
pub(crate) mod methodology;
pub(crate) mod request;

use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{Map, Value};

use crate::aggregate::classify::Classification;
use crate::aggregate::{Engine, Figures, Layer, Unit};
use crate::error::Error;

pub use meta::Provenance;
pub use request::{param, parse_bbox, LayerParams, LayerRequest};

/// The layer of `req` with the figures asked for, computed on a worker thread (aggregation
/// is CPU work) or taken from the engine's cache.
///
/// # Errors
/// A resolution out of range, an unknown survey round; a failed worker as internal.
pub async fn layer(
    engine: &Arc<Engine>,
    req: &LayerRequest,
    figures: Figures,
) -> Result<Arc<Layer>, Error> {
    let engine = engine.clone();
    let (unit, filter) = (req.unit, req.filter.clone());
    tokio::task::spawn_blocking(move || engine.layer_of(unit, &filter, figures))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

/// The units of a layer to publish: visible counts inside the box (CRS84 degrees).
pub fn selected_units(layer: &Layer, bbox: Option<[f64; 4]>) -> Vec<usize> {
    (0..layer.ids.len())
        .filter(|&i| layer.is_published(i) || !matches!(layer.unit, Unit::H3(_)))
        .filter(|&i| match bbox {
            None => true,
            Some(b) => {
                use geo::BoundingRect;
                layer.geometry(i).bounding_rect().is_some_and(|r| {
                    r.max().x >= b[0] && r.min().x <= b[2] && r.max().y >= b[1] && r.min().y <= b[3]
                })
            }
        })
        .collect()
}

/// The classification of `req.metric` over the published values of the selected units.
///
/// # Errors
/// [`Error::InvalidParam`] on `metric`: not a numeric metric of this layer.
pub fn classify(
    layer: &Layer,
    units: &[usize],
    req: &LayerRequest,
) -> Result<Classification, Error> {
    let props: Vec<Map<String, Value>> = units
        .par_iter()
        .map(|&i| layer.properties(i, &req.groups, req.skill))
        .collect();
    let known = props.first().is_none_or(|p| p.contains_key(&req.metric));
    if !known || req.metric == "suppressed" || req.metric.starts_with("dominant_") {
        return Err(Error::invalid(
            "metric",
            format!("{:?} is not a numeric metric of this layer", req.metric),
        ));
    }
    let values: Vec<f64> = props
        .iter()
        .filter_map(|p| p.get(&req.metric).and_then(Value::as_f64))
        .collect();
    // Shares diverge around the nation's own published value.
    let national = layer
        .national_properties(&req.groups, req.skill)
        .get(&req.metric)
        .and_then(Value::as_f64);
    Ok(Classification::with_national(
        &req.metric,
        &values,
        national,
    ))
}

/// The properties of a unit as published in every format: id and name, then the class of
/// the classified metric (when given), then the figures.
pub fn unit_properties(
    layer: &Layer,
    i: usize,
    req: &LayerRequest,
    classification: Option<&Classification>,
) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("id".into(), Value::from(layer.id_string(i)));
    p.insert("name".into(), Value::from(layer.name(i)));
    let figures = layer.properties(i, &req.groups, req.skill);
    if let Some(c) = classification {
        let v = figures.get(&c.metric).and_then(Value::as_f64);
        p.insert(
            "class".into(),
            v.map_or(Value::Null, |v| Value::from(c.class_of(v))),
        );
    }
    p.extend(figures);
    p
}

/// The file formats of an aggregate layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    /// CSV, with an HXL hashtag row under the header unless asked without.
    Csv,
}

impl Format {
    /// Parses `format` (`geojson`, the default, or `json`; `csv`).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] on `format`.
    pub fn parse(s: Option<&str>) -> Result<Format, Error> {
        match s.unwrap_or("geojson") {
            "geojson" | "json" => Ok(Format::GeoJson),
            "csv" => Ok(Format::Csv),
            other => Err(Error::invalid(
                "format",
                format!("{other:?}: use geojson or csv"),
            )),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::GeoJson => "application/geo+json",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// A download's file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::Csv => "csv",
        }
    }

    /// The layer's `units` in this format (the classification colours the GeoJSON, the
    /// provenance fills its `dyaspora:map` member; `hxl`: the CSV's hashtag row).
    pub fn write(
        self,
        layer: &Layer,
        units: &[usize],
        req: &LayerRequest,
        classification: &Classification,
        provenance: &Provenance,
        hxl: bool,
    ) -> String {
        match self {
            Format::GeoJson => {
                let map = meta::map_member(layer, req, provenance);
                geojson::layer_collection(layer, units, req, classification, map)
            }
            Format::Csv => csv::layer_csv(layer, units, req, hxl),
        }
    }
}

/// Today's date (UTC), `YYYY-MM-DD`.
pub fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A download's file name: the unit, the filters, the release, the date, a variant (`plain`
/// for a CSV without its HXL row) and `-demo` for the synthetic demo data, in characters
/// every file system takes, e.g. `dyaspora-county-gender-f_sector-Q-r3-2026-12-05-demo`.
pub fn download_name(
    layer: &Layer,
    filters: &[(String, String)],
    date: &str,
    variant: Option<&str>,
    demo: bool,
) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect()
    };
    let mut name = format!("dyaspora-{}", clean(&layer.unit.name()));
    let filters: Vec<String> = filters
        .iter()
        .map(|(k, v)| format!("{}-{}", clean(k), clean(v)))
        .collect();
    if !filters.is_empty() {
        name.push('-');
        name.push_str(&filters.join("_"));
    }
    name.truncate(120);
    let variant = variant
        .map(|v| format!("-{}", clean(v)))
        .unwrap_or_default();
    let demo = if demo { "-demo" } else { "" };
    format!("{name}-r{}-{date}{variant}{demo}", layer.data_version)
}
