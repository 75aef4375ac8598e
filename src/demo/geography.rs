//! Where the demo records live: the published distribution of the Haiti-born population by
//! state, the neighbourhood hotspots inside the states (real ZIP codes), and a geocoder that
//! places a record around its ZIP centroid.
//!
//! The state figures for FL, NY, MA, NJ, GA and CT are the ACS 2022 Haiti-born counts of
//! `reference/haitian-us-population-facts.csv`; the other states share the remaining
//! ≈ 94,000 people by our own estimate (no per-state source for the tail). The hotspot
//! weights inside a state are planning estimates scaled to the state total, not published
//! figures. Whatever is not in a hotspot (at least [`REST_SHARE`] of a state) is spread over
//! all the state's ZIPs in proportion to an urban proxy (the number of ZIP centroids within
//! 10 km), so rural ZIPs get few people and some get none.

use std::collections::HashMap;
use std::sync::OnceLock;

use geo::{Distance, Euclidean, Point};
use rand::Rng;
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::Distribution;
use rayon::prelude::*;

use crate::geodata::{Area, Geodata, Zip};

/// Largest distance of a record from its ZIP centroid, in kilometres.
pub const JITTER_KM: f64 = 1.5;

/// Share of every state's people spread outside its hotspots.
pub const REST_SHARE: f64 = 0.08;

/// A state's Haiti-born population (thousands) and its hotspot ZIPs with relative weights.
pub struct StateShare {
    pub state: &'static str,
    pub thousands: f64,
    pub hotspots: &'static [(&'static str, f64)],
}

