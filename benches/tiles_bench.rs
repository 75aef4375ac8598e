#![allow(clippy::unwrap_used)] // a test or benchmark may stop at the first surprise
//! Tile benchmarks, a module of the `dyaspora` criterion harness:
//!
//! ```ignore
//! #[path = "tiles_bench.rs"]
//! mod tiles_bench;
//! criterion_group!(benches, /* … */ tiles_bench::benches);
//! ```
//!
//! Data: the deterministic demo set, `DYASPORA_BENCH_TILES_RECORDS` records (default
//! 1,000,000, the load test's set), seed 1, k = 11. Layers and tile sources are prepared
//! before measuring (as a running service holds them); each benchmark cuts tiles without
//! the tile cache, except `tiles/cache_hit`.
//!
//! - `tiles/source/*`: preparing a tile source from a computed layer (projection, properties,
//!   classification, R-tree);
//! - `tiles/mvt/*`: one vector tile (Miami at zooms 7 and 10, rural Kansas at 10, states at 4,
//!   counties at 8), uncompressed; `tiles/mvt_crate/*`: the same tiles through the `mvt`
//!   crate (the reference encoder), the baseline that justifies the hand-written one;
//! - `tiles/sweep_conus_z3_z10`: every hexagon tile covering the continental US from zoom 3
//!   to 10, uncompressed (the load test's list, without HTTP);
//! - `tiles/png/*`, `tiles/basemap/*`: raster tiles including PNG encoding;
//! - `tiles/gzip`, `tiles/brotli`: compressing the dense Miami z10 tile;
//! - `tiles/cache_hit`: a lookup in a warm tile cache.

// Cargo also discovers this file as a bench target of its own (an empty libtest harness).
#![allow(dead_code)]

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use dyaspora::aggregate::{Engine, Snapshot, Unit};
use dyaspora::publish::LayerRequest;
use dyaspora::tiles::cache::{Cached, Encoding, TileKey};
use dyaspora::tiles::mercator::{tiles_covering, to_world};
use dyaspora::tiles::mvt::{for_each_feature, EXTENT};
use dyaspora::tiles::source::Prop;
use dyaspora::tiles::source::{build_aggregate, Source};
use dyaspora::tiles::{basemap, hexagon_res, mvt, raster, TileCache, TileId};
use dyaspora::Error;

/// The reference encoder (the `mvt` crate), the one the unit tests compare ours with.
#[path = "../src/tiles/mvt_reference.rs"]
mod mvt_reference;

fn records() -> usize {
    std::env::var("DYASPORA_BENCH_TILES_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let engine = Engine::new(11);
        engine.replace(Snapshot::build(
            dyaspora::demo::generate(records(), 1).records,
            1,
        ));
        engine
    })
}

fn request() -> LayerRequest {
    LayerRequest::from_pairs(&[], &[]).expect("the default request parses")
}

fn source(unit: Unit) -> &'static Source {
    static S: OnceLock<std::sync::Mutex<Vec<(Unit, &'static Source)>>> = OnceLock::new();
    let cell = S.get_or_init(Default::default);
    let mut v = cell.lock().unwrap();
    if let Some((_, s)) = v.iter().find(|(u, _)| *u == unit) {
        return s;
    }
    let s: &'static Source = Box::leak(Box::new(
        build_aggregate(engine(), unit, &request()).expect("source builds"),
    ));
    v.push((unit, s));
    s
}

fn tile_at(lon: f64, lat: f64, z: u8) -> TileId {
    let w = to_world(lon, lat);
    let n = f64::from(1u32 << z);
    TileId::new(z, (w[0] * n) as u32, (w[1] * n) as u32).expect("a tile")
}

const MIAMI: (f64, f64) = (-80.19, 25.83);
const KANSAS: (f64, f64) = (-99.0, 38.5);
const CONUS: [f64; 4] = [-125.0, 24.4, -66.9, 49.4];

