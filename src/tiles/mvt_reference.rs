//! The same tiles through the `mvt` crate: the reference the fast encoder ([`super::encode`]
//! in `src/tiles/mvt.rs`) is tested against, and the baseline of the benchmarks. Not part of
//! the service: `src/tiles/mvt.rs` includes it under `cfg(test)`, `benches/tiles_bench.rs`
//! with `#[path]`, and the `mvt` crate is a dev-dependency.

use mvt::{GeomEncoder, GeomType, Tile};

// The including module provides these (src/tiles/mvt.rs, benches/tiles_bench.rs).
use super::{for_each_feature, Error, Prop, Source, TileId, EXTENT};

fn mvt_error(e: mvt::Error) -> Error {
    Error::Internal(format!("MVT encoding: {e}"))
}

/// Encodes with the `mvt` crate; `None` when no feature touches the tile.
///
/// # Errors
/// An encoder failure (a bug), reported as internal.
pub fn encode(source: &Source, t: TileId) -> Result<Option<Vec<u8>>, Error> {
    let tile = Tile::new(EXTENT);
    let mut layer = Some(tile.create_layer(source.name));
    let mut failure: Option<mvt::Error> = None;
    for_each_feature(source, t, |i, commands, kind| {
        if failure.is_some() {
            return;
        }
        let geom = match decode_commands(commands, kind) {
            Ok(g) => g,
            Err(e) => {
                failure = Some(e);
                return;
            }
        };
        let f = &source.features[i];
        let mut feature = layer.take().expect("layer is put back").into_feature(geom);
        if let Some(id) = f.id {
            feature.set_id(id);
        }
        for &(k, v) in &f.props {
            let key = &source.keys[k as usize];
            match &source.values[v as usize] {
                Prop::Str(s) => feature.add_tag_string(key, s),
                Prop::Uint(u) => feature.add_tag_uint(key, *u),
                Prop::Sint(i) => feature.add_tag_sint(key, *i),
                Prop::Double(d) => feature.add_tag_double(key, *d),
                Prop::Bool(b) => feature.add_tag_bool(key, *b),
            }
        }
        layer = Some(feature.into_layer());
    });
    if let Some(e) = failure {
        return Err(mvt_error(e));
    }
    let layer = layer.expect("layer is put back");
    if layer.num_features() == 0 {
        return Ok(None);
    }
    let mut tile = tile;
    tile.add_layer(layer).map_err(mvt_error)?;
    tile.to_bytes().map(Some).map_err(mvt_error)
}

/// Replays geometry commands into the crate's encoder (absolute integer points).
fn decode_commands(commands: &[u32], kind: u32) -> Result<mvt::GeomData, mvt::Error> {
    let mut enc = GeomEncoder::<i32>::new(if kind == 1 {
        GeomType::Point
    } else {
        GeomType::Polygon
    });
    let (mut x, mut y, mut i) = (0i32, 0i32, 0usize);
    let unzig = |v: u32| ((v >> 1) as i32) ^ -((v & 1) as i32);
    while i < commands.len() {
        let (id, count) = (commands[i] & 7, commands[i] >> 3);
        i += 1;
        if id == 7 {
            enc.complete_geom()?;
            continue;
        }
        for _ in 0..count {
            x += unzig(commands[i]);
            y += unzig(commands[i + 1]);
            i += 2;
            enc.add_point(x, y)?;
        }
    }
    enc.encode()
}