/// The Haiti-born population by state. FL, NY, MA, NJ, GA, CT: ACS 2022 (CIS fact sheet);
/// the rest: our estimate of the remaining ≈ 94k, so every consulate's jurisdiction has
/// people. Hotspot weights are thousands of people (estimates), rescaled to the state total.
pub const STATES: &[StateShare] = &[
    StateShare {
        state: "FL",
        thousands: 369.0,
        hotspots: &[
            // Miami-Dade: Little Haiti, El Portal, North Miami, North Miami Beach, Miami
            // Gardens, Opa-locka, Homestead / Florida City.
            ("33150", 10.0),
            ("33138", 8.0),
            ("33137", 4.0),
            ("33127", 5.0),
            ("33147", 4.0),
            ("33142", 2.0),
            ("33161", 12.0),
            ("33168", 9.0),
            ("33181", 4.0),
            ("33162", 8.0),
            ("33169", 8.0),
            ("33179", 5.0),
            ("33054", 4.0),
            ("33055", 3.0),
            ("33056", 4.0),
            ("33030", 2.0),
            ("33033", 2.0),
            ("33034", 1.5),
            // Broward: Lauderhill, Lauderdale Lakes, Fort Lauderdale NW, North Lauderdale,
            // Tamarac, Sunrise, Miramar, Pembroke Pines, Pompano Beach, Margate, Hollywood.
            ("33311", 7.0),
            ("33313", 10.0),
            ("33319", 8.0),
            ("33309", 4.0),
            ("33068", 6.0),
            ("33321", 4.0),
            ("33351", 3.0),
            ("33023", 8.0),
            ("33025", 5.0),
            ("33027", 4.0),
            ("33029", 3.0),
            ("33024", 3.0),
            ("33060", 5.0),
            ("33064", 4.0),
            ("33069", 3.0),
            ("33063", 3.0),
            ("33441", 2.0),
            ("33020", 3.0),
            ("33021", 2.0),
            ("33065", 2.0),
            // Palm Beach: Delray Beach, Boynton Beach, Lake Worth, West Palm Beach, Riviera
            // Beach, Belle Glade, Greenacres.
            ("33444", 10.0),
            ("33445", 5.0),
            ("33435", 6.0),
            ("33436", 4.0),
            ("33426", 2.0),
            ("33460", 5.0),
            ("33461", 5.0),
            ("33463", 5.0),
            ("33407", 5.0),
            ("33409", 3.0),
            ("33415", 5.0),
            ("33417", 3.0),
            ("33401", 2.0),
            ("33404", 4.0),
            ("33430", 3.0),
            ("33467", 2.0),
            // Orlando: Pine Hills and around, Apopka, Ocoee, Kissimmee.
            ("32808", 9.0),
            ("32818", 7.0),
            ("32811", 3.0),
            ("32810", 2.0),
            ("32835", 2.0),
            ("32839", 2.0),
            ("32805", 2.0),
            ("32703", 2.0),
            ("34761", 2.0),
            ("34741", 1.0),
            // Port St. Lucie / Fort Pierce.
            ("34983", 3.0),
            ("34984", 2.0),
            ("34986", 2.0),
            ("34950", 3.0),
            ("34947", 2.0),
            // Immokalee, Naples, Fort Myers.
            ("34142", 4.0),
            ("34116", 3.0),
            ("33916", 2.0),
            ("33905", 1.0),
            // Tampa, Jacksonville.
            ("33610", 2.5),
            ("33604", 1.5),
            ("33612", 1.5),
            ("33617", 1.0),
            ("32208", 1.5),
            ("32209", 1.0),
            ("32210", 1.0),
            ("32244", 1.0),
        ],
    },
    StateShare {
        state: "NY",
        thousands: 113.0,
        hotspots: &[
            // Brooklyn: Flatbush, East Flatbush, Canarsie, Flatlands, Crown Heights.
            ("11226", 12.0),
            ("11203", 12.0),
            ("11236", 10.0),
            ("11210", 6.0),
            ("11212", 4.0),
            ("11225", 4.0),
            ("11213", 3.0),
            ("11234", 4.0),
            ("11207", 2.0),
            // Queens: Cambria Heights, Queens Village, Springfield Gardens, Laurelton,
            // St. Albans, Rosedale, Jamaica.
            ("11411", 5.0),
            ("11428", 3.0),
            ("11429", 4.0),
            ("11413", 5.0),
            ("11412", 3.0),
            ("11422", 3.0),
            ("11434", 2.0),
            ("11432", 1.0),
            // Long Island, Rockland (Spring Valley), Westchester, the Bronx.
            ("11003", 3.0),
            ("11580", 2.0),
            ("11550", 2.0),
            ("11553", 1.0),
            ("10977", 5.0),
            ("10550", 2.0),
            ("10553", 1.0),
            ("10801", 1.0),
            ("10467", 1.0),
            ("10466", 1.0),
        ],
    },
    StateShare {
        state: "MA",
        thousands: 63.0,
        hotspots: &[
            // Boston: Mattapan, Dorchester, Hyde Park, Roslindale; then Brockton, Randolph,
            // Everett, Malden, Cambridge, Somerville, Medford, Milton, Stoughton, Quincy.
            ("02126", 9.0),
            ("02124", 8.0),
            ("02136", 5.0),
            ("02121", 3.0),
            ("02131", 2.0),
            ("02301", 6.0),
            ("02302", 4.0),
            ("02368", 4.0),
            ("02149", 3.0),
            ("02148", 3.0),
            ("02139", 2.0),
            ("02138", 1.0),
            ("02145", 1.0),
            ("02155", 2.0),
            ("02186", 2.0),
            ("02072", 1.0),
            ("02169", 1.0),
            ("01902", 1.0),
        ],
    },
    StateShare {
        state: "NJ",
        thousands: 46.0,
        hotspots: &[
            // Essex: Irvington, East Orange, Newark, Orange, Maplewood; Union: Elizabeth,
            // Union, Hillside, Linden, Plainfield; then Bergen and the shore.
            ("07111", 6.0),
            ("07017", 4.0),
            ("07018", 3.0),
            ("07106", 3.0),
            ("07108", 2.0),
            ("07112", 2.0),
            ("07050", 2.0),
            ("07040", 1.0),
            ("07201", 1.5),
            ("07202", 1.0),
            ("07206", 1.0),
            ("07083", 1.0),
            ("07205", 1.0),
            ("07036", 1.0),
            ("07060", 1.0),
            ("07666", 1.0),
            ("07631", 1.0),
            ("07712", 1.0),
        ],
    },
    StateShare {
        state: "GA",
        thousands: 28.0,
        hotspots: &[
            // Atlanta metro: Stone Mountain, Lithonia, Decatur, Snellville, Lawrenceville,
            // Norcross, Marietta, south Fulton.
            ("30083", 3.0),
            ("30088", 1.5),
            ("30058", 2.0),
            ("30038", 2.0),
            ("30035", 1.0),
            ("30034", 1.0),
            ("30044", 1.5),
            ("30043", 1.0),
            ("30045", 1.0),
            ("30093", 1.0),
            ("30060", 1.0),
            ("30349", 1.0),
        ],
    },
    StateShare {
        state: "CT",
        thousands: 14.0,
        hotspots: &[
            ("06902", 2.5),
            ("06906", 1.0),
            ("06854", 1.5),
            ("06851", 0.5),
            ("06606", 1.0),
            ("06112", 1.0),
            ("06120", 0.5),
            ("06002", 0.5),
            ("06511", 0.5),
        ],
    },
    StateShare {
        state: "PA",
        thousands: 12.0,
        hotspots: &[
            ("19120", 2.0),
            ("19111", 1.5),
            ("19124", 1.0),
            ("19149", 1.0),
            ("19141", 1.0),
        ],
    },
    StateShare {
        state: "TX",
        thousands: 9.0,
        hotspots: &[
            ("77072", 1.0),
            ("77036", 1.0),
            ("77099", 0.5),
            ("75243", 0.5),
        ],
    },
    StateShare {
        state: "MD",
        thousands: 9.0,
        hotspots: &[
            ("20906", 1.0),
            ("20904", 1.0),
            ("20783", 1.0),
            ("20716", 0.5),
            ("21215", 0.5),
        ],
    },
    StateShare {
        state: "OH",
        thousands: 8.0,
        hotspots: &[
            ("45505", 2.5),
            ("45503", 1.5),
            ("45506", 1.0),
            ("43229", 1.0),
        ],
    },
    StateShare {
        state: "NC",
        thousands: 7.0,
        hotspots: &[
            ("28215", 1.0),
            ("28212", 0.5),
            ("27610", 0.5),
            ("28314", 0.5),
        ],
    },
    StateShare {
        state: "IL",
        thousands: 6.0,
        hotspots: &[
            ("60626", 1.0),
            ("60640", 0.8),
            ("60660", 0.5),
            ("60201", 0.7),
            ("60202", 0.5),
            ("60619", 0.5),
        ],
    },
    StateShare {
        state: "VA",
        thousands: 5.0,
        hotspots: &[("22304", 0.5), ("22191", 0.5), ("23513", 0.5)],
    },
    StateShare {
        state: "CA",
        thousands: 5.0,
        hotspots: &[],
    },
    StateShare {
        state: "RI",
        thousands: 3.0,
        hotspots: &[("02908", 0.8), ("02909", 0.5), ("02860", 0.7)],
    },
    StateShare {
        state: "IN",
        thousands: 3.0,
        hotspots: &[("46226", 0.8), ("46218", 0.5), ("46235", 0.5)],
    },
    StateShare {
        state: "DE",
        thousands: 2.5,
        hotspots: &[("19802", 0.5), ("19805", 0.4), ("19947", 0.6)],
    },
    StateShare {
        state: "TN",
        thousands: 2.0,
        hotspots: &[("37013", 0.5)],
    },
    StateShare {
        state: "SC",
        thousands: 2.0,
        hotspots: &[],
    },
    StateShare {
        state: "LA",
        thousands: 2.0,
        hotspots: &[],
    },
    StateShare {
        state: "MI",
        thousands: 1.5,
        hotspots: &[("48235", 0.3)],
    },
    StateShare {
        state: "NH",
        thousands: 1.5,
        hotspots: &[],
    },
    StateShare {
        state: "DC",
        thousands: 1.5,
        hotspots: &[("20011", 0.5)],
    },
    StateShare {
        state: "ME",
        thousands: 0.8,
        hotspots: &[],
    },
    StateShare {
        state: "AL",
        thousands: 1.0,
        hotspots: &[],
    },
    StateShare {
        state: "KY",
        thousands: 1.0,
        hotspots: &[],
    },
    StateShare {
        state: "MO",
        thousands: 1.0,
        hotspots: &[],
    },
    StateShare {
        state: "CO",
        thousands: 1.0,
        hotspots: &[],
    },
    StateShare {
        state: "AZ",
        thousands: 1.0,
        hotspots: &[],
    },
    StateShare {
        state: "NV",
        thousands: 1.0,
        hotspots: &[],
    },
    StateShare {
        state: "WA",
        thousands: 1.0,
        hotspots: &[],
    },
    StateShare {
        state: "MN",
        thousands: 1.0,
        hotspots: &[],
    },
    StateShare {
        state: "WI",
        thousands: 0.5,
        hotspots: &[],
    },
    StateShare {
        state: "IA",
        thousands: 0.5,
        hotspots: &[],
    },
    StateShare {
        state: "UT",
        thousands: 0.5,
        hotspots: &[],
    },
    StateShare {
        state: "OK",
        thousands: 0.4,
        hotspots: &[],
    },
    StateShare {
        state: "KS",
        thousands: 0.4,
        hotspots: &[],
    },
    StateShare {
        state: "MS",
        thousands: 0.4,
        hotspots: &[],
    },
    StateShare {
        state: "OR",
        thousands: 0.4,
        hotspots: &[],
    },
    StateShare {
        state: "NE",
        thousands: 0.3,
        hotspots: &[],
    },
    StateShare {
        state: "AR",
        thousands: 0.3,
        hotspots: &[],
    },
    StateShare {
        state: "VT",
        thousands: 0.3,
        hotspots: &[],
    },
    StateShare {
        state: "NM",
        thousands: 0.2,
        hotspots: &[],
    },
    StateShare {
        state: "ID",
        thousands: 0.1,
        hotspots: &[],
    },
    StateShare {
        state: "ND",
        thousands: 0.1,
        hotspots: &[],
    },
    StateShare {
        state: "SD",
        thousands: 0.1,
        hotspots: &[],
    },
    StateShare {
        state: "AK",
        thousands: 0.1,
        hotspots: &[],
    },
    StateShare {
        state: "HI",
        thousands: 0.1,
        hotspots: &[],
    },
    StateShare {
        state: "WV",
        thousands: 0.1,
        hotspots: &[],
    },
    StateShare {
        state: "MT",
        thousands: 0.05,
        hotspots: &[],
    },
    StateShare {
        state: "WY",
        thousands: 0.05,
        hotspots: &[],
    },
];

