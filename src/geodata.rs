//! The public geodata embedded in the binary (see `geodata/README.md` for sources and
//! licences): US states and counties (EPSG:4326, RFC 7946), ZIP centroids, land and Haiti
//! for the offline basemap, consular posts and the coded lists.
//!
//! [`Geodata`] parses them once and answers the offline geocoding questions of the importer:
//! ZIP → centroid, state, county; and (lon, lat) → state, county by point-in-polygon over an
//! R-tree of bounding boxes, each polygon's edges filed by strip of latitude ([`strips`]).

pub mod coast;
mod names;
mod strips;

use std::collections::HashMap;
use std::sync::OnceLock;

use geo::{BoundingRect, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use rust_embed::RustEmbed;
use serde_json::Value;
use strips::StripPolygon;

/// The files of `geodata/`, compiled into the binary in release builds.
#[derive(RustEmbed)]
#[folder = "geodata/"]
#[include = "*.geojson"]
#[include = "*.csv"]
#[include = "coast.bin"]
#[exclude = "node_modules/*"]
#[exclude = "reference/*"]
pub struct GeoFiles;

impl GeoFiles {
    /// The text of an embedded file; panics when the binary was built without it.
    pub fn text(name: &str) -> String {
        let file = GeoFiles::get(name).unwrap_or_else(|| panic!("geodata/{name} is embedded"));
        String::from_utf8(file.data.into_owned()).expect("geodata is UTF-8")
    }
}

/// A state or county: its FIPS code, name and geometry (lon/lat degrees).
#[derive(Debug, Clone)]
pub struct Area {
    pub fips: String,
    pub name: String,
    /// USPS code for a state ("FL"), the state's FIPS for a county ("12").
    pub parent: String,
    pub land_km2: f64,
    pub geometry: MultiPolygon<f64>,
}

/// A ZIP code centroid (GeoNames, CC BY 4.0).
#[derive(Debug, Clone)]
pub struct Zip {
    pub zip: String,
    pub lat: f64,
    pub lon: f64,
    pub city: String,
    pub state: String,
    pub county_fips: Option<String>,
}

/// A consular post from `consular_posts.csv`.
#[derive(Debug, Clone)]
pub struct ConsularPost {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub address: String,
    pub lat: f64,
    pub lon: f64,
    pub jurisdiction_note: String,
    /// USPS codes of the states this post serves.
    pub states: Vec<String>,
    pub confidence: String,
}

/// One polygon of an area (Alaska and Hawaii have many), under its bounding box.
type AreaBox = GeomWithData<Rectangle<[f64; 2]>, AreaPart>;

struct AreaPart {
    /// Index of the area.
    area: usize,
    polygon: StripPolygon,
}

/// Parsed geodata with point-in-polygon indexes.
pub struct Geodata {
    pub states: Vec<Area>,
    pub counties: Vec<Area>,
    pub zips: HashMap<String, Zip>,
    pub posts: Vec<ConsularPost>,
    state_index: RTree<AreaBox>,
    county_index: RTree<AreaBox>,
    state_by_fips: HashMap<String, usize>,
    state_by_postal: HashMap<String, usize>,
    county_by_fips: HashMap<String, usize>,
}

impl Geodata {
    /// The embedded geodata, parsed on first use (≈ 0.5 s) and shared.
    ///
    /// The files are compiled in and read by this module's tests: a binary whose geodata does
    /// not parse stops here, at its first geocoding, with the file and the reason.
    pub fn get() -> &'static Geodata {
        static GEO: OnceLock<Geodata> = OnceLock::new();
        GEO.get_or_init(|| match Geodata::load() {
            Ok(g) => g,
            Err(e) => panic!("the embedded geodata is invalid: {e}"),
        })
    }

    fn load() -> Result<Geodata, GeodataError> {
        let states = parse_areas("states.geojson", "postal")?;
        let counties = parse_areas("counties.geojson", "state_fips")?;
        let zips = parse_zips(&GeoFiles::text("zips.csv"));
        let posts = parse_posts(&GeoFiles::text("consular_posts.csv"));
        let index_of = |areas: &[Area]| -> HashMap<String, usize> {
            areas
                .iter()
                .enumerate()
                .map(|(i, a)| (a.fips.clone(), i))
                .collect()
        };
        Ok(Geodata {
            state_index: bbox_tree(&states),
            county_index: bbox_tree(&counties),
            state_by_fips: index_of(&states),
            state_by_postal: states
                .iter()
                .enumerate()
                .map(|(i, a)| (a.parent.clone(), i))
                .collect(),
            county_by_fips: index_of(&counties),
            states,
            counties,
            zips,
            posts,
        })
    }

    pub fn state_by_fips(&self, fips: &str) -> Option<&Area> {
        self.state_by_fips.get(fips).map(|&i| &self.states[i])
    }

    pub fn state_by_postal(&self, postal: &str) -> Option<&Area> {
        self.state_by_postal.get(postal).map(|&i| &self.states[i])
    }

    pub fn county_by_fips(&self, fips: &str) -> Option<&Area> {
        self.county_by_fips.get(fips).map(|&i| &self.counties[i])
    }

    /// The state containing (lon, lat), by point-in-polygon.
    pub fn state_at(&self, lon: f64, lat: f64) -> Option<&Area> {
        locate(&self.state_index, &self.states, lon, lat)
    }

    /// The county containing (lon, lat), by point-in-polygon.
    pub fn county_at(&self, lon: f64, lat: f64) -> Option<&Area> {
        locate(&self.county_index, &self.counties, lon, lat)
    }
}

