//! The detailed coastline: GSHHG full-resolution land (level 1 and 3, minus lakes and
//! ponds) over the US, Puerto Rico, the US Virgin Islands and Hispaniola, from
//! `geodata/coast.bin` (built by `geodata/coast.py`; format and source in its README).
//!
//! The land comes cut into 1° cells (lon/lat, EPSG:4326), so a tile reads the few cells it
//! overlaps rather than a continent-wide ring. A cell is water, land, or a list of
//! polygons clipped to it. Coordinates stay integers (1e-5°, about 1 m) in memory: 8 bytes
//! a point instead of 16 for projected floats, and a tile projects only what it draws.

use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

use super::{GeoFiles, GeodataError};

/// Integer units per degree of the stored coordinates.
pub const UNITS_PER_DEGREE: f64 = 100_000.0;

const FILE: &str = "coast.bin";
const MAGIC: &[u8] = b"DYCOAST1";

/// Who a land polygon belongs to, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Any land but Haiti's.
    Other,
    /// Haiti (the land near `haiti.geojson`'s outline, west of its border).
    Haiti,
}

/// A land polygon clipped to its cell: exterior ring counter-clockwise, holes clockwise,
/// open rings, `[lon, lat]` in 1e-5°.
#[derive(Debug)]
pub struct LandPolygon {
    pub owner: Owner,
    /// `[west, south, east, north]` in 1e-5°.
    pub bounds: [i32; 4],
    pub rings: Vec<Vec<[i32; 2]>>,
}

/// One 1° cell of the covered area.
#[derive(Debug)]
pub enum Cell {
    Water,
    Land,
    Mixed(Vec<LandPolygon>),
}

/// The covered cells, keyed by their south-west corner in whole degrees `(lon, lat)`.
#[derive(Debug)]
pub struct Coast {
    cells: HashMap<(i16, i16), Cell>,
    points: usize,
}

impl Coast {
    /// The embedded coastline, decoded on first use (about 0.1 s) and shared.
    ///
    /// Embedded and read by the tests: a binary whose `coast.bin` does not decode stops at
    /// its first detailed tile, naming the file and the reason.
    pub fn get() -> &'static Coast {
        static COAST: OnceLock<Coast> = OnceLock::new();
        COAST.get_or_init(|| {
            let decoded = GeoFiles::get(FILE)
                .ok_or_else(|| bad("not embedded in this binary".into()))
                .and_then(|f| Coast::decode(&f.data));
            match decoded {
                Ok(c) => c,
                Err(e) => panic!("the embedded coastline is invalid: {e}"),
            }
        })
    }

    /// Decodes the bytes of `coast.bin`.
    ///
    /// # Errors
    /// Not a `coast.bin` (magic), a corrupt deflate stream, or a truncated body.
    pub fn decode(bytes: &[u8]) -> Result<Coast, GeodataError> {
        let body = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("not a coast.bin (magic)".into()))?;
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(body)
            .read_to_end(&mut raw)
            .map_err(|e| bad(format!("inflate: {e}")))?;
        let mut r = Reader { buf: &raw, pos: 0 };
        let n = r.varint()?;
        let mut cells = HashMap::new();
        let mut points = 0usize;
        for _ in 0..n {
            let x = r.i16()?;
            let y = r.i16()?;
            let cell = match r.u8()? {
                0 => Cell::Water,
                1 => Cell::Land,
                2 => {
                    let mut prev = [i32::from(x) * 100_000, i32::from(y) * 100_000];
                    let np = r.count()?;
                    let mut polygons = Vec::with_capacity(np);
                    for _ in 0..np {
                        let owner = match r.u8()? {
                            0 => Owner::Other,
                            1 => Owner::Haiti,
                            k => return Err(bad(format!("unknown owner {k}"))),
                        };
                        let nr = r.count()?;
                        let mut rings = Vec::with_capacity(nr);
                        for _ in 0..nr {
                            let len = r.count()?;
                            let mut ring = Vec::with_capacity(len);
                            for _ in 0..len {
                                prev = [prev[0] + r.zigzag()?, prev[1] + r.zigzag()?];
                                ring.push(prev);
                            }
                            points += len;
                            rings.push(ring);
                        }
                        let bounds = rings.first().map_or([0; 4], |ext| bounds_of(ext));
                        polygons.push(LandPolygon {
                            owner,
                            bounds,
                            rings,
                        });
                    }
                    Cell::Mixed(polygons)
                }
                k => return Err(bad(format!("unknown cell kind {k}"))),
            };
            cells.insert((x, y), cell);
        }
        if r.pos != raw.len() {
            return Err(bad("bytes after the last cell".into()));
        }
        Ok(Coast { cells, points })
    }

    /// The covered cells overlapping `[west, south, east, north]` (degrees), with their
    /// south-west corners.
    pub fn cells_in(&self, b: [f64; 4]) -> impl Iterator<Item = ((i16, i16), &Cell)> {
        let span = |lo: f64, hi: f64, min: f64, max: f64| {
            // Whole degrees, clamped to the range of a cell corner.
            (lo.floor().clamp(min, max) as i16)..=(hi.floor().clamp(min, max) as i16)
        };
        let xs = span(b[0], b[2], -180.0, 179.0);
        let ys = span(b[1], b[3], -90.0, 89.0);
        xs.flat_map(move |x| ys.clone().map(move |y| (x, y)))
            .filter_map(|k| self.cells.get(&k).map(|c| (k, c)))
    }

    /// Whether (lon, lat) in degrees is land: `None` outside the covered cells. Even-odd
    /// rule on the stored rings; a point on an edge may go either way.
    pub fn is_land(&self, lon: f64, lat: f64) -> Option<bool> {
        let (x, y) = (lon.floor() as i16, lat.floor() as i16);
        let p = [lon * UNITS_PER_DEGREE, lat * UNITS_PER_DEGREE];
        match self.cells.get(&(x, y))? {
            Cell::Water => Some(false),
            Cell::Land => Some(true),
            Cell::Mixed(polygons) => Some(
                polygons
                    .iter()
                    .any(|poly| poly.rings.iter().filter(|r| crosses_odd(r, p)).count() % 2 == 1),
            ),
        }
    }

    /// Number of covered cells and of stored points.
    pub fn size(&self) -> (usize, usize) {
        (self.cells.len(), self.points)
    }
}

