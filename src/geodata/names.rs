//! Place names for areas that have none (H3 hexagons, outreach gap areas): the city of the
//! nearest ZIP centroid (GeoNames, CC BY 4.0) and the county the point falls in, e.g.
//! `Hialeah, Miami-Dade, FL`. Offline: an R-tree of the ~41,000 ZIP centroids, built once.

use std::sync::OnceLock;

use rstar::primitives::GeomWithData;
use rstar::RTree;

use super::Geodata;

/// A ZIP centroid as a point (lon, lat degrees; equirectangular distances, scaled by the
/// cosine of the latitude, are exact enough to find the nearest centroid) with its index.
type ZipPoint = GeomWithData<[f64; 2], usize>;

struct Cities {
    tree: RTree<ZipPoint>,
    /// City and state of each ZIP, by the index stored in the tree.
    names: Vec<(String, String)>,
}

/// Scale of longitudes around the contiguous US (cos 38°), so that "nearest" is about right.
const LON_SCALE: f64 = 0.788;

fn cities() -> &'static Cities {
    static CITIES: OnceLock<Cities> = OnceLock::new();
    CITIES.get_or_init(|| {
        let geo = Geodata::get();
        let mut zips: Vec<_> = geo.zips.values().collect();
        // Deterministic: two ZIPs at the same centroid give the same name whatever the hash order.
        zips.sort_by(|a, b| a.zip.cmp(&b.zip));
        let names = zips
            .iter()
            .map(|z| (z.city.clone(), z.state.clone()))
            .collect();
        let points = zips
            .iter()
            .enumerate()
            .map(|(i, z)| ZipPoint::new([z.lon * LON_SCALE, z.lat], i))
            .collect();
        Cities {
            tree: RTree::bulk_load(points),
            names,
        }
    })
}

impl Geodata {
    /// The city of the ZIP centroid nearest to (lon, lat) and its state's USPS code.
    pub fn nearest_city(&self, lon: f64, lat: f64) -> Option<(&'static str, &'static str)> {
        let c = cities();
        c.tree
            .nearest_neighbor(&[lon * LON_SCALE, lat])
            .map(|p| (c.names[p.data].0.as_str(), c.names[p.data].1.as_str()))
    }

    /// A name for an unnamed area around (lon, lat): `City, County, ST`; `City, ST` outside
    /// every county (offshore), or the county alone when no ZIP is known.
    pub fn place_name(&self, lon: f64, lat: f64) -> String {
        let county = self.county_at(lon, lat);
        let state_of = |c: &super::Area| {
            self.state_by_fips(&c.parent)
                .map_or(String::new(), |s| s.parent.clone())
        };
        match (self.nearest_city(lon, lat), county) {
            (Some((city, _)), Some(c)) if city.eq_ignore_ascii_case(&c.name) => {
                format!("{city}, {}", state_of(c))
            }
            (Some((city, _)), Some(c)) => format!("{city}, {}, {}", c.name, state_of(c)),
            (Some((city, st)), None) => format!("{city}, {st}"),
            (None, Some(c)) => format!("{}, {}", c.name, state_of(c)),
            (None, None) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_named_after_their_city_and_county() {
        let geo = Geodata::get();
        // Little Haiti, Miami.
        let name = geo.place_name(-80.195, 25.83);
        assert!(name.starts_with("Miami"), "{name}");
        assert!(name.contains("Miami-Dade, FL"), "{name}");
        // Flatbush, Brooklyn (Kings County).
        let name = geo.place_name(-73.95, 40.64);
        assert!(name.starts_with("Brooklyn, Kings, NY"), "{name}");
    }
}
