//! Point-in-polygon for the geocoder, with a polygon's edges bucketed into horizontal strips.
//!
//! `geo`'s `contains` walks every edge of a ring: Florida's outline has 4,146, and half the
//! diaspora lives in Florida. Only edges whose y-range holds the point's latitude can change
//! the answer, so each polygon keeps its edges by strip of latitude and a query reads one
//! strip (a handful of edges). Each edge is then judged exactly as `geo` judges it (the same
//! crossing rules and the same robust orientation predicate), so the answers are `geo`'s
//! answers, bit for bit, including points on a boundary (not contained); the tests compare
//! the two on points drawn around every state and county.

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, Polygon};

/// A polygon (exterior ring and holes) prepared for [`StripPolygon::contains`].
#[derive(Debug, Clone)]
pub struct StripPolygon {
    min_y: f64,
    max_y: f64,
    /// Strips per degree of latitude.
    scale: f64,
    /// `edges[starts[s]..starts[s + 1]]` are the edges of strip `s`.
    starts: Vec<u32>,
    /// Every edge once per strip it spans; within a strip, by ring (0 = the exterior).
    edges: Vec<Edge>,
}

#[derive(Debug, Clone, Copy)]
struct Edge {
    start: Coord<f64>,
    end: Coord<f64>,
    ring: u32,
}

/// About two edges per strip: a query reads a few edges, the index stays small.
const EDGES_PER_STRIP: usize = 2;

impl StripPolygon {
    pub fn new(polygon: &Polygon<f64>) -> StripPolygon {
        let rings = std::iter::once(polygon.exterior()).chain(polygon.interiors());
        let all: Vec<Edge> = rings
            .enumerate()
            .flat_map(|(ring, r)| {
                r.lines().map(move |l| Edge {
                    start: l.start,
                    end: l.end,
                    ring: ring as u32,
                })
            })
            .collect();
        let (min_y, max_y) = all
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), e| {
                (
                    lo.min(e.start.y.min(e.end.y)),
                    hi.max(e.start.y.max(e.end.y)),
                )
            });
        let strips = (all.len() / EDGES_PER_STRIP).clamp(1, 1 << 16);
        let height = max_y - min_y;
        let scale = if height > 0.0 {
            strips as f64 / height
        } else {
            0.0
        };
        let mut prepared = StripPolygon {
            min_y,
            max_y,
            scale,
            starts: Vec::new(),
            edges: Vec::new(),
        };
        if all.is_empty() {
            prepared.starts = vec![0, 0];
            return prepared;
        }
        // Counting sort of (strip, edge) pairs; edges go in ring order, so each strip's
        // edges stay grouped by ring.
        let span = |e: &Edge| {
            let s = prepared.strip(e.start.y.min(e.end.y), strips);
            s..=prepared.strip(e.start.y.max(e.end.y), strips)
        };
        let mut counts = vec![0u32; strips + 1];
        for e in &all {
            for s in span(e) {
                counts[s + 1] += 1;
            }
        }
        for s in 0..strips {
            counts[s + 1] += counts[s];
        }
        let mut next = counts.clone();
        let mut edges = vec![all[0]; counts[strips] as usize];
        for e in &all {
            for s in span(e) {
                edges[next[s] as usize] = *e;
                next[s] += 1;
            }
        }
        prepared.starts = counts;
        prepared.edges = edges;
        prepared
    }

    /// The strip of latitude `y` (within `min_y..=max_y`). Monotonic in `y`, so an edge
    /// filed under the strips of its lowest and highest points is in the strip of every
    /// latitude between them.
    fn strip(&self, y: f64, strips: usize) -> usize {
        (((y - self.min_y) * self.scale) as usize).min(strips - 1)
    }

    /// Whether the polygon contains `c` (strictly: a point on a boundary is not contained),
    /// exactly as `geo::Contains` answers.
    pub fn contains(&self, c: Coord<f64>) -> bool {
        // Also refuses NaN.
        if !(c.y >= self.min_y && c.y <= self.max_y) {
            return false;
        }
        let strips = self.starts.len() - 1;
        let s = self.strip(c.y, strips);
        let edges = &self.edges[self.starts[s] as usize..self.starts[s + 1] as usize];
        let (mut ring, mut winding) = (0, 0);
        let mut in_exterior = false;
        for e in edges {
            if e.ring != ring {
                // The ring before is complete: inside the exterior, outside every hole.
                if !settle(ring, winding, &mut in_exterior) {
                    return false;
                }
                (ring, winding) = (e.ring, 0);
            }
            match crossing(e, c) {
                Some(w) => winding += w,
                None => return false, // on the boundary
            }
        }
        settle(ring, winding, &mut in_exterior) && in_exterior
    }
}