/// A ZIP centroid prepared for placing records: its geocoding is computed once.
///
/// A record's state and county follow the importer's rule for a point with a ZIP, so that a
/// demo record exported to CSV imports back identical: the state and county polygons that
/// contain the point (a point in no county polygon of its state takes the ZIP's county),
/// and, for a point outside every state polygon (water along a coast), the ZIP's own state
/// and county.
#[derive(Debug)]
pub struct Site {
    pub zip: String,
    /// WGS84 degrees.
    pub lat: f64,
    pub lon: f64,
    /// 2-digit FIPS of the ZIP's own state.
    pub state_fips: String,
    /// The ZIP's own county (GeoNames; Connecticut's are 2022 planning regions).
    zip_county: Option<String>,
    /// The county of the centroid by the rule above.
    centroid_county: Option<String>,
    /// Degrees of latitude / longitude per kilometre here.
    deg_lat_per_km: f64,
    deg_lon_per_km: f64,
    /// Every point within [`JITTER_KM`] lies inside the state polygon and the county polygon
    /// of the centroid, so jittered points need no point-in-polygon test.
    interior: bool,
}

/// A record's or an association's position and what it lies in.
pub struct Located<'a> {
    pub lat: f64,
    pub lon: f64,
    pub state_fips: &'a str,
    pub county_fips: Option<&'a str>,
}