fn bbox_tree(areas: &[Area]) -> RTree<AreaBox> {
    let boxes = areas
        .iter()
        .enumerate()
        .flat_map(|(i, a)| {
            // One box per polygon part, so Alaska's parts either side of ±180° stay small.
            a.geometry.0.iter().filter_map(move |p| {
                let r = p.bounding_rect()?;
                Some(AreaBox::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    AreaPart {
                        area: i,
                        polygon: StripPolygon::new(p),
                    },
                ))
            })
        })
        .collect();
    RTree::bulk_load(boxes)
}

fn locate<'a>(tree: &RTree<AreaBox>, areas: &'a [Area], lon: f64, lat: f64) -> Option<&'a Area> {
    let point = geo::Coord { x: lon, y: lat };
    tree.locate_in_envelope_intersecting(&AABB::from_point([lon, lat]))
        .find(|b| b.data.polygon.contains(point))
        .map(|b| &areas[b.data.area])
}

/// An embedded GeoJSON file that is not what its reader expects.
#[derive(Debug, thiserror::Error)]
#[error("geodata/{file}: {reason}")]
pub struct GeodataError {
    pub file: String,
    pub reason: String,
}

/// The features of an embedded GeoJSON FeatureCollection (`geojson` crate).
///
/// # Errors
/// The file is missing from the binary, or not a GeoJSON FeatureCollection.
pub fn read_features(file: &str) -> Result<Vec<geojson::Feature>, GeodataError> {
    let bad = |reason: String| GeodataError {
        file: file.to_string(),
        reason,
    };
    let bytes = GeoFiles::get(file).ok_or_else(|| bad("not embedded in this binary".into()))?;
    let fc: geojson::FeatureCollection =
        serde_json::from_slice(&bytes.data).map_err(|e| bad(e.to_string()))?;
    Ok(fc.features)
}

/// A feature's Polygon or MultiPolygon geometry as a `MultiPolygon` (lon, lat degrees).
///
/// # Errors
/// No geometry, or a geometry of another type.
pub fn multipolygon(file: &str, f: &geojson::Feature) -> Result<MultiPolygon<f64>, GeodataError> {
    let bad = |reason: String| GeodataError {
        file: file.to_string(),
        reason,
    };
    let geometry = f
        .geometry
        .as_ref()
        .ok_or_else(|| bad("a feature without geometry".into()))?;
    match &geometry.value {
        v @ geojson::GeometryValue::Polygon { .. } => Polygon::try_from(v)
            .map(|p| MultiPolygon(vec![p]))
            .map_err(|e| bad(e.to_string())),
        v @ geojson::GeometryValue::MultiPolygon { .. } => {
            MultiPolygon::try_from(v).map_err(|e| bad(e.to_string()))
        }
        other => Err(bad(format!(
            "a {} where a polygon was expected",
            other.type_name()
        ))),
    }
}

