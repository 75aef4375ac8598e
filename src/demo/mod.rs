//! Synthetic demo data: survey records whose geography follows the published distribution
//! of the Haiti-born population in the US, and diaspora associations, all marked as demo.
//!
//! - [`geography`]: state shares, neighbourhood hotspots (real ZIP codes) and the placement
//!   of a record around its ZIP centroid (≤ 1.5 km, staying in the state);
//! - [`people`]: the answers of a respondent, with plausible mixes and correlations;
//! - [`associations`]: about 300 synthetic associations named after real Haitian communes.
//!
//! Generation is deterministic: record `i` of seed `s` depends only on `(s, i)` (its own
//! ChaCha8 stream), so the same seed gives the same records whatever the thread count, and
//! the first `n` records of a larger set are the set of `n`. It runs in parallel (rayon).

pub(crate) mod associations;
pub(crate) mod geography;
pub(crate) mod people;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

use anyhow::Context;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::codes::Codebook;
use crate::geodata::Geodata;
use crate::places::Place;
use crate::record::Record;
use crate::store::{BatchOutcome, NewBatch, Store, StoreError};

use self::geography::Sites;
use self::people::Model;

/// A generated demo data set.
pub struct DemoSet {
    pub records: Vec<Record>,
    pub associations: Vec<Place>,
}

/// Generates `n` records and ~300 associations; the same seed gives the same set.
///
/// External ids are `demo-{seed}-{i}`. The first call also parses the geodata and prepares
/// the ZIP table (≈ 1 s); then a million records take about a second on two cores.
pub fn generate(n: usize, seed: u64) -> DemoSet {
    let geo = Geodata::get();
    let sites = Sites::get();
    let model = Model::new(Codebook::get());
    let base = ChaCha8Rng::seed_from_u64(seed);
    let id_prefix = format!("demo-{seed}-");
    let mut records = Vec::with_capacity(n);
    (0..n)
        .into_par_iter()
        .map(|i| {
            // Stream 0 is the associations'; record i draws from stream i + 1.
            let mut rng = base.clone();
            rng.set_stream(i as u64 + 1);
            let site = sites.sample(&mut rng);
            let at = site.locate(geo, &mut rng);
            model.person(&mut rng, external_id(&id_prefix, i), &site.zip, at)
        })
        .collect_into_vec(&mut records);
    let mut rng = base;
    rng.set_stream(0);
    DemoSet {
        records,
        associations: associations::generate(&mut rng),
    }
}

/// `{prefix}{i}` without the formatting machinery (a measurable share of the generation).
fn external_id(prefix: &str, i: usize) -> String {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut v = i;
    loop {
        start -= 1;
        digits[start] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let mut id = String::with_capacity(prefix.len() + digits.len() - start);
    id.push_str(prefix);
    id.push_str(std::str::from_utf8(&digits[start..]).expect("ASCII digits"));
    id
}

/// The import source name of a demo batch.
pub fn source_name(n: usize, seed: u64) -> String {
    format!("demo:seed={seed}:n={n}")
}

/// Generates the demo set and writes it: the records as one import batch (source
/// `demo:seed=S:n=N`, the SHA-256 of that name), the associations by `upsert_places`.
/// Loading the same seed again adds nothing (the records come back as duplicates).
///
/// # Errors
/// When the store fails; the records are then not written.
pub fn load_into(store: &dyn Store, n: usize, seed: u64) -> Result<BatchOutcome, StoreError> {
    write_set(store, &generate(n, seed), n, seed, &|_| {})
}

fn write_set(
    store: &dyn Store,
    set: &DemoSet,
    n: usize,
    seed: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<BatchOutcome, StoreError> {
    let source_name = source_name(n, seed);
    let batch = NewBatch {
        sha256: hex::encode(Sha256::digest(source_name.as_bytes())),
        source_name,
        rows_total: set.records.len() as u64,
        rows_rejected: 0,
        rows_refused: 0,
    };
    let outcome = store.import_batch(&batch, &set.records, progress)?;
    store.upsert_places(&set.associations)?;
    Ok(outcome)
}

/// `dyaspora demo`: loads the demo set into the store, or with `--csv FILE` writes the
/// records as a KoboToolbox-shaped CSV (the associations are then not written anywhere).
///
/// # Errors
/// When the file cannot be written or the store fails.
pub fn run_demo_command(store: &dyn Store, args: &DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    eprintln!(
        "Generating {} demo records (seed {})…",
        args.records, args.seed
    );
    let set = generate(args.records, args.seed);
    eprintln!(
        "Generated {} records and {} associations in {:.1} s.",
        set.records.len(),
        set.associations.len(),
        started.elapsed().as_secs_f64()
    );
    match &args.csv {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = BufWriter::new(file);
            crate::ingest::export::write_kobo_csv(&set.records, &mut out)
                .and_then(|()| out.flush())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("Wrote {} records to {}.", set.records.len(), path.display());
        }
        None => {
            let bar = indicatif::ProgressBar::new(set.records.len() as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "Writing {bar:40} {pos}/{len} records ({eta})",
                )
                .expect("valid template"),
            );
            let outcome = write_set(store, &set, args.records, args.seed, &|n| {
                bar.set_position(n)
            })?;
            bar.finish_and_clear();
            eprintln!(
                "Loaded {} demo records ({} already there) and {} associations; data version {}.",
                outcome.inserted,
                outcome.duplicates,
                set.associations.len(),
                outcome.data_version
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

/// The arguments of `dyaspora demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Number of synthetic records.
    #[arg(long, default_value_t = 200_000)]
    pub records: usize,
    /// Random seed; the same seed gives the same data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the records as a Kobo-shaped CSV file instead of into the database.
    #[arg(long)]
    pub csv: Option<std::path::PathBuf>,
}
