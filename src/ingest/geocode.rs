//! Offline geocoding for the importer, over the embedded [`Geodata`]:
//! - ZIP → centroid, state, county and H3 cell: a table indexed by the ZIP's number, built
//!   once (the H3 cell of each centroid is precomputed, so a ZIP-only row costs no geometry);
//! - (lon, lat) → state and county by point-in-polygon.

use std::sync::OnceLock;

use h3o::LatLng;

use crate::geodata::Geodata;
use crate::record::FINEST_RES;

/// A ZIP code ready for import.
#[derive(Clone, Debug)]
pub struct ZipInfo {
    pub lat: f64,
    pub lon: f64,
    /// 2-digit state FIPS, from the ZIP's own state (not from polygons: ~0.3 % of centroids
    /// fall outside every 1:10m state polygon).
    pub state_fips: &'static str,
    pub county_fips: Option<&'static str>,
    /// H3 cell of the centroid at [`FINEST_RES`].
    pub h3_cell: u64,
}

/// The importer's geocoder.
pub struct Geocoder {
    geo: &'static Geodata,
    /// Indexed by the ZIP as a number (00000–99999).
    zips: Vec<Option<ZipInfo>>,
}

/// Where a point falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PointPlace {
    pub state_fips: &'static str,
    pub county_fips: Option<&'static str>,
}

impl Geocoder {
    /// The geocoder over the embedded geodata, built on first use.
    pub fn get() -> &'static Geocoder {
        static GEOCODER: OnceLock<Geocoder> = OnceLock::new();
        GEOCODER.get_or_init(|| Geocoder::new(Geodata::get()))
    }

    fn new(geo: &'static Geodata) -> Geocoder {
        let mut zips = vec![None; 100_000];
        for zip in geo.zips.values() {
            let (Ok(n), Some(state)) = (zip.zip.parse::<usize>(), geo.state_by_postal(&zip.state))
            else {
                continue;
            };
            let Ok(ll) = LatLng::new(zip.lat, zip.lon) else {
                continue;
            };
            if zip.zip.len() != 5 || n >= zips.len() {
                continue;
            }
            zips[n] = Some(ZipInfo {
                lat: zip.lat,
                lon: zip.lon,
                state_fips: state.fips.as_str(),
                county_fips: zip.county_fips.as_deref(),
                h3_cell: u64::from(ll.to_cell(FINEST_RES)),
            });
        }
        Geocoder { geo, zips }
    }

    /// The ZIP `zip` (five ASCII digits), if it is a known US ZIP code.
    pub fn zip(&self, zip: &str) -> Option<&ZipInfo> {
        let n: usize = zip.parse().ok()?;
        self.zips.get(n)?.as_ref()
    }

    /// The state (and county, when a county polygon contains it) of a WGS84 point.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<PointPlace> {
        let state = self.geo.state_at(lon, lat)?;
        let county = self
            .geo
            .county_at(lon, lat)
            .filter(|c| c.parent == state.fips);
        Some(PointPlace {
            state_fips: state.fips.as_str(),
            county_fips: county.map(|c| c.fips.as_str()),
        })
    }

    /// Whether a point lies in some state (used to hint at swapped coordinates).
    pub fn in_us(&self, lon: f64, lat: f64) -> bool {
        self.geo.state_at(lon, lat).is_some()
    }
}

/// The H3 cell at [`FINEST_RES`] of a valid (finite) point.
pub fn h3_cell(lat: f64, lon: f64) -> Option<u64> {
    LatLng::new(lat, lon)
        .ok()
        .map(|ll| u64::from(ll.to_cell(FINEST_RES)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zips_and_points_geocode() {
        let g = Geocoder::get();
        // Mattapan, Boston: a ZIP with a leading zero.
        let z = g.zip("02126").expect("02126 is a ZIP");
        assert_eq!(z.state_fips, "25");
        assert_eq!(z.county_fips, Some("25025"));
        assert_eq!(z.h3_cell, h3_cell(z.lat, z.lon).unwrap());
        assert!(g.zip("00000").is_none());
        assert!(g.zip("abcde").is_none());
        // Little Haiti, Miami.
        assert_eq!(
            g.locate(-80.19, 25.83),
            Some(PointPlace {
                state_fips: "12",
                county_fips: Some("12086")
            })
        );
        assert_eq!(g.locate(-60.0, 30.0), None);
    }
}
