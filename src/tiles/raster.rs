//! PNG tiles of a [`Source`], drawn with tiny-skia: the choropleth in the legend's colours
//! (the same [`Classification`](crate::aggregate::classify::Classification) object), for
//! clients that cannot draw vectors and for printing. Transparent where there is no unit,
//! so it lies over the basemap.

use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Stroke, Transform};

use super::clip::{clip_ring, overlaps, ring_bounds, within};
use super::mercator::TileId;
use super::source::{Shape, Source};
use crate::error::Error;

/// Side of a tile at scale 1, in pixels (`@2x` doubles it).
pub const TILE_PX: u32 = 256;

/// Radius of a place marker at scale 1, in pixels.
const MARKER_PX: f32 = 4.0;

/// A pixmap for one tile at `scale` (1 or 2).
pub fn canvas(scale: u32) -> Result<Pixmap, Error> {
    Pixmap::new(TILE_PX * scale, TILE_PX * scale)
        .ok_or_else(|| Error::Internal("pixmap allocation".into()))
}

/// Paint of an opaque RGB colour, antialiased.
pub fn paint(rgb: [u8; 3], alpha: u8) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(Color::from_rgba8(rgb[0], rgb[1], rgb[2], alpha));
    p.anti_alias = true;
    p
}

/// Adds a polygon's rings (world units) to `path` in pixel units, clipping rings that
/// reach beyond `clip` (pixels) so tiny-skia never sees far-away coordinates. Sutherland–
/// Hodgman bridges of concave rings lie on the clip box, outside the visible tile.
pub fn add_polygon(
    path: &mut PathBuilder,
    rings: &[Vec<[f64; 2]>],
    t: TileId,
    size: f64,
    world: [f64; 4],
    clip: [f64; 4],
) {
    let Some(exterior) = rings.first() else {
        return;
    };
    let b = ring_bounds(exterior);
    if !overlaps(b, world) {
        return;
    }
    let inside = within(b, world);
    for ring in rings {
        let px: Vec<[f64; 2]> = ring.iter().map(|&p| t.to_tile(p, size)).collect();
        let px = if inside { px } else { clip_ring(&px, clip) };
        if px.len() < 3 {
            continue;
        }
        path.move_to(px[0][0] as f32, px[0][1] as f32);
        for p in &px[1..] {
            path.line_to(p[0] as f32, p[1] as f32);
        }
        path.close();
    }
}

/// Renders the units of `source` in tile `t` as a PNG; `None` when the tile is empty.
///
/// # Errors
/// Only a PNG encoder failure (a bug), reported as internal.
pub fn render(source: &Source, t: TileId, scale: u32) -> Result<Option<Vec<u8>>, Error> {
    let size = f64::from(TILE_PX * scale);
    let s = scale as f32;
    // Pixels drawn beyond the edge: markers and outlines of units just outside still show.
    let buffer = f64::from(MARKER_PX + 2.0) * f64::from(scale);
    let world = t.world_bounds(buffer / size);
    let clip = [-buffer, -buffer, size + buffer, size + buffer];
    let mut pixmap = canvas(scale)?;
    let outline = paint([255, 255, 255], 150);
    let stroke = Stroke {
        width: 0.6 * s,
        ..Stroke::default()
    };
    let mut drawn = 0usize;
    for i in source.select(world) {
        let f = &source.features[i];
        match &f.shape {
            Shape::Polygons(polygons) => {
                let mut pb = PathBuilder::new();
                for rings in polygons {
                    add_polygon(&mut pb, rings, t, size, world, clip);
                }
                let Some(path) = pb.finish() else { continue };
                pixmap.fill_path(
                    &path,
                    &paint(f.fill, 255),
                    FillRule::EvenOdd,
                    Transform::identity(),
                    None,
                );
                pixmap.stroke_path(&path, &outline, &stroke, Transform::identity(), None);
            }
            Shape::Point(p) => {
                let q = t.to_tile(*p, size);
                let Some(path) = PathBuilder::from_circle(q[0] as f32, q[1] as f32, MARKER_PX * s)
                else {
                    continue;
                };
                pixmap.fill_path(
                    &path,
                    &paint(f.fill, 255),
                    FillRule::Winding,
                    Transform::identity(),
                    None,
                );
                let ring = Stroke {
                    width: s,
                    ..Stroke::default()
                };
                pixmap.stroke_path(
                    &path,
                    &paint([255, 255, 255], 255),
                    &ring,
                    Transform::identity(),
                    None,
                );
            }
        }
        drawn += 1;
    }
    if drawn == 0 {
        return Ok(None);
    }
    pixmap
        .encode_png()
        .map(Some)
        .map_err(|e| Error::Internal(format!("PNG encoding: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::mercator::to_world;
    use crate::tiles::source::{Feature, Kind, Source, TagTable};

    fn decode(png: &[u8]) -> Pixmap {
        Pixmap::decode_png(png).expect("a PNG tiny-skia reads back")
    }

    #[test]
    fn a_unit_is_filled_with_its_legend_colour_at_its_centre() {
        let ring = vec![
            to_world(-80.3, 25.7),
            to_world(-80.1, 25.7),
            to_world(-80.1, 25.9),
            to_world(-80.3, 25.9),
        ];
        let f = Feature {
            id: None,
            bounds: ring_bounds(&ring),
            shape: Shape::Polygons(vec![vec![ring]]),
            props: Vec::new(),
            fill: [0x41, 0xb6, 0xc4],
        };
        let s = Source::new("t", Kind::Cells, 1, TagTable::new(), vec![f], None);
        let t = TileId::new(10, 283, 435).unwrap();
        for scale in [1, 2] {
            let img = decode(&render(&s, t, scale).unwrap().unwrap());
            let c = t.to_tile(to_world(-80.2, 25.8), f64::from(TILE_PX * scale));
            let px = img.pixel(c[0] as u32, c[1] as u32).unwrap();
            assert_eq!(
                (px.red(), px.green(), px.blue(), px.alpha()),
                (0x41, 0xb6, 0xc4, 255)
            );
            let corner = img.pixel(0, 0).unwrap();
            assert_eq!(corner.alpha(), 0, "transparent where there is no unit");
        }
        assert!(render(&s, TileId::new(10, 1, 1).unwrap(), 1)
            .unwrap()
            .is_none());
    }
}
