//! The aggregation engine: an in-memory [`Snapshot`] of the records, grouped into H3 cells
//! (resolutions 2–9), states and counties, filtered, and published through the disclosure
//! rules of [`privacy`]. Readers never block: the snapshot is swapped whole after an import.

pub(crate) mod classify;
pub(crate) mod filter;
pub mod group;
pub(crate) mod layer;
pub mod perturb;
pub mod privacy;
pub mod snapshot;
pub mod tally;

use std::sync::Arc;

use arc_swap::ArcSwap;

pub use filter::Filter;
pub use layer::{Layer, MetricGroup, Skill, Unit, UnitId};
pub use snapshot::Snapshot;

use crate::error::Error;
use crate::store::{Release, Store, StoreError};
use group::{
    area_table_for, h3_and_state_tallies_for, h3_counts_table_for, AreaTable, H3Table, MAX_RES,
    MIN_RES,
};
use perturb::{NoiseParams, PTable};
use rayon::prelude::*;

/// Layers kept in memory per data version (each is a few MB at most).
const CACHE_ENTRIES: usize = 128;

/// Which figures a layer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Figures {
    /// Perturbed and suppressed: what anyone may see.
    Public,
    /// Suppressed but not perturbed: for admins only.
    Exact,
}

/// Computes and caches layers over the current snapshot.
pub struct Engine {
    snapshot: ArcSwap<Snapshot>,
    k: u32,
    noise: Arc<PTable>,
    /// The least time between two releases.
    release_interval: std::time::Duration,
    /// Layers of the current snapshot (a `quick_cache` of [`CACHE_ENTRIES`]): the first
    /// request computes a layer while later ones for the same layer wait for that result
    /// instead of computing it again (single flight, `get_or_insert_with`).
    cache: quick_cache::sync::Cache<(Unit, Figures, String), Arc<Layer>>,
}

impl Engine {
    /// An engine with an empty snapshot; `k` is the minimum published count; the default
    /// perturbation.
    pub fn new(k: u32) -> Engine {
        let table = PTable::new(NoiseParams::default()).expect("the default table is valid");
        Engine::with_noise(k, table)
    }

    /// An engine publishing through this perturbation table.
    pub fn with_noise(k: u32, noise: PTable) -> Engine {
        Engine {
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            k: k.max(1),
            noise: Arc::new(noise),
            release_interval: std::time::Duration::ZERO,
            cache: quick_cache::sync::Cache::new(CACHE_ENTRIES),
        }
    }

    pub fn min_count(&self) -> u32 {
        self.k
    }

    /// The least time between two releases.
    pub fn release_interval(&self) -> std::time::Duration {
        self.release_interval
    }