impl Site {
    fn new(geo: &Geodata, zip: &Zip, state: &Area) -> Option<Site> {
        let state_at = geo.state_at(zip.lon, zip.lat);
        // A centroid inside another state's polygon would put the ZIP's people there.
        if state_at.is_some_and(|s| s.fips != state.fips) {
            return None;
        }
        let county_at = geo
            .county_at(zip.lon, zip.lat)
            .filter(|c| c.parent == state.fips);
        let deg_lat_per_km: f64 = 1.0 / 110.574;
        let deg_lon_per_km = 1.0 / (111.320 * zip.lat.to_radians().cos());
        // Any jittered point is at most this far from the centroid in degree space.
        let reach = JITTER_KM * deg_lat_per_km.max(deg_lon_per_km) * 1.01;
        let interior = state_at.is_some_and(|s| boundary_distance(s, zip.lon, zip.lat) > reach)
            && county_at.is_some_and(|c| boundary_distance(c, zip.lon, zip.lat) > reach);
        Some(Site {
            zip: zip.zip.clone(),
            lat: zip.lat,
            lon: zip.lon,
            state_fips: state.fips.clone(),
            zip_county: zip.county_fips.clone(),
            centroid_county: match state_at {
                Some(_) => county_at
                    .map(|c| c.fips.clone())
                    .or_else(|| zip.county_fips.clone()),
                None => zip.county_fips.clone(),
            },
            deg_lat_per_km,
            deg_lon_per_km,
            interior,
        })
    }

