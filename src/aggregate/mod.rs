//! The aggregation engine: an in-memory [`Snapshot`] of the records, grouped into H3 cells
//! (resolutions 2–9), states and counties, filtered, and published through the disclosure
//! rules of [`privacy`]. Readers never block: the snapshot is swapped whole after an import.

pub mod classify;
pub mod filter;
pub mod group;
pub mod layer;
pub mod privacy;
pub mod snapshot;
pub mod tally;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

pub use filter::Filter;
pub use layer::{Layer, MetricGroup, Skill, Unit, UnitId};
pub use snapshot::Snapshot;

use crate::error::Error;
use crate::store::{Store, StoreError};
use group::{
    area_table_for, h3_and_state_tallies_for, h3_counts_table_for, AreaTable, H3Table, MAX_RES,
    MIN_RES,
};
use rayon::prelude::*;

/// Layers kept in memory per data version (each is a few MB at most).
const CACHE_ENTRIES: usize = 128;

/// Computes and caches layers over the current snapshot.
pub struct Engine {
    snapshot: ArcSwap<Snapshot>,
    k: u32,
    /// One slot per layer: the first request computes it while later ones for the same
    /// layer wait for that result instead of computing it again (single flight).
    cache: Mutex<HashMap<(Unit, String), Arc<LayerSlot>>>,
}

/// A cached layer, empty while its first request computes it.
type LayerSlot = Mutex<Option<Arc<Layer>>>;

impl Engine {
    /// An engine with an empty snapshot; `k` is the minimum published count.
    pub fn new(k: u32) -> Engine {
        Engine {
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            k: k.max(1),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn min_count(&self) -> u32 {
        self.k
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Replaces the snapshot (readers in flight keep the old one) and drops cached layers.
    pub fn replace(&self, snapshot: Snapshot) {
        self.snapshot.store(Arc::new(snapshot));
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Reloads from the store when its data version moved; returns whether it did.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn refresh(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let version = store.data_version()?;
        if version == self.snapshot().data_version && !(version == 0 && self.snapshot().is_empty())
        {
            return Ok(false);
        }
        let mut records = Vec::with_capacity(store.record_count()? as usize);
        store.load_records(&mut |r| records.push(r))?;
        self.replace(Snapshot::build(records, version));
        Ok(true)
    }

    /// The privacy-checked layer for `unit` and `filter`.
    ///
    /// # Errors
    /// A resolution out of range, or a filter naming a survey round that does not exist.
    pub fn layer(&self, unit: Unit, filter: &Filter) -> Result<Arc<Layer>, Error> {
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
            format!("{}#{}", snap.data_version, filter.canonical()),
        );
        let slot = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= CACHE_ENTRIES && !cache.contains_key(&key) {
                cache.clear();
            }
            cache.entry(key).or_default().clone()
        };
        // Blocking here is safe: callers are tokio's blocking threads, never rayon's
        // workers, which the computing caller needs.
        let mut done = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(layer) = &*done {
            return Ok(layer.clone());
        }
        // On an error the slot stays empty and the next request tries again.
        let layer = Arc::new(compute(&snap, unit, filter, self.k)?);
        *done = Some(layer.clone());
        Ok(layer)
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
            Ok(Layer {
                unit,
                data_version: snap.data_version,
                k,
                ids: finest.ids.iter().map(|c| UnitId::Cell(*c)).collect(),
                tallies: finest.tallies,
                masks: vis.levels.pop().expect("one mask level per level"),
                remit,
                national,
                national_mask: vis.national,
                national_remit,
            })
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
            // Every state is listed (zero is a true figure); counties only where people are.
            let keep: Vec<usize> = (0..tallies.len())
                .filter(|&i| unit == Unit::State || tallies[i].d[tally::N] > 0)
                .collect();
            Ok(Layer {
                unit,
                data_version: snap.data_version,
                k,
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

#[cfg(test)]
mod privacy_tests;
