#![allow(clippy::unwrap_used)] // a test or benchmark may stop at the first surprise
//! Places and outreach benchmarks, a module of the `dyaspora` criterion harness:
//!
//! ```ignore
//! #[path = "places_bench.rs"]
//! mod places_bench;
//! criterion_group!(benches, /* … */ places_bench::nearest, places_bench::outreach_plan);
//! ```
//!
//! Data: the deterministic demo set, `DYASPORA_BENCH_PLACES_RECORDS` records (default
//! 200,000, the service's default demo set), seed 1, with its ~300 demo associations.
//!
//! - `places/nearest_post_every_res7_hexagon`, `places/nearest_association_every_res7_hexagon`:
//!   the nearest consular post (resp. association of any kind) to the centre of every
//!   resolution-7 hexagon holding demo records (target: ≤ 50 ms each, in all);
//! - `outreach_plan/cold`: New York's plan from the snapshot, no cache (res-6 and state
//!   layers computed, catchments assigned, gaps ranked, top 10 with 3 associations each);
//! - `outreach_plan/http`: `GET /api/v1/outreach/plan/HT-CON-NYC?res=6&top=10` on a running
//!   service (layers cached by the engine, as for a repeated request), JSON received.

// Cargo also discovers this file as a bench target of its own (an empty libtest harness).
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::Duration;

use criterion::Criterion;
use dyaspora::aggregate::{compute, Filter, Snapshot, Unit};
use dyaspora::places::outreach::{self, GapQuery, Mode, Target};
use dyaspora::places::{Category, KindFilter, PlaceSet};

fn records() -> usize {
    std::env::var("DYASPORA_BENCH_PLACES_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

fn data() -> &'static (Snapshot, PlaceSet) {
    static D: OnceLock<(Snapshot, PlaceSet)> = OnceLock::new();
    D.get_or_init(|| {
        let set = dyaspora::demo::generate(records(), 1);
        (
            Snapshot::build(set.records, 1),
            PlaceSet::build(set.associations),
        )
    })
}

/// Nearest post and nearest association for every occupied resolution-7 hexagon.
pub fn nearest(c: &mut Criterion) {
    let (snap, set) = data();
    let layer = compute(snap, Unit::H3(7), &Filter::default(), 11).expect("a res-7 layer");
    let hexagons = layer.ids.len();
    eprintln!(
        "places bench: {hexagons} res-7 hexagons, {} places",
        set.len()
    );
    let mut g = c.benchmark_group("places");
    g.sample_size(30).measurement_time(Duration::from_secs(10));
    for (name, filter) in [
        (
            "nearest_post_every_res7_hexagon",
            KindFilter::category(Category::Consular),
        ),
        (
            "nearest_association_every_res7_hexagon",
            KindFilter::category(Category::Association),
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut total = 0.0;
                for i in 0..hexagons {
                    let (lon, lat) = layer.center(i);
                    total += set
                        .nearest_one(lon, lat, filter)
                        .map_or(0.0, |h| h.distance_km);
                }
                total
            })
        });
    }
    g.finish();
}

/// One outreach plan end to end: from the snapshot, and over HTTP.
pub fn outreach_plan(c: &mut Criterion) {
    let (snap, set) = data();
    let mut g = c.benchmark_group("outreach_plan");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let nyc = set.index_of("HT-CON-NYC").expect("the New York post");
    g.bench_function("cold", |b| {
        b.iter(|| {
            let hex = compute(snap, Unit::H3(6), &Filter::default(), 11).expect("layer");
            let states = compute(snap, Unit::State, &Filter::default(), 11).expect("layer");
            let a = outreach::assign(&hex, set, Mode::Nearest);
            let figures = outreach::post_figures(set, Mode::Nearest, &hex, &a, &states);
            let plan = outreach::plan(&hex, set, nyc, &a, &GapQuery::new(Target::Count), 10, 3);
            (figures.len(), plan.len())
        })
    });

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let base = runtime.block_on(async {
        let args = dyaspora::config::ServeArgs {
            demo_records: records(),
            demo_seed: 1,
            // One client asks again and again: the per-client limit is not what is measured.
            rate_limit: 0,
            ..Default::default()
        };
        let app = dyaspora::App::build(&dir.path().join("bench.db"), args)
            .await
            .expect("service starts");
        let base = format!("http://{}", app.local_addr());
        tokio::spawn(app.run_until_stopped());
        base
    });
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/outreach/plan/HT-CON-NYC?res=6&top=10");
    g.bench_function("http", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let r = client.get(&url).send().await.expect("a response");
                assert_eq!(r.status(), 200);
                r.bytes().await.expect("a body").len()
            })
        })
    });
    g.finish();
}
