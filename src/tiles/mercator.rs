//! Spherical Web Mercator (EPSG:3857) and the XYZ tile grid.
//!
//! Geometry is projected once into *world units*: x and y in 0..1 across the whole
//! Mercator square, y growing southwards (the tile grid's orientation). A tile `z/x/y`
//! covers world `[x, x + 1] / 2^z` × `[y, y + 1] / 2^z`, so cutting a tile is a scale and a
//! shift, never a new projection.

use std::f64::consts::PI;

/// Latitude limit of the Mercator square (degrees): the square's edge, ±85.0511°.
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// Deepest zoom accepted on any tile URL (~4 cm per pixel; deeper is a malformed request).
pub const MAX_ZOOM: u8 = 22;

/// Projects WGS84 lon/lat (degrees) to world units (0..1, y down). Latitudes beyond the
/// Mercator square are clamped to its edge.
#[inline]
pub fn to_world(lon: f64, lat: f64) -> [f64; 2] {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0;
    [x, y]
}

/// Inverse of [`to_world`]: world units back to lon/lat degrees.
pub fn to_lon_lat(p: [f64; 2]) -> (f64, f64) {
    let lon = p[0] * 360.0 - 180.0;
    let lat = (PI * (1.0 - 2.0 * p[1])).sinh().atan().to_degrees();
    (lon, lat)
}

/// A tile address in the XYZ (slippy map) scheme: y = 0 is the northern edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// A tile, if `x` and `y` exist at zoom `z` and `z` is at most [`MAX_ZOOM`].
    pub fn new(z: u8, x: u32, y: u32) -> Option<TileId> {
        let n = 1u64 << z.min(63);
        (z <= MAX_ZOOM && u64::from(x) < n && u64::from(y) < n).then_some(TileId { z, x, y })
    }

    /// Tiles per side at this zoom.
    pub fn scale(self) -> f64 {
        f64::from(1u32 << self.z)
    }

    /// The tile's square in world units, widened by `buffer` (a fraction of the tile's side):
    /// `[min_x, min_y, max_x, max_y]`.
    pub fn world_bounds(self, buffer: f64) -> [f64; 4] {
        let s = self.scale();
        [
            (f64::from(self.x) - buffer) / s,
            (f64::from(self.y) - buffer) / s,
            (f64::from(self.x) + 1.0 + buffer) / s,
            (f64::from(self.y) + 1.0 + buffer) / s,
        ]
    }

    /// Maps world units to this tile's coordinates, `0..size` across the tile (y down).
    #[inline]
    pub fn to_tile(self, p: [f64; 2], size: f64) -> [f64; 2] {
        let s = self.scale();
        [
            (p[0] * s - f64::from(self.x)) * size,
            (p[1] * s - f64::from(self.y)) * size,
        ]
    }

    /// The tile's bounds in lon/lat degrees: west, south, east, north.
    pub fn lon_lat_bounds(self) -> [f64; 4] {
        let b = self.world_bounds(0.0);
        let (w, n) = to_lon_lat([b[0], b[1]]);
        let (e, s) = to_lon_lat([b[2], b[3]]);
        [w, s, e, n]
    }
}

/// Every tile at zoom `z` that intersects a lon/lat box (west, south, east, north), row by
/// row from the north-west. Used by benchmarks and tests to sweep an area.
pub fn tiles_covering(bbox: [f64; 4], z: u8) -> Vec<TileId> {
    let s = f64::from(1u32 << z);
    let last = (1u32 << z) - 1;
    let tile = |v: f64| ((v * s).floor().max(0.0) as u32).min(last);
    let nw = to_world(bbox[0], bbox[3]);
    let se = to_world(bbox[2], bbox[1]);
    let mut out = Vec::new();
    for y in tile(nw[1])..=tile(se[1]) {
        for x in tile(nw[0])..=tile(se[0]) {
            out.push(TileId { z, x, y });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_projects_to_the_centre_of_the_world() {
        let p = to_world(0.0, 0.0);
        assert!((p[0] - 0.5).abs() < 1e-12 && (p[1] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn projection_round_trips_within_a_nanodegree() {
        for &(lon, lat) in &[
            (-80.19, 25.83),
            (-73.96, 40.64),
            (-150.0, 61.2),
            (179.9, -45.0),
        ] {
            let (lo, la) = to_lon_lat(to_world(lon, lat));
            assert!(
                (lo - lon).abs() < 1e-9 && (la - lat).abs() < 1e-9,
                "{lon},{lat} → {lo},{la}"
            );
        }
    }

    #[test]
    fn miami_falls_in_the_tile_every_slippy_map_puts_it_in() {
        // Reference values from the OSM wiki formula: Little Haiti at zoom 10 is 283/435.
        let p = to_world(-80.19, 25.83);
        let t = |z: u8| {
            (
                (p[0] * f64::from(1u32 << z)) as u32,
                (p[1] * f64::from(1u32 << z)) as u32,
            )
        };
        assert_eq!(t(10), (283, 435));
        assert_eq!(t(3), (2, 3));
    }

    #[test]
    fn mercator_is_not_linear_in_latitude() {
        // Half-way in y between the equator and 60°N is not 30°N.
        let a = to_world(0.0, 0.0)[1];
        let b = to_world(0.0, 60.0)[1];
        let (_, mid) = to_lon_lat([0.5, (a + b) / 2.0]);
        assert!((mid - 30.0).abs() > 3.0, "{mid}");
    }

    #[test]
    fn tiles_outside_the_grid_do_not_exist() {
        assert!(TileId::new(0, 0, 0).is_some());
        assert!(TileId::new(3, 8, 0).is_none());
        assert!(TileId::new(3, 0, 8).is_none());
        assert!(TileId::new(MAX_ZOOM + 1, 0, 0).is_none());
    }

    #[test]
    fn tile_bounds_contain_the_points_that_project_into_the_tile() {
        let t = TileId::new(10, 283, 435).unwrap();
        let [w, s, e, n] = t.lon_lat_bounds();
        assert!(w < -80.19 && -80.19 < e && s < 25.83 && 25.83 < n);
        let c = t.to_tile(to_world(-80.19, 25.83), 4096.0);
        assert!((0.0..4096.0).contains(&c[0]) && (0.0..4096.0).contains(&c[1]));
    }

    #[test]
    fn the_continental_us_sweep_covers_a_known_number_of_tiles() {
        let conus = [-125.0, 24.4, -66.9, 49.4];
        assert_eq!(tiles_covering(conus, 3).len(), 4);
        assert!(tiles_covering(conus, 10).len() > 10_000);
    }
}
