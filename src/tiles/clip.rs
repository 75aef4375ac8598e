//! Ring geometry in tile coordinates: clipping to the buffered tile, snapping to the integer
//! grid, winding. Coordinates here are tile units with y down (MVT's and the PNG's frame).

/// Signed area of a ring by the surveyor's formula (twice the area, in the frame's units²).
/// Positive means clockwise on screen (y down): MVT's orientation for exterior rings.
pub fn twice_area<T: Copy + Into<f64>>(ring: &[[T; 2]]) -> f64 {
    let n = ring.len();
    if n < 3 {
        return 0.0;
    }
    let mut a = 0.0;
    for i in 0..n {
        let p = ring[i];
        let q = ring[(i + 1) % n];
        a += p[0].into() * q[1].into() - q[0].into() * p[1].into();
    }
    a
}

/// Clips a ring to an axis-aligned box (Sutherland–Hodgman). The result is exact for convex
/// rings (H3 cells); for concave rings it may contain zero-width bridges along the box edge,
/// which fill correctly but are not a valid OGC polygon, so concave vector output goes
/// through [`clip_polygon`] instead. The input ring is open (no repeated first point).
pub fn clip_ring(ring: &[[f64; 2]], b: [f64; 4]) -> Vec<[f64; 2]> {
    let mut out: Vec<[f64; 2]> = ring.to_vec();
    // Each edge of the box: (axis, bound, keep if coordinate >= bound).
    for (axis, bound, keep_above) in [
        (0, b[0], true),
        (0, b[2], false),
        (1, b[1], true),
        (1, b[3], false),
    ] {
        if out.is_empty() {
            break;
        }
        let inside = |p: &[f64; 2]| {
            if keep_above {
                p[axis] >= bound
            } else {
                p[axis] <= bound
            }
        };
        let input = std::mem::take(&mut out);
        let mut prev = *input.last().expect("non-empty");
        for &cur in &input {
            let (pi, ci) = (inside(&prev), inside(&cur));
            if ci {
                if !pi {
                    out.push(intersect(prev, cur, axis, bound));
                }
                out.push(cur);
            } else if pi {
                out.push(intersect(prev, cur, axis, bound));
            }
            prev = cur;
        }
    }
    out
}

#[inline]
fn intersect(p: [f64; 2], q: [f64; 2], axis: usize, bound: f64) -> [f64; 2] {
    let t = (bound - p[axis]) / (q[axis] - p[axis]);
    let other = 1 - axis;
    let mut r = [0.0; 2];
    r[axis] = bound;
    r[other] = p[other] + t * (q[other] - p[other]);
    r
}

/// Clips a polygon (exterior then holes, open rings, tile units) to a box with a robust
/// boolean intersection, giving valid polygons even for concave shapes (states, counties).
pub fn clip_polygon(rings: &[Vec<[f64; 2]>], b: [f64; 4]) -> Vec<Vec<Vec<[f64; 2]>>> {
    use geo::BooleanOps;
    let to_ls = |r: &Vec<[f64; 2]>| {
        geo::LineString::from(r.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>())
    };
    let Some((exterior, holes)) = rings.split_first() else {
        return Vec::new();
    };
    let poly = geo::Polygon::new(to_ls(exterior), holes.iter().map(to_ls).collect());
    let rect = geo::Rect::new((b[0], b[1]), (b[2], b[3])).to_polygon();
    poly.intersection(&rect)
        .0
        .into_iter()
        .map(|p| {
            let open = |ls: &geo::LineString<f64>| -> Vec<[f64; 2]> {
                let mut v: Vec<[f64; 2]> = ls.coords().map(|c| [c.x, c.y]).collect();
                if v.len() > 1 && v.first() == v.last() {
                    v.pop();
                }
                v
            };
            let (ext, ints) = p.into_inner();
            std::iter::once(open(&ext))
                .chain(ints.iter().map(open))
                .collect()
        })
        .collect()
}

/// Snaps a ring to the integer grid and cleans what snapping breaks: repeated points,
/// spikes (A→B→A) and collinear runs. `None` when nothing with an area is left. (The tests'
/// form of [`snap_ring_into`].)
#[cfg(test)]
pub fn snap_ring(ring: &[[f64; 2]]) -> Option<Vec<[i32; 2]>> {
    let mut out = Vec::with_capacity(ring.len());
    snap_ring_into(ring, &mut out).then_some(out)
}

/// Snaps a ring to the integer grid and cleans what snapping breaks (repeated points, spikes
/// A→B→A, collinear runs), appending to `out` (a buffer of many rings); returns whether a
/// ring with an area was added (nothing is left in `out` otherwise).
pub fn snap_ring_into(ring: &[[f64; 2]], out: &mut Vec<[i32; 2]>) -> bool {
    let start = out.len();
    for p in ring {
        let q = [p[0].round() as i32, p[1].round() as i32];
        if out.len() > start && out[out.len() - 1] == q {
            continue;
        }
        while out.len() - start >= 2 && collinear(out[out.len() - 2], out[out.len() - 1], q) {
            out.pop();
        }
        if out.len() == start || out[out.len() - 1] != q {
            out.push(q);
        }
    }
    // The closing seam: drop points equal to the first and spikes across the seam.
    loop {
        let r = &out[start..];
        let n = r.len();
        if n < 3 {
            out.truncate(start);
            return false;
        }
        if r[n - 1] == r[0] || collinear(r[n - 2], r[n - 1], r[0]) {
            out.pop();
        } else if collinear(r[n - 1], r[0], r[1]) {
            out.remove(start);
        } else {
            break;
        }
    }
    if twice_area(&out[start..]) == 0.0 {
        out.truncate(start);
        return false;
    }
    true
}