pub fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("tiles");
    g.sample_size(20).measurement_time(Duration::from_secs(5));

    let layer = engine()
        .layer(Unit::H3(8), &request().filter)
        .expect("layer");
    g.bench_function("source/hexagons_res8", |b| {
        b.iter(|| dyaspora::tiles::source::from_layer(black_box(&layer), &request()).unwrap())
    });

    let cases = [
        (
            "mvt/hexagons_miami_z7",
            Unit::H3(hexagon_res(7)),
            tile_at(MIAMI.0, MIAMI.1, 7),
        ),
        (
            "mvt/hexagons_miami_z10",
            Unit::H3(hexagon_res(10)),
            tile_at(MIAMI.0, MIAMI.1, 10),
        ),
        (
            "mvt/hexagons_kansas_z10",
            Unit::H3(hexagon_res(10)),
            tile_at(KANSAS.0, KANSAS.1, 10),
        ),
        ("mvt/states_z4", Unit::State, tile_at(MIAMI.0, MIAMI.1, 4)),
        (
            "mvt/counties_z8",
            Unit::County,
            tile_at(MIAMI.0, MIAMI.1, 8),
        ),
    ];
    for (name, unit, t) in cases {
        let s = source(unit);
        g.bench_function(name, |b| b.iter(|| mvt::encode(s, black_box(t)).unwrap()));
        let baseline = name.replace("mvt/", "mvt_crate/");
        g.bench_function(baseline, |b| {
            b.iter(|| mvt_reference::encode(s, black_box(t)).unwrap())
        });
    }

    let sweep: Vec<TileId> = (3..=10).flat_map(|z| tiles_covering(CONUS, z)).collect();
    let sources: Vec<&Source> = (3..=10).map(|z| source(Unit::H3(hexagon_res(z)))).collect();
    g.throughput(Throughput::Elements(sweep.len() as u64));
    g.sample_size(10);
    g.bench_function("sweep_conus_z3_z10", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for t in &sweep {
                let s = sources[(t.z - 3) as usize];
                bytes += mvt::encode(s, *t).unwrap().map_or(0, |v| v.len());
            }
            bytes
        })
    });
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);

    let hex7 = source(Unit::H3(hexagon_res(7)));
    let t7 = tile_at(MIAMI.0, MIAMI.1, 7);
    g.bench_function("png/hexagons_miami_z7", |b| {
        b.iter(|| raster::render(hex7, black_box(t7), 1).unwrap())
    });
    g.bench_function("png/hexagons_miami_z7@2x", |b| {
        b.iter(|| raster::render(hex7, black_box(t7), 2).unwrap())
    });
    let states = source(Unit::State);
    let t4 = tile_at(MIAMI.0, MIAMI.1, 4);
    g.bench_function("png/states_z4", |b| {
        b.iter(|| raster::render(states, black_box(t4), 1).unwrap())
    });
    let t5 = tile_at(MIAMI.0, MIAMI.1, 5);
    black_box(basemap::render(t5, 1).unwrap());
    g.bench_function("basemap/florida_z5", |b| {
        b.iter(|| basemap::render(black_box(t5), 1).unwrap())
    });
    let t8 = tile_at(-73.95, 40.65, 8);
    g.bench_function("basemap/new_york_z8", |b| {
        b.iter(|| basemap::render(black_box(t8), 1).unwrap())
    });

    let dense = mvt::encode(
        source(Unit::H3(hexagon_res(10))),
        tile_at(MIAMI.0, MIAMI.1, 10),
    )
    .unwrap()
    .unwrap_or_default();
    g.throughput(Throughput::Bytes(dense.len() as u64));
    g.bench_function("gzip", |b| {
        b.iter(|| Encoding::Gzip.compress(black_box(&dense)))
    });
    g.bench_function("brotli", |b| {
        b.iter(|| Encoding::Brotli.compress(black_box(&dense)))
    });

    g.throughput(Throughput::Elements(1));
    let cache = TileCache::with_megabytes(64, None);
    let paths: Vec<String> = sweep
        .iter()
        .map(|t| format!("/tiles/hexagons/{}/{}/{}.mvt", t.z, t.x, t.y))
        .collect();
    for p in &paths {
        let key = TileKey {
            version: 1,
            encoding: Encoding::Identity,
            path: p,
            query: "",
        };
        cache.insert(
            &key,
            Cached {
                body: Some(dense.clone().into()),
                etag: axum::http::HeaderValue::from_static("\"x\""),
            },
        );
    }
    let mut i = 0usize;
    g.bench_function("cache_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % paths.len();
            let key = TileKey {
                version: 1,
                encoding: Encoding::Identity,
                path: &paths[i],
                query: "",
            };
            black_box(cache.get(&key))
        })
    });
    g.finish();
}
