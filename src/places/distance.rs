//! Great-circle distances on a spherical Earth of mean radius [`EARTH_RADIUS_KM`]
//! (IUGG R₁ = 6371.0088 km). Against the WGS84 ellipsoid a spherical distance errs by at most
//! about 0.5 %, far below what outreach planning needs; what matters is that every distance
//! the service states is computed the same way.
//!
//! The R-tree indexes places as points on the unit sphere in 3-D: the straight-line (chord)
//! distance between two such points grows monotonically with their great-circle distance,
//! so Euclidean nearest-neighbour and within-radius queries in 3-D answer the great-circle
//! questions exactly, with no distortion near the poles or the antimeridian.

/// Mean Earth radius R₁ (IUGG), in kilometres.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Haversine great-circle distance in kilometres between two (lon, lat) points in degrees.
///
/// Uses the `atan2` form, accurate for antipodal points as well as for nearby ones.
///
/// ```
/// use dyaspora::places::haversine_km;
/// // Miami consulate to the New York consulate: about 1 763 km.
/// let d = haversine_km(-80.2059, 25.7672, -73.9707, 40.7517);
/// assert!((d - 1762.9).abs() < 0.1, "{d}");
/// ```
pub fn haversine_km(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    let a = a.clamp(0.0, 1.0);
    2.0 * EARTH_RADIUS_KM * a.sqrt().atan2((1.0 - a).sqrt())
}

/// The point (lon, lat) in degrees on the unit sphere (x towards 0°E, z towards the north pole).
pub fn unit_vector(lon: f64, lat: f64) -> [f64; 3] {
    let (lon, lat) = (lon.to_radians(), lat.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// The chord length on the unit sphere that subtends `km` of great circle (capped at the
/// diameter, 2, for distances of half the circumference or more).
pub fn km_to_chord(km: f64) -> f64 {
    let angle = (km / EARTH_RADIUS_KM).clamp(0.0, std::f64::consts::PI);
    2.0 * (angle / 2.0).sin()
}

/// The great-circle distance in kilometres of a chord of the unit sphere (the tests' inverse
/// of [`km_to_chord`]).
#[cfg(test)]
pub fn chord_to_km(chord: f64) -> f64 {
    2.0 * EARTH_RADIUS_KM * (chord / 2.0).clamp(0.0, 1.0).asin()
}

#[cfg(test)]
mod tests {
    use geo::{Distance, Haversine, Point};
    use proptest::prelude::*;

    use super::*;

    /// geo's haversine (R = 6 371 008.8 m), an independent implementation, in km.
    fn reference_km(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
        Haversine.distance(Point::new(lon1, lat1), Point::new(lon2, lat2)) / 1000.0
    }

    #[test]
    fn known_distances_match_published_values() {
        // One degree of latitude along a meridian: πR/180.
        let one_degree = std::f64::consts::PI * EARTH_RADIUS_KM / 180.0;
        assert!((haversine_km(0.0, 0.0, 0.0, 1.0) - one_degree).abs() < 1e-9);
        // Half the circumference between antipodes.
        let half = std::f64::consts::PI * EARTH_RADIUS_KM;
        assert!((haversine_km(10.0, 20.0, -170.0, -20.0) - half).abs() < 1e-6);
        assert_eq!(haversine_km(-80.2, 25.8, -80.2, 25.8), 0.0);
    }

    proptest! {
        #[test]
        fn haversine_agrees_with_an_independent_implementation_to_one_metre(
            lon1 in -180.0..180.0f64, lat1 in -90.0..90.0f64, lon2 in -180.0..180.0f64, lat2 in -90.0..90.0f64,
        ) {
            let d = haversine_km(lon1, lat1, lon2, lat2);
            let r = reference_km(lon1, lat1, lon2, lat2);
            prop_assert!((d - r).abs() < 0.001, "{d} km vs {r} km");
        }

        #[test]
        fn the_chord_of_two_points_gives_their_haversine_distance_to_one_metre(
            lon1 in -180.0..180.0f64, lat1 in -90.0..90.0f64, lon2 in -180.0..180.0f64, lat2 in -90.0..90.0f64,
        ) {
            let (a, b) = (unit_vector(lon1, lat1), unit_vector(lon2, lat2));
            let chord = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
            let d = chord_to_km(chord);
            prop_assert!((d - haversine_km(lon1, lat1, lon2, lat2)).abs() < 0.001);
            prop_assert!((km_to_chord(d) - chord).abs() < 1e-9);
        }
    }
}