/// Records ring `ring`'s verdict; `false` when the point is inside a hole.
fn settle(ring: u32, winding: i32, in_exterior: &mut bool) -> bool {
    if ring == 0 {
        *in_exterior = winding != 0;
        true
    } else {
        winding == 0
    }
}

/// What edge `e` adds to the winding number of `c`, or `None` when `c` lies on it: the rules
/// of `geo::coordinate_position::coord_pos_relative_to_ring`, edge by edge.
fn crossing(e: &Edge, c: Coord<f64>) -> Option<i32> {
    let on_edge = |o: Orientation| {
        o == Orientation::Collinear
            && c.x >= e.start.x.min(e.end.x)
            && c.x <= e.start.x.max(e.end.x)
    };
    if e.start.y <= c.y {
        if e.end.y >= c.y {
            let o = RobustKernel::orient2d(e.start, e.end, c);
            if o == Orientation::CounterClockwise && e.end.y != c.y {
                return Some(1);
            }
            if on_edge(o) {
                return None;
            }
        }
    } else if e.end.y <= c.y {
        let o = RobustKernel::orient2d(e.start, e.end, c);
        if o == Orientation::Clockwise {
            return Some(-1);
        }
        if on_edge(o) {
            return None;
        }
    }
    Some(0)
}

#[cfg(test)]
mod tests {
    use geo::{BoundingRect, Contains, Point};
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::geodata::Geodata;

    /// Points drawn in and around every state and county polygon, a fifth of them on a
    /// vertex or an edge's midpoint: the strips answer as `geo` does, every time.
    #[test]
    fn strips_answer_as_geo_does() {
        let geo = Geodata::get();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut checked = 0;
        for area in geo.states.iter().chain(&geo.counties) {
            for polygon in &area.geometry.0 {
                let strips = StripPolygon::new(polygon);
                let ring = &polygon.exterior().0;
                let Some(bounds) = polygon.bounding_rect() else {
                    continue;
                };
                let (min, max) = (bounds.min(), bounds.max());
                let (dx, dy) = ((max.x - min.x) * 0.1, (max.y - min.y) * 0.1);
                for i in 0..40 {
                    let c = if i % 5 == 0 {
                        let k = rng.random_range(0..ring.len() - 1);
                        let (a, b) = (ring[k], ring[k + 1]);
                        if i % 10 == 0 {
                            a
                        } else {
                            Coord {
                                x: (a.x + b.x) / 2.0,
                                y: (a.y + b.y) / 2.0,
                            }
                        }
                    } else {
                        Coord {
                            x: rng.random_range(min.x - dx..=max.x + dx),
                            y: rng.random_range(min.y - dy..=max.y + dy),
                        }
                    };
                    assert_eq!(
                        strips.contains(c),
                        polygon.contains(&Point(c)),
                        "{} {} at {c:?}",
                        area.fips,
                        area.name
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 100_000, "{checked} points");
    }

    /// Holes and degenerate inputs: a square with a square hole, an empty polygon, NaN.
    #[test]
    fn holes_and_edges_of_the_input() {
        let polygon: Polygon<f64> = geo::wkt! {
            POLYGON((0.0 0.0, 10.0 0.0, 10.0 10.0, 0.0 10.0, 0.0 0.0), (4.0 4.0, 6.0 4.0, 6.0 6.0, 4.0 6.0, 4.0 4.0))
        };
        let strips = StripPolygon::new(&polygon);
        for (x, y, inside) in [
            (1.0, 1.0, true),
            (5.0, 5.0, false), // in the hole
            (4.0, 5.0, false), // on the hole's edge
            (0.0, 5.0, false), // on the exterior
            (10.0, 10.0, false),
            (11.0, 5.0, false),
            (5.0, 9.999, true),
            (f64::NAN, 5.0, false),
            (5.0, f64::NAN, false),
        ] {
            let c = Coord { x, y };
            assert_eq!(strips.contains(c), inside, "({x}, {y})");
            assert_eq!(polygon.contains(&c), inside, "geo at ({x}, {y})");
        }
        let empty = StripPolygon::new(&Polygon::new(geo::LineString(vec![]), vec![]));
        assert!(!empty.contains(Coord { x: 0.0, y: 0.0 }));
    }
}
