#![allow(clippy::unwrap_used)] // a test or benchmark may stop at the first surprise
//! The project's one criterion harness: a module per operation, deterministic inputs.
//!
//! ```text
//! cargo bench --bench dyaspora                     # everything
//! cargo bench --bench dyaspora -- aggregation      # one group
//! ```
//!
//! `DYASPORA_BENCH_RECORDS` sets the size of the demo set for the store, aggregation and
//! layer groups (default 1,000,000).

use criterion::{criterion_group, criterion_main, Criterion};

/// The binary's allocator (src/main.rs), so the figures are those of the service.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "places_bench.rs"]
mod places_bench;
#[path = "tiles_bench.rs"]
mod tiles_bench;

mod demo {
    use std::hint::black_box;

    use criterion::{BenchmarkId, Criterion, Throughput};
    use dyaspora::demo::generate;

    /// Generating the demo set (records and associations); the geodata and the ZIP table
    /// are prepared once before measuring.
    pub fn benches(c: &mut Criterion) {
        black_box(generate(1, 1));
        let mut group = c.benchmark_group("demo");
        group.sample_size(10);
        for n in [10_000usize, 100_000, 1_000_000] {
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("generate", n), &n, |b, &n| {
                b.iter(|| generate(black_box(n), 1))
            });
        }
        group.finish();
    }
}

mod store {
    use criterion::{BatchSize, Criterion, Throughput};
    use dyaspora::store::{NewBatch, SliceFeed, SqliteStore, Store};
    use rand::{Rng, SeedableRng};

    /// The SQLite batch write alone (one transaction, WAL, `synchronous=FULL`) of the demo
    /// records into an empty database file: the floor under an import's wall time, since
    /// the store's single writer is its critical path. Measured with the demo's ids
    /// (`demo-1-0`, `demo-1-1`…, nearly in order) and with random UUIDs as in a Kobo export,
    /// each written as a bulk load (the unique index built again at the end, what the
    /// store does for a batch larger than the table) and one key at a time into the index
    /// (what it does for a smaller batch).
    pub fn benches(c: &mut Criterion) {
        let n = super::data::records();
        let demo_ids = dyaspora::demo::generate(n, 1).records;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut kobo_ids = demo_ids.clone();
        for r in &mut kobo_ids {
            r.external_id = uuid_v4(rng.random());
        }
        let mut g = c.benchmark_group("store");
        g.sample_size(10).throughput(Throughput::Elements(n as u64));
        for (ids, records) in [("demo_ids", &demo_ids), ("kobo_uuids", &kobo_ids)] {
            for bulk in [true, false] {
                let how = if bulk { "bulk" } else { "key_by_key" };
                g.bench_function(format!("write_batch/{ids}/{how}/{n}"), |b| {
                    b.iter_batched(
                        || {
                            let dir = tempfile::tempdir().expect("a temporary directory");
                            let store =
                                SqliteStore::open(&dir.path().join("bench.db")).expect("a store");
                            (dir, store)
                        },
                        |(dir, store)| {
                            let progress = |_: u64| {};
                            let mut feed = SliceFeed::new(batch(n), records, &progress)
                                .expecting(bulk.then_some(u64::MAX));
                            let outcome = store.write_batch(&mut feed).expect("written");
                            assert_eq!(outcome.map(|o| o.inserted), Some(n as u64));
                            (dir, store) // dropped outside the measurement
                        },
                        BatchSize::PerIteration,
                    )
                });
            }
        }
        g.finish();
    }

    fn batch(n: usize) -> NewBatch {
        NewBatch {
            source_name: "bench".into(),
            sha256: String::new(),
            rows_total: n as u64,
            rows_rejected: 0,
            rows_refused: 0,
        }
    }

    /// A UUID version 4 from 128 random bits, as Kobo's `_uuid`.
    fn uuid_v4(bits: u128) -> String {
        let bits = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
        let hex = format!("{bits:032x}");
        let at = |a: usize, b: usize| &hex[a..b];
        format!(
            "{}-{}-{}-{}-{}",
            at(0, 8),
            at(8, 12),
            at(12, 16),
            at(16, 20),
            at(20, 32)
        )
    }
}

/// The demo set shared by the aggregation and layer groups: records' coordinates (for the
/// cold path) and the snapshot the service holds.
mod data {
    use std::sync::OnceLock;

    use dyaspora::aggregate::Snapshot;

    pub struct Data {
        pub lat: Vec<f64>,
        pub lon: Vec<f64>,
        pub snapshot: Snapshot,
    }

