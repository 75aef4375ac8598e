//! The project's one criterion harness: a module per operation, deterministic inputs.
//!
//! `cargo bench --bench dyaspora -- demo`

use criterion::{criterion_group, criterion_main, Criterion};

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

fn benches(c: &mut Criterion) {
    demo::benches(c);
}

criterion_group!(all, benches);
criterion_main!(all);