    /// The perturbation table of the public figures.
    pub fn noise(&self) -> &PTable {
        &self.noise
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Replaces the snapshot (readers in flight keep the old one) and drops cached layers.
    pub fn replace(&self, snapshot: Snapshot) {
        self.snapshot.store(Arc::new(snapshot));
        self.cache.clear();
    }

    /// Publishes through releases cut at most once per `interval` (see [`Engine::refresh`]).
    pub fn releasing_every(mut self, interval: std::time::Duration) -> Engine {
        self.release_interval = interval;
        self
    }

    /// Cuts a release when one is due and loads the newest release's records when they are
    /// not the snapshot's; returns whether the snapshot was replaced.
    ///
    /// A release is due when the store changed since the last one and `interval` has passed
    /// (the first release at once). Records imported in between wait for it; an erasure
    /// reaches the stored records at once and the published figures with the next release
    /// (at once when the release must be loaded again, e.g. after a restart, since its
    /// figures can no longer be rebuilt as they were).
    ///
    /// # Errors
    /// When the store cannot be read or written.
    pub fn refresh(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let version = store.data_version()?;
        let current = self.snapshot();
        let mut release = store.latest_release()?;
        let reason = match &release {
            None if store.record_count()? > 0 => Some("first"),
            None => None,
            Some(r) if r.data_version == version => None,
            Some(r)
                if now.saturating_sub(r.cut_at)
                    >= self.release_interval.as_secs().min(i64::MAX as u64) as i64 =>
            {
                Some("scheduled")
            }
            Some(r)
                if current.data_version != r.id
                    && store.count_records_upto(r.max_record_id)? < r.records =>
            {
                Some("erasure")
            }
            Some(_) => None,
        };
        if let Some(reason) = reason {
            match store.cut_release(reason, now) {
                Ok(cut) => {
                    tracing::info!(
                        release = cut.id,
                        records = cut.records,
                        reason,
                        "release cut"
                    );
                    release = Some(cut);
                }
                // A read-only database cannot change, so it is published as it stands, with
                // the keys of release 0 (the same on every start).
                Err(StoreError::NotWritable(e)) if release.is_none() => {
                    tracing::warn!(error = %e, "read-only database: publishing it as release 0");
                    release = Some(Release {
                        id: 0,
                        cut_at: now,
                        max_record_id: i64::MAX,
                        records: store.record_count()?,
                        data_version: version,
                        reason: "read-only".into(),
                    });
                }
                Err(StoreError::NotWritable(e)) => {
                    tracing::warn!(error = %e, "read-only database: the last release stays");
                }
                Err(e) => return Err(e),
            }
        }
        let Some(release) = release else {
            return Ok(false);
        };
        if current.data_version == release.id && (!current.is_empty() || release.records == 0) {
            return Ok(false);
        }
        let secret = store.perturbation_secret()?;
        let mut records = Vec::with_capacity(release.records as usize);
        let mut ids = Vec::with_capacity(release.records as usize);
        store.load_released(release.max_record_id, &mut |id, r| {
            ids.push(id);
            records.push(r);
        })?;
        let keys: Vec<u8> = ids
            .par_iter()
            .map(|&id| perturb::record_key(&secret, id, release.id))
            .collect();
        self.replace(Snapshot::build_keyed(records, keys, release.id));
        Ok(true)
    }

    /// The public layer for `unit` and `filter`: suppressed and perturbed.
    ///
    /// # Errors
    /// A resolution out of range, or a filter naming a survey round that does not exist.
    pub fn layer(&self, unit: Unit, filter: &Filter) -> Result<Arc<Layer>, Error> {
        self.layer_of(unit, filter, Figures::Public)
    }

    /// The layer for `unit` and `filter` with the figures asked for.
    ///
    /// # Errors
    /// As [`Engine::layer`].
    pub fn layer_of(
        &self,
        unit: Unit,
        filter: &Filter,
        figures: Figures,
    ) -> Result<Arc<Layer>, Error> {
        if let Unit::H3(r) = unit {
            if !(MIN_RES..=MAX_RES).contains(&r) {
                return Err(Error::invalid(
                    "res",
                    format!("H3 resolution must be {MIN_RES} to {MAX_RES}"),
                ));
            }
        }
        let snap = self.snapshot();
        let key = (
            unit,
            figures,
            format!("{}#{}", snap.data_version, filter.canonical()),
        );
        // Blocking here is safe: callers are tokio's blocking threads, never rayon's
        // workers, which the computing caller needs. An error is not cached: the next
        // request tries again.
        self.cache.get_or_insert_with(&key, || {
            let exact = compute(&snap, unit, filter, self.k)?;
            Ok(Arc::new(match figures {
                Figures::Public => publish(exact, &self.noise),
                Figures::Exact => exact,
            }))
        })
    }
}

/// Computes a layer without caching.
///
/// # Errors
/// A filter naming a survey round that does not exist.
pub fn compute(snap: &Snapshot, unit: Unit, filter: &Filter, k: u32) -> Result<Layer, Error> {
    let m = filter.compile(snap)?;
    // The same query without each of its filters (rule 6); a one-filter query's relaxed
    // counterpart is the unfiltered one, memoised on the snapshot.
    let relaxed: Vec<(Filter, filter::Matcher)> = filter
        .fields()
        .into_iter()
        .map(|f| {
            let without = filter.without(f);
            let m = without.compile(snap)?;
            Ok((without, m))
        })
        .collect::<Result<_, Error>>()?;
    match unit {
        Unit::H3(res) => {
            let ((table, states), relaxed_tables) = rayon::join(
                || h3_and_state_tallies_for(snap, filter, &m, res, k),
                || {
                    relaxed
                        .par_iter()
                        .map(|(f, r)| h3_counts_table_for(snap, f, r, res, k))
                        .collect::<Vec<_>>()
                },
            );
            let relaxed_refs: Vec<&H3Table> = relaxed_tables.iter().map(|t| &**t).collect();
            let mut vis = privacy::suppress_h3(&table, &relaxed_refs, &states, k);
            // A filtered table is this layer's alone: its finest level moves into the layer
            // (at resolution 9 a copy would be hundreds of MB); a memoised one is copied.
            let national_remit = table.national_remit;
            let finest_masks = vis.levels.pop().expect("one mask level per level");
            let (national, finest, remit) = match Arc::try_unwrap(table) {
                Ok(mut t) => (
                    t.national,
                    t.levels.pop().expect("at least one level"),
                    t.remit,
                ),
                Err(shared) => (
                    shared.national.clone(),
                    shared.levels.last().expect("at least one level").clone(),
                    shared.remit.clone(),
                ),
            };
            let layer = Layer {
                unit,
                data_version: snap.data_version,
                k,
                perturbed: false,
                ids: finest.ids.iter().map(|c| UnitId::Cell(*c)).collect(),
                tallies: finest.tallies,
                masks: finest_masks,
                remit,
                national,
                national_mask: vis.national,
                national_remit,
            };
            Ok(layer.published_only())
        }
        Unit::State | Unit::County => {
            let (table, relaxed_tables) = rayon::join(
                || area_table_for(snap, filter, &m),
                || {
                    relaxed
                        .par_iter()
                        .map(|(f, r)| area_table_for(snap, f, r))
                        .collect::<Vec<_>>()
                },
            );
            let relaxed_refs: Vec<&AreaTable> = relaxed_tables.iter().map(|t| &**t).collect();
            let vis = privacy::suppress_areas(&table, &relaxed_refs, group::county_states(), k);
            let (tallies, masks, remit) = if unit == Unit::State {
                (&table.states, &vis.states, &table.state_remit)
            } else {
                (&table.counties, &vis.counties, &table.county_remit)
            };
            // Every state is listed (zero is a true figure); a county only when it publishes
            // a count above zero (see `Layer::published_only`).
            let keep: Vec<usize> = (0..tallies.len())
                .filter(|&i| {
                    unit == Unit::State
                        || (privacy::is_visible(masks[i], tally::N) && tallies[i].d[tally::N] > 0)
                })
                .collect();
            Ok(Layer {
                unit,
                data_version: snap.data_version,
                k,
                perturbed: false,
                ids: keep.iter().map(|&i| UnitId::Area(i)).collect(),
                tallies: keep.iter().map(|&i| tallies[i].clone()).collect(),
                masks: keep.iter().map(|&i| masks[i]).collect(),
                remit: keep.iter().map(|&i| remit[i]).collect(),
                national: table.national.clone(),
                national_mask: vis.national,
                national_remit: table.national_remit,
            })
        }
    }
}

/// The public version of an exact layer: every count perturbed through `noise` (see
/// [`perturb`]), then the k threshold applied again to what is published; a unit whose
/// published count falls below k publishes nothing and, but for states, is left out.
pub fn publish(mut layer: Layer, noise: &PTable) -> Layer {
    let k = layer.k;
    assert_eq!(
        layer.remit.len(),
        layer.ids.len(),
        "remittance stats per unit"
    );
    let perturb =
        |t: &mut tally::Tally, stats: &mut group::RemitStats, mask: &mut tally::DimMask| {
            // Dominance is judged on the exact total: a total one or two people dominate
            // stays hidden however the noise moves it (a zero total is never published).
            let sum_ok = privacy::remit_sum_publishable(t, *mask, stats);
            noise.perturb_tally(t, stats);
            if !sum_ok {
                t.remit_cents = 0;
            }
            *mask &= privacy::primary(t, k);
            if !privacy::is_visible(*mask, tally::N) {
                *mask = 0;
            }
        };
    layer
        .tallies
        .par_iter_mut()
        .zip(layer.remit.par_iter_mut())
        .zip(layer.masks.par_iter_mut())
        .for_each(|((t, stats), mask)| {
            if *mask != 0 {
                perturb(t, stats, mask);
            }
        });
    if layer.national_mask != 0 {
        perturb(
            &mut layer.national,
            &mut layer.national_remit,
            &mut layer.national_mask,
        );
    }
    layer.perturbed = true;
    layer.published_only()
}

#[cfg(test)]
mod privacy_tests;
#[cfg(test)]
mod release_tests;
