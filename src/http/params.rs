//! The query parameters of every documented endpoint, one struct each, read with
//! [`super::query::Params`] (unknown names refused with a 400 problem naming them) and
//! published in the OpenAPI document through `IntoParams`.
//!
//! The layer endpoints (aggregates, outreach, tiles) share the record filters and the layer
//! parameters: [`layer_query!`] writes them into each struct (serde's `flatten` cannot be
//! combined with `deny_unknown_fields`). Their names are those `LayerRequest::parse` and
//! `Filter::from_params` read; a unit test checks that the two lists agree. The values stay
//! text, documented with their type: the domain parsers check them and name the parameter.
//! The code lists of the filters (enums and patterns) are added to the document at run time
//! from the codebook (see `openapi.rs`).

use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

/// Declares a query struct with the record filters (and, with `layer`, the layer
/// parameters) followed by its own fields.
macro_rules! layer_query {
    (layer $(#[$meta:meta])* $name:ident { $($rest:tt)* }) => {
        layer_query!($(#[$meta])* $name {
            /// Grouping: H3 hexagons (default), US states or counties.
            #[param(value_type = Option<LayerUnit>, inline)]
            unit: Option<String>,
            /// `minLon,minLat,maxLon,maxLat` in degrees (CRS84): keep the units whose extent
            /// meets the box.
            #[param(pattern = "^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$")]
            bbox: Option<String>,
            /// Response format: GeoJSON (default; `json` is the same) or CSV.
            #[param(value_type = Option<TableFormat>, inline)]
            format: Option<String>,
            /// `1`, `true` or `yes`: answer as a file to save (`Content-Disposition:
            /// attachment`, with a name that states the unit, filters, release and date).
            #[param(value_type = Option<Flag>, inline)]
            download: Option<String>,
            /// Accepted for the web map's links; it changes nothing in the figures.
            #[param(value_type = Option<Language>, inline)]
            lang: Option<String>,
            $($rest)*
        });
    };
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Default, Clone, Deserialize, Serialize, IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            /// Keep records with any of these gender codes (comma-separated).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub gender: Option<String>,
            /// Keep records with any of these age bands (comma-separated).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub age_band: Option<String>,
            /// Keep records of any of these migration generations (comma-separated).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub generation: Option<String>,
            /// Keep records with any of these occupations (ISCO-08 major groups, comma-separated).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub occupation: Option<String>,
            /// Keep records with any of these sectors (ISIC Rev.4 sections, comma-separated).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub sector: Option<String>,
            /// Keep records with any of these needs (comma-separated).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub need: Option<String>,
            /// Keep records with any of these difficulties (comma-separated).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub difficulty: Option<String>,
            /// Keep records with any of these willingness codes (comma-separated).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub willingness: Option<String>,
            /// Keep records from any of these Haitian departments (ISO 3166-2:HT, comma-separated).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub department: Option<String>,
            /// Survey rounds (comma-separated names).
            #[serde(skip_serializing_if = "Option::is_none")]
            #[param(min_length = 1)]
            pub round: Option<String>,
            /// First collection month, `YYYY-MM` (a date's month is used).
            #[serde(skip_serializing_if = "Option::is_none")]
            #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?$")]
            pub from: Option<String>,
            /// Last collection month, `YYYY-MM`.
            #[serde(skip_serializing_if = "Option::is_none")]
            #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?$")]
            pub to: Option<String>,
            /// Property classified for the legend (breaks and colours); default `count`.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub metric: Option<String>,
            /// Extra per-code counts: `all` or a comma-separated list of metric groups.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub metrics: Option<String>,
            /// A skill for `skill_count`, `skill_share` and `skill_lq`: `occupation:CODE` or
            /// `sector:CODE`.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub skill: Option<String>,
            /// H3 resolution of the hexagons (2 to 9).
            #[serde(skip_serializing_if = "Option::is_none")]
            #[param(value_type = Option<u8>, minimum = 2, maximum = 9)]
            pub res: Option<String>,
            $($(#[$fmeta])* #[serde(skip_serializing_if = "Option::is_none")] pub $field: $ty,)*
        }
    };
}

/// `unit`: the grouping of a layer.
#[derive(utoipa::ToSchema)]
#[schema(as = LayerUnit)]
#[allow(dead_code, reason = "a schema only")]
enum LayerUnit {
    #[schema(rename = "h3")]
    H3,
    #[schema(rename = "state")]
    State,
    #[schema(rename = "county")]
    County,
}

/// `format` of a table: GeoJSON (`json` is the same) or CSV with an HXL row.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only")]
enum TableFormat {
    #[schema(rename = "geojson")]
    Geojson,
    #[schema(rename = "json")]
    Json,
    #[schema(rename = "csv")]
    Csv,
}

/// A yes/no flag: `1`, `true` or `yes` set it; anything else leaves it unset.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only")]
enum Flag {
    #[schema(rename = "1")]
    One,
    #[schema(rename = "0")]
    Zero,
    #[schema(rename = "true")]
    True,
    #[schema(rename = "false")]
    False,
    #[schema(rename = "yes")]
    Yes,
    #[schema(rename = "no")]
    No,
}

/// A language of the labels.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only")]
enum Language {
    #[schema(rename = "en")]
    En,
    #[schema(rename = "fr")]
    Fr,
    #[schema(rename = "ht")]
    Ht,
}

layer_query!(layer
    /// `GET /api/v1/aggregates`, `/api/v1/admin/aggregates` and
    /// `/api/v1/aggregates/csv-metadata.json`.
    AggregateQuery {
        /// CSV only: `0`, `false` or `no` leave out the HXL hashtag row under the header
        /// (a plain table for pandas, GDAL and spreadsheets); it is there by default.
        #[param(value_type = Option<Flag>, inline)]
        hxl: Option<String>,
    }
);

layer_query!(layer
    /// `/api/v1/outreach/…`: the layer (hexagons only) and the outreach parameters.
    OutreachQuery {
        /// How hexagons are assigned to posts: `nearest` (default) or `jurisdiction`.
        #[param(value_type = Option<OutreachMode>, inline)]
        mode: Option<String>,
        /// What a gap ranking counts: `count` (default) or `female`.
        #[param(value_type = Option<OutreachTarget>, inline)]
        target: Option<String>,
        /// Association kinds whose distance makes a gap (comma-separated place_kind codes).
        kind: Option<String>,
        /// Distance (km) beyond which an association no longer covers a hexagon.
        #[param(value_type = Option<f64>, exclusive_minimum = 0, maximum = 20100)]
        saturation_km: Option<String>,
        /// Only hexagons farther than this (km) from any association.
        #[param(value_type = Option<f64>, exclusive_minimum = 0, maximum = 20100)]
        beyond_km: Option<String>,
        /// How many hexagons a plan lists.
        #[param(value_type = Option<u32>, minimum = 1)]
        top: Option<String>,
        /// How many nearby associations a plan lists per hexagon.
        #[param(value_type = Option<u32>, minimum = 1)]
        near: Option<String>,
        /// How many hexagons a gap ranking returns (at most 5000).
        #[param(value_type = Option<u32>, minimum = 1, maximum = 5000)]
        limit: Option<String>,
        /// A consular post id: only its catchment.
        post: Option<String>,
    }
);

/// `mode` of the outreach endpoints.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only")]
enum OutreachMode {
    #[schema(rename = "nearest")]
    Nearest,
    #[schema(rename = "jurisdiction")]
    Jurisdiction,
}

/// `target` of the outreach gap ranking.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only")]
enum OutreachTarget {
    #[schema(rename = "count")]
    Count,
    #[schema(rename = "female")]
    Female,
}

layer_query!(
    /// `GET /tiles/{layer}/{z}/{x}/{y}.{format}`: the aggregate layers take the filters and
    /// the layer parameters but `unit`, `bbox`, `format`, `download` and `lang` (the layer
    /// name sets the unit, the tile the area and format; `res` only on hexagons); the places
    /// layer takes `kind` and `category`; the basemap nothing. The tile handler and the edge's
    /// fast path parse the query with this struct (a name it does not know is refused), then
    /// the tile parsers check the values per layer.
    TileQuery {
        /// Places layer: place_kind codes (comma-separated).
        kind: Option<String>,
        /// Places layer: `consular` or `association`.
        category: Option<String>,
        /// The data version the tile is pinned to (set by the TileJSON's URL template): a
        /// tile with the current version is cached for a day.
        #[param(value_type = Option<u64>)]
        v: Option<String>,
    }
);

layer_query!(
    /// `GET /tiles/{layer}.json`: as [`TileQuery`], plus `format` (`mvt`, default, or `png`).
    TileJsonQuery {
        /// Places layer: place_kind codes (comma-separated).
        kind: Option<String>,
        /// Places layer: `consular` or `association`.
        category: Option<String>,
        /// Pinned data version (ignored: the document always points at the current one).
        #[param(value_type = Option<u64>)]
        v: Option<String>,
        /// Tile format of the URL template: `mvt` (default; `pbf` is the same) or `png`.
        #[param(value_type = Option<TileFormat>, inline)]
        format: Option<String>,
    }
);

/// `format` of a TileJSON's tiles.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only")]
enum TileFormat {
    #[schema(rename = "mvt")]
    Mvt,
    #[schema(rename = "pbf")]
    Pbf,
    #[schema(rename = "png")]
    Png,
}

layer_query!(
    /// `GET /tiles/{layer}/legend.json`: as [`TileQuery`] for the aggregate layers, plus the
    /// zoom the legend is for.
    LegendQuery {
        /// The zoom (the hexagon resolution, hence the classes, depend on it). Required.
        #[param(value_type = u8, required = true)]
        z: Option<String>,
        /// The data version (ignored).
        #[param(value_type = Option<u64>)]
        v: Option<String>,
    }
);

/// The filters of the places endpoints.
macro_rules! places_query {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Default, Clone, Deserialize, Serialize, IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            /// Place kinds (comma-separated place_kind codes).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub kind: Option<String>,
            /// `consular` or `association`.
            #[serde(skip_serializing_if = "Option::is_none")]
            #[param(value_type = Option<PlaceCategory>, inline)]
            pub category: Option<String>,
            /// Associations active in any of these sectors (ISIC sections, comma-separated).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub sector: Option<String>,
            /// Places speaking any of these languages (comma-separated codes).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub language: Option<String>,
            /// Only demo places (`true`) or only real ones (`false`).
            #[serde(skip_serializing_if = "Option::is_none")]
            #[param(value_type = Option<Flag>, inline)]
            pub demo: Option<String>,
            $($(#[$fmeta])* #[serde(skip_serializing_if = "Option::is_none")] pub $field: $ty,)*
        }
    };
}

/// A category of places.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only")]
enum PlaceCategory {
    #[schema(rename = "consular")]
    Consular,
    #[schema(rename = "association")]
    Association,
}

places_query!(
    /// `GET /api/v1/places`.
    PlacesQuery {
        /// `minLon,minLat,maxLon,maxLat` in degrees (WGS84).
        #[param(pattern = "^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$")]
        bbox: Option<String>,
    }
);

places_query!(
    /// `GET /api/v1/places/nearest`.
    NearestQuery {
        /// Longitude, degrees (WGS84). Required.
        #[param(value_type = f64, required = true, minimum = -180, maximum = 180)]
        lon: Option<String>,
        /// Latitude, degrees (WGS84). Required.
        #[param(value_type = f64, required = true, minimum = -90, maximum = 90)]
        lat: Option<String>,
        /// How many places (1 to 100, default 5).
        #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
        k: Option<String>,
    }
);

places_query!(
    /// `GET /api/v1/places/within`.
    WithinQuery {
        /// Longitude, degrees (WGS84). Required.
        #[param(value_type = f64, required = true, minimum = -180, maximum = 180)]
        lon: Option<String>,
        /// Latitude, degrees (WGS84). Required.
        #[param(value_type = f64, required = true, minimum = -90, maximum = 90)]
        lat: Option<String>,
        /// Radius, great-circle kilometres (0 to 20100). Required.
        #[param(value_type = f64, required = true, minimum = 0, maximum = 20100)]
        radius_km: Option<String>,
    }
);

/// `GET /api/v1/audit`.
#[derive(Debug, Default, Clone, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// How many entries, newest first (1 to 1000, default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// Only entries with an id below this one (the `next` link sets it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<i64>, minimum = 1)]
    pub before: Option<String>,
}

/// `POST /api/v1/imports`.
#[derive(Debug, Default, Clone, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// File name kept with the batch (default `upload`; no path, at most 200 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// `true` validates and reports without writing.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Flag>, inline)]
    pub dry_run: Option<String>,
    /// `reject` (default: any invalid row writes nothing) or `skip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<OnErrorParam>, inline)]
    pub on_error: Option<String>,
    /// Survey round of the rows that do not name one (a code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round: Option<String>,
}

/// `on_error` of an import.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only")]
enum OnErrorParam {
    #[schema(rename = "reject")]
    Reject,
    #[schema(rename = "skip")]
    Skip,
}

#[cfg(test)]
mod tests {
    use super::super::query::names;
    use super::*;

    #[test]
    fn the_layer_structs_name_exactly_what_the_layer_parser_reads() {
        let mut expected: Vec<String> = crate::aggregate::filter::Field::PARAMS
            .iter()
            .chain(crate::publish::request::PARAMS.iter())
            .chain(["hxl"].iter()) // the aggregates' own, read by their handler
            .map(|s| s.to_string())
            .collect();
        expected.sort();
        let mut got = names::<AggregateQuery>();
        got.sort();
        assert_eq!(got, expected);
    }
}