/// Whether `b` lies on the line through `a` and `c` (a straight run or a spike).
#[inline]
fn collinear(a: [i32; 2], b: [i32; 2], c: [i32; 2]) -> bool {
    let cross = i64::from(b[0] - a[0]) * i64::from(c[1] - a[1])
        - i64::from(b[1] - a[1]) * i64::from(c[0] - a[0]);
    cross == 0
}

/// Orients a ring: clockwise on screen (positive area, y down) when `exterior`, else the
/// opposite, as MVT 2.1 §4.3.4.4 requires.
pub fn orient(ring: &mut [[i32; 2]], exterior: bool) {
    if (twice_area(ring) > 0.0) != exterior {
        ring.reverse();
    }
}

/// Whether two boxes `[min_x, min_y, max_x, max_y]` overlap.
#[inline]
pub fn overlaps(a: [f64; 4], b: [f64; 4]) -> bool {
    a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1]
}

/// Whether box `inner` lies within box `outer`.
#[inline]
pub fn within(inner: [f64; 4], outer: [f64; 4]) -> bool {
    inner[0] >= outer[0] && inner[1] >= outer[1] && inner[2] <= outer[2] && inner[3] <= outer[3]
}

/// The bounding box of polygons (their outer rings).
pub fn polygons_bounds(p: &[Vec<Vec<[f64; 2]>>]) -> [f64; 4] {
    p.iter()
        .filter_map(|rings| rings.first())
        .map(|r| ring_bounds(r))
        .fold(
            [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ],
            |a, b| {
                [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ]
            },
        )
}

/// The bounding box of a ring.
pub fn ring_bounds(ring: &[[f64; 2]]) -> [f64; 4] {
    ring.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, p| {
            [
                b[0].min(p[0]),
                b[1].min(p[1]),
                b[2].max(p[0]),
                b[3].max(p[1]),
            ]
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<[f64; 2]> {
        vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    }

    #[test]
    fn a_clockwise_screen_ring_has_positive_area() {
        // (0,0) → (10,0) → (10,10) → (0,10) turns clockwise when y points down.
        let r = square(0.0, 0.0, 10.0, 10.0);
        assert_eq!(twice_area(&r), 200.0);
    }

    #[test]
    fn clipping_a_square_to_a_box_keeps_the_overlap() {
        let r = clip_ring(&square(-5.0, -5.0, 5.0, 5.0), [0.0, 0.0, 10.0, 10.0]);
        assert_eq!(twice_area(&r).abs(), 50.0);
        assert!(r.iter().all(|p| p[0] >= 0.0 && p[1] >= 0.0));
    }

    #[test]
    fn a_ring_outside_the_box_clips_to_nothing() {
        assert!(clip_ring(&square(20.0, 20.0, 30.0, 30.0), [0.0, 0.0, 10.0, 10.0]).len() < 3);
    }

    #[test]
    fn boolean_clipping_splits_a_u_shape_into_two_valid_parts() {
        // A U open to the top, cut below the bottom bar's top: two separate arms remain.
        let u = vec![
            [0.0, 0.0],
            [1.0, 0.0],
            [1.0, 9.0],
            [9.0, 9.0],
            [9.0, 0.0],
            [10.0, 0.0],
            [10.0, 10.0],
            [0.0, 10.0],
        ];
        let parts = clip_polygon(&[u], [-1.0, -1.0, 11.0, 5.0]);
        assert_eq!(parts.len(), 2);
        let area: f64 = parts.iter().map(|p| twice_area(&p[0]).abs()).sum();
        assert_eq!(area, 2.0 * 5.0 * 2.0);
    }

    #[test]
    fn snapping_removes_duplicates_spikes_and_collinear_points() {
        let r = vec![
            [0.2, 0.1],
            [5.0, 0.0],
            [10.0, 0.4],
            [10.0, 10.0],
            [10.0, 15.0],
            [10.0, 10.0],
            [0.0, 10.0],
            [0.1, 0.0],
        ];
        let s = snap_ring(&r).unwrap();
        assert_eq!(s, vec![[0, 0], [10, 0], [10, 10], [0, 10]]);
    }

    #[test]
    fn a_ring_that_snaps_to_a_line_disappears() {
        assert!(snap_ring(&[[0.0, 0.0], [5.0, 0.2], [10.0, 0.1]]).is_none());
    }

    #[test]
    fn orienting_makes_exteriors_positive_and_holes_negative() {
        let mut ext = vec![[0, 0], [0, 10], [10, 10], [10, 0]];
        orient(&mut ext, true);
        assert!(twice_area(&ext) > 0.0);
        orient(&mut ext, false);
        assert!(twice_area(&ext) < 0.0);
    }
}