/// Whether a ray from `p` towards +x crosses `ring` an odd number of times.
fn crosses_odd(ring: &[[i32; 2]], p: [f64; 2]) -> bool {
    let mut inside = false;
    let n = ring.len();
    for i in 0..n {
        let a = ring[i].map(f64::from);
        let b = ring[(i + 1) % n].map(f64::from);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

fn bounds_of(ring: &[[i32; 2]]) -> [i32; 4] {
    ring.iter()
        .fold([i32::MAX, i32::MAX, i32::MIN, i32::MIN], |b, p| {
            [
                b[0].min(p[0]),
                b[1].min(p[1]),
                b[2].max(p[0]),
                b[3].max(p[1]),
            ]
        })
}

fn bad(reason: String) -> GeodataError {
    GeodataError {
        file: FILE.to_string(),
        reason,
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, GeodataError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| bad("truncated".into()))?;
        self.pos += 1;
        Ok(b)
    }

    fn i16(&mut self) -> Result<i16, GeodataError> {
        Ok(i16::from_le_bytes([self.u8()?, self.u8()?]))
    }

    fn varint(&mut self) -> Result<u64, GeodataError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("varint too long".into()))
    }

    /// A count of items still to read: each takes at least one byte, so a count beyond
    /// the bytes left is corrupt (and never reserves memory).
    fn count(&mut self) -> Result<usize, GeodataError> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len() - self.pos)
            .ok_or_else(|| bad("count beyond the data".into()))
    }

    fn zigzag(&mut self) -> Result<i32, GeodataError> {
        let v = self.varint()?;
        i32::try_from((v >> 1) as i64 ^ -((v & 1) as i64))
            .map_err(|_| bad("coordinate out of range".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn street_level_land_and_water_are_where_they_are() {
        let coast = Coast::get();
        let cases = [
            (-80.1300, 25.7906, true, "Miami Beach city hall"),
            (-73.9442, 40.6782, true, "Brooklyn (Crown Heights)"),
            (-80.16, 25.80, false, "Biscayne Bay"),
            (-80.10, 25.79, false, "the Atlantic off Miami Beach"),
            (-74.04, 40.66, false, "Upper New York Bay"),
            (-87.5, 42.0, false, "Lake Michigan off Chicago"),
            (-157.858, 21.307, true, "Honolulu"),
            (-66.105, 18.465, true, "San Juan"),
            (-72.3388, 18.5392, true, "Port-au-Prince"),
            (-73.0, 18.83, true, "Gonâve island"),
            (-72.8, 18.62, false, "Gulf of Gonâve"),
        ];
        for (lon, lat, land, what) in cases {
            assert_eq!(coast.is_land(lon, lat), Some(land), "{what}");
        }
        assert_eq!(coast.is_land(2.35, 48.85), None, "Paris is not covered");
    }

    #[test]
    fn a_truncated_or_foreign_file_is_refused() {
        let bytes = GeoFiles::get(FILE).map(|f| f.data.into_owned()).unwrap();
        assert!(Coast::decode(&bytes[..bytes.len() / 2]).is_err());
        assert!(Coast::decode(b"GIF89a").is_err());
    }
}