    pub fn records() -> usize {
        std::env::var("DYASPORA_BENCH_RECORDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000)
    }

    pub fn get() -> &'static Data {
        static D: OnceLock<Data> = OnceLock::new();
        D.get_or_init(|| {
            let records = dyaspora::demo::generate(records(), 1).records;
            let lat = records.iter().map(|r| r.lat).collect();
            let lon = records.iter().map(|r| r.lon).collect();
            // Record keys as a release draws them (their values do not change the work).
            let secret = [7u8; 32];
            let keys = (0..records.len() as i64)
                .map(|id| dyaspora::aggregate::perturb::record_key(&secret, id, 1))
                .collect();
            let snapshot = Snapshot::build_keyed(records, keys, 1);
            eprintln!(
                "bench data: {} records, snapshot {} bytes on the heap ({:.1} bytes/record)",
                snapshot.len(),
                snapshot.heap_bytes(),
                snapshot.heap_bytes() as f64 / snapshot.len().max(1) as f64
            );
            Data { lat, lon, snapshot }
        })
    }
}

mod aggregation {
    use std::hint::black_box;
    use std::time::Duration;

    use criterion::{Criterion, Throughput};
    use dyaspora::aggregate::group::full_counts;
    use dyaspora::aggregate::perturb::{NoiseParams, PTable};
    use dyaspora::aggregate::{compute, publish, Filter, Unit};

    fn filter(pairs: &[(&str, &str)]) -> Filter {
        Filter::from_params(pairs.iter().copied()).expect("a valid filter")
    }

    pub fn benches(c: &mut Criterion) {
        let d = super::data::get();
        let mut g = c.benchmark_group("aggregation");
        g.sample_size(10).measurement_time(Duration::from_secs(10));
        g.throughput(Throughput::Elements(d.snapshot.len() as u64));

        // The cold path, the same work as benches/python/aggregate_h3_pandas.py: the
        // resolution-9 cell of every record from its coordinates, counts at resolutions 2–9,
        // per state and per county.
        g.bench_function("full_from_coordinates_all_res_states_counties", |b| {
            b.iter(|| {
                full_counts(
                    black_box(&d.lat),
                    black_box(&d.lon),
                    &d.snapshot.state,
                    &d.snapshot.county,
                )
            })
        });

        // Re-aggregation after a filter change, from the cells computed at import, privacy
        // rules and perturbation included: what the map waits for when a filter changes.
        let table = PTable::new(NoiseParams::default()).expect("the default table");
        let women = filter(&[("gender", "f")]);
        let health = filter(&[("sector", "Q")]);
        let women_health = filter(&[("gender", "f"), ("sector", "Q")]);
        for (name, unit, f) in [
            (
                "layer_res6_all_with_privacy",
                Unit::H3(6),
                Filter::default(),
            ),
            ("layer_res6_women_with_privacy", Unit::H3(6), women.clone()),
            ("layer_res9_women_with_privacy", Unit::H3(9), women.clone()),
            (
                "layer_res6_women_health_with_privacy",
                Unit::H3(6),
                women_health,
            ),
            ("layer_states_women_with_privacy", Unit::State, women),
            ("layer_counties_health_with_privacy", Unit::County, health),
        ] {
            g.bench_function(name, |b| {
                b.iter(|| {
                    let exact = compute(&d.snapshot, unit, black_box(&f), 11).expect("a layer");
                    publish(exact, &table)
                })
            });
        }
        g.finish();
    }
}

mod layers {
    use std::time::Duration;

    use criterion::Criterion;
    use dyaspora::aggregate::{compute, Unit};
    use dyaspora::publish::geojson::layer_collection as to_geojson;
    use dyaspora::publish::{classify, selected_units, LayerRequest};

    /// The whole-US resolution-6 GeoJSON from a computed (cached) layer: selecting units,
    /// classifying the metric, building and serialising the FeatureCollection.
    pub fn benches(c: &mut Criterion) {
        let d = super::data::get();
        let pairs = [
            ("unit".to_string(), "h3".to_string()),
            ("res".to_string(), "6".to_string()),
        ];
        let req = LayerRequest::from_pairs(&pairs, &[]).expect("a valid request");
        let layer = compute(&d.snapshot, Unit::H3(6), &req.filter, 11).expect("a layer");
        let mut g = c.benchmark_group("layers");
        g.sample_size(20).measurement_time(Duration::from_secs(10));
        let units = selected_units(&layer, None);
        let bytes = to_geojson(
            &layer,
            &units,
            &req,
            &classify(&layer, &units, &req).unwrap(),
            serde_json::Value::Null,
        )
        .len();
        eprintln!(
            "layers bench: res-6 whole US, {} published hexagons, {bytes} bytes",
            units.len()
        );
        g.bench_function("geojson_res6_whole_us_cached_layer", |b| {
            b.iter(|| {
                let units = selected_units(&layer, None);
                let classification = classify(&layer, &units, &req).expect("a metric");
                to_geojson(
                    &layer,
                    &units,
                    &req,
                    &classification,
                    serde_json::Value::Null,
                )
                .len()
            })
        });
        g.finish();
    }
}

fn benches(c: &mut Criterion) {
    demo::benches(c);
    store::benches(c);
    aggregation::benches(c);
    layers::benches(c);
}

criterion_group!(all, benches);
criterion_group!(places, places_bench::nearest, places_bench::outreach_plan);
criterion_group!(tiles, tiles_bench::benches);
criterion_main!(all, places, tiles);