/// The states or counties of an embedded file: FIPS code, name, `parent_key` (the state's
/// postal code, or a county's state FIPS), land area and geometry of each feature.
fn parse_areas(file: &str, parent_key: &str) -> Result<Vec<Area>, GeodataError> {
    read_features(file)?
        .iter()
        .map(|f| {
            let s = |k: &str| {
                f.property(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            Ok(Area {
                fips: s("fips"),
                name: s("name"),
                parent: s(parent_key),
                land_km2: f
                    .property("land_km2")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0),
                geometry: multipolygon(file, f)?,
            })
        })
        .collect()
}

fn parse_zips(text: &str) -> HashMap<String, Zip> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.expect("zips.csv row");
            let zip = Zip {
                zip: r[0].to_string(),
                lat: r[1].parse().expect("zips.csv lat"),
                lon: r[2].parse().expect("zips.csv lon"),
                city: r[3].to_string(),
                state: r[4].to_string(),
                county_fips: Some(r[5].to_string()).filter(|s| !s.is_empty()),
            };
            (zip.zip.clone(), zip)
        })
        .collect()
}

fn parse_posts(text: &str) -> Vec<ConsularPost> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().expect("consular_posts.csv header").clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    let (id, name, kind, city, state, zip, addr, lat, lon, note, states, conf) = (
        col("id"),
        col("name"),
        col("type"),
        col("city"),
        col("state"),
        col("zip"),
        col("street_address"),
        col("lat"),
        col("lon"),
        col("jurisdiction_note"),
        col("states"),
        col("address_confidence"),
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("consular_posts.csv row");
            ConsularPost {
                id: r[id].to_string(),
                name: r[name].to_string(),
                kind: r[kind].to_string(),
                city: r[city].to_string(),
                state: r[state].to_string(),
                zip: r[zip].to_string(),
                address: r[addr].to_string(),
                lat: r[lat].parse().expect("post lat"),
                lon: r[lon].parse().expect("post lon"),
                jurisdiction_note: r[note].to_string(),
                states: r[states].split_whitespace().map(str::to_string).collect(),
                confidence: r[conf].to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_says_which_file_is_wrong_and_why() {
        assert!(read_features("no-such.geojson")
            .unwrap_err()
            .to_string()
            .contains("no-such.geojson"));
        let point = geojson::Feature::from(geojson::Geometry::new_point([1.0, 2.0]));
        let e = multipolygon("x.geojson", &point).unwrap_err().to_string();
        assert!(e.contains("x.geojson") && e.contains("Point"), "{e}");
        for file in [
            "states.geojson",
            "counties.geojson",
            "land.geojson",
            "haiti.geojson",
        ] {
            let features = read_features(file).unwrap();
            assert!(!features.is_empty(), "{file}");
            for f in &features {
                multipolygon(file, f).unwrap();
            }
        }
    }

    #[test]
    fn well_known_points_fall_in_their_state_and_county() {
        let geo = Geodata::get();
        // Little Haiti, Miami.
        assert_eq!(geo.state_at(-80.19, 25.83).unwrap().parent, "FL");
        assert_eq!(geo.county_at(-80.19, 25.83).unwrap().fips, "12086");
        // Flatbush, Brooklyn (Kings County).
        assert_eq!(geo.county_at(-73.96, 40.64).unwrap().fips, "36047");
        // The Atlantic is in no state.
        assert!(geo.state_at(-60.0, 30.0).is_none());
    }

    #[test]
    fn zip_state_agrees_with_point_in_polygon_for_995_permille() {
        let geo = Geodata::get();
        let (mut checked, mut agree) = (0usize, 0usize);
        for zip in geo.zips.values() {
            if geo.state_by_postal(&zip.state).is_none() {
                continue;
            }
            checked += 1;
            if geo
                .state_at(zip.lon, zip.lat)
                .is_some_and(|s| s.parent == zip.state)
            {
                agree += 1;
            }
        }
        let share = agree as f64 / checked as f64;
        assert!(checked > 40_000, "{checked} ZIPs checked");
        assert!(
            share >= 0.995,
            "ZIP state agrees with point-in-polygon for {share:.4} of ZIPs"
        );
    }

    #[test]
    fn every_state_is_served_by_exactly_one_consular_post() {
        let geo = Geodata::get();
        for state in &geo.states {
            let n = geo
                .posts
                .iter()
                .filter(|p| p.states.contains(&state.parent))
                .count();
            assert_eq!(n, 1, "{} is served by {n} posts", state.parent);
        }
    }
}