    /// A point uniformly within [`JITTER_KM`] of the centroid (rounded to 6 decimals, about
    /// 0.1 m) that stays in the ZIP's state, with its state and county.
    pub fn locate<'a, R: Rng + ?Sized>(&'a self, geo: &'a Geodata, rng: &mut R) -> Located<'a> {
        for _ in 0..8 {
            let r = JITTER_KM * rng.random::<f64>().sqrt();
            let (sin, cos) = (std::f64::consts::TAU * rng.random::<f64>()).sin_cos();
            let lat = round6(self.lat + r * sin * self.deg_lat_per_km);
            let lon = round6(self.lon + r * cos * self.deg_lon_per_km);
            if self.interior {
                return self.at(lat, lon, self.centroid_county.as_deref());
            }
            match geo.state_at(lon, lat) {
                None => return self.at(lat, lon, self.zip_county.as_deref()),
                Some(s) if s.fips == self.state_fips => {
                    let county = geo.county_at(lon, lat).filter(|c| c.parent == s.fips);
                    return self.at(
                        lat,
                        lon,
                        county
                            .map(|c| c.fips.as_str())
                            .or(self.zip_county.as_deref()),
                    );
                }
                Some(_) => continue,
            }
        }
        // The centroid is in the ZIP's state or in no state (checked in `Site::new`).
        self.at(self.lat, self.lon, self.centroid_county.as_deref())
    }

    fn at<'a>(&'a self, lat: f64, lon: f64, county_fips: Option<&'a str>) -> Located<'a> {
        Located {
            lat,
            lon,
            state_fips: &self.state_fips,
            county_fips,
        }
    }
}

/// `x` rounded to 6 decimals, half away from zero (a cast: `f64::round` is a libm call on
/// baseline x86-64).
fn round6(x: f64) -> f64 {
    let v = x * 1e6;
    (v + 0.5f64.copysign(v)) as i64 as f64 / 1e6
}

/// Degree-space distance from a point to the nearest ring of an area.
fn boundary_distance(area: &Area, lon: f64, lat: f64) -> f64 {
    let p = Point::new(lon, lat);
    area.geometry
        .0
        .iter()
        .flat_map(|poly| std::iter::once(poly.exterior()).chain(poly.interiors()))
        .map(|ring| Euclidean.distance(&p, ring))
        .fold(f64::INFINITY, f64::min)
}

/// Every usable ZIP with its weight (share of the Haiti-born population), sampled in O(1).
pub struct Sites {
    pub sites: Vec<Site>,
    by_zip: HashMap<String, usize>,
    sampler: WeightedAliasIndex<f64>,
}

impl Sites {
    /// The sites of the embedded geodata, prepared once (≈ 0.2 s after the geodata loads).
    pub fn get() -> &'static Sites {
        static SITES: OnceLock<Sites> = OnceLock::new();
        SITES.get_or_init(|| Sites::build(Geodata::get()))
    }

    fn build(geo: &Geodata) -> Sites {
        let mut zips: Vec<&Zip> = geo.zips.values().collect();
        zips.sort_unstable_by(|a, b| a.zip.cmp(&b.zip));
        let urban = urban_proxy(&zips);
        let shares: HashMap<&str, &StateShare> = STATES.iter().map(|s| (s.state, s)).collect();

        // Per state: the rest weight per unit of urban proxy, and the hotspot scale.
        let mut proxy_sum: HashMap<&str, f64> = HashMap::new();
        for (zip, u) in zips.iter().zip(&urban) {
            *proxy_sum.entry(zip.state.as_str()).or_default() += u;
        }
        let weight_of = |zip: &Zip, urban: f64| -> f64 {
            let Some(share) = shares.get(zip.state.as_str()) else {
                return 0.0;
            };
            let hot_sum: f64 = share.hotspots.iter().map(|h| h.1).sum();
            let rest = (share.thousands - hot_sum).max(REST_SHARE * share.thousands);
            let hot_scale = if hot_sum > 0.0 {
                (share.thousands - rest) / hot_sum
            } else {
                0.0
            };
            let hot = share
                .hotspots
                .iter()
                .find(|h| h.0 == zip.zip)
                .map_or(0.0, |h| h.1 * hot_scale);
            hot + rest * urban / proxy_sum[zip.state.as_str()]
        };

        let mut candidates: Vec<(&Zip, f64)> = zips
            .iter()
            .zip(&urban)
            .map(|(z, &u)| (*z, weight_of(z, u)))
            .filter(|(_, w)| *w > 0.0)
            .collect();
        candidates.sort_unstable_by(|a, b| a.0.zip.cmp(&b.0.zip));
        let prepared: Vec<(Site, f64)> = candidates
            .par_iter()
            .filter_map(|(zip, w)| {
                let state = geo.state_by_postal(&zip.state)?;
                Site::new(geo, zip, state).map(|s| (s, *w))
            })
            .collect();
        let (sites, weights): (Vec<Site>, Vec<f64>) = prepared.into_iter().unzip();
        let by_zip = sites
            .iter()
            .enumerate()
            .map(|(i, s)| (s.zip.clone(), i))
            .collect();
        let sampler = WeightedAliasIndex::new(weights).expect("positive site weights");
        Sites {
            sites,
            by_zip,
            sampler,
        }
    }

    /// A site drawn in proportion to where the Haiti-born population lives.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> &Site {
        &self.sites[self.sampler.sample(rng)]
    }

    pub fn by_zip(&self, zip: &str) -> Option<&Site> {
        self.by_zip.get(zip).map(|&i| &self.sites[i])
    }
}

/// How urban each ZIP is: `(1 + ZIP centroids within 10 km)^1.3`, a stand-in for its
/// population (urban ZIPs are small and numerous, rural ones large and sparse).
fn urban_proxy(zips: &[&Zip]) -> Vec<f64> {
    const CELL: f64 = 0.1;
    let key = |lat: f64, lon: f64| ((lat / CELL).floor() as i32, (lon / CELL).floor() as i32);
    let mut grid: HashMap<(i32, i32), Vec<usize>> = HashMap::new();
    for (i, z) in zips.iter().enumerate() {
        grid.entry(key(z.lat, z.lon)).or_default().push(i);
    }
    zips.par_iter()
        .map(|z| {
            let (cy, cx) = key(z.lat, z.lon);
            let kx = 111.32 * z.lat.to_radians().cos();
            let mut n = 0usize;
            for dy in -1..=1 {
                for dx in -3..=3 {
                    for &j in grid.get(&(cy + dy, cx + dx)).map_or(&[][..], Vec::as_slice) {
                        let (ey, ex) =
                            ((zips[j].lat - z.lat) * 110.574, (zips[j].lon - z.lon) * kx);
                        n += usize::from(ey * ey + ex * ex <= 100.0);
                    }
                }
            }
            (n as f64).powf(1.3)
        })
        .collect()
}
